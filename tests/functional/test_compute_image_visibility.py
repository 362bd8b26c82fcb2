"""Which images a server may use: boot, rebuild and rescue follow the image service's one visibility rule.

Glance lets a project use its own images, public and community ones, and images shared with it; the
compute API must agree for every action that names an image, not only for boot. The images here belong
to the admin project; `demo` is an ordinary member of another project.
"""

from __future__ import annotations

from typing import Any

import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from tests.support.cloud import IMAGE_ID, TINY
from tests.support.compute_api import INTERVAL, WAIT_SECONDS, settled


def _image(admin: Connection, name: str, visibility: str) -> Any:
    return admin.image.create_image(
        name, data=b"disk bytes" * 100, disk_format="raw", container_format="bare", visibility=visibility
    )


@pytest.fixture(scope="module")
def shared_image(admin: Connection, demo: Connection) -> Any:
    image = _image(admin, "visibility.shared", "shared")
    admin.image.add_member(image, member_id=demo.current_project_id)
    demo.image.update_member(demo.current_project_id, image, status="accepted")
    return image


@pytest.fixture(scope="module")
def community_image(admin: Connection) -> Any:
    return _image(admin, "visibility.community", "community")


@pytest.fixture(scope="module")
def private_image(admin: Connection) -> Any:
    return _image(admin, "visibility.private", "private")


def _boot(conn: Connection, name: str, image_id: str) -> Any:
    created = conn.compute.create_server(name=name, image_id=image_id, flavor_id=TINY, networks="none")
    return settled(conn, created.id, "ACTIVE")


def _delete(conn: Connection, server: Any) -> None:
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)


@pytest.mark.parametrize("which", ["shared_image", "community_image"])
def test_an_image_a_project_may_boot_it_may_also_rebuild_and_rescue_with(
    demo: Connection, which: str, request: pytest.FixtureRequest
) -> None:
    image = request.getfixturevalue(which)
    booted = _boot(demo, f"boot-{which}", image.id)
    assert booted.image["id"] == image.id
    _delete(demo, booted)

    server = _boot(demo, f"rebuild-{which}", IMAGE_ID)
    demo.compute.rebuild_server(server, image.id)
    assert settled(demo, server.id, "ACTIVE").image["id"] == image.id
    demo.compute.rescue_server(server, image=image.id)
    settled(demo, server.id, "RESCUE")
    demo.compute.unrescue_server(server)
    settled(demo, server.id, "ACTIVE")
    _delete(demo, server)


def test_an_image_another_project_keeps_private_is_refused_everywhere(
    demo: Connection, private_image: Any
) -> None:
    with pytest.raises(sdk_exceptions.BadRequestException, match="Can not find requested image"):
        demo.compute.create_server(name="refused", image_id=private_image.id, flavor_id=TINY, networks="none")
    server = _boot(demo, "refuser", IMAGE_ID)
    with pytest.raises(sdk_exceptions.BadRequestException, match="Can not find requested image"):
        demo.compute.rebuild_server(server, private_image.id)
    with pytest.raises(sdk_exceptions.BadRequestException, match="Can not find requested image"):
        demo.compute.rescue_server(server, image=private_image.id)
    assert settled(demo, server.id, "ACTIVE").image["id"] == IMAGE_ID
    _delete(demo, server)
