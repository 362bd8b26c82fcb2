"""Compute 2.20 through openstacksdk: volumes attached to and detached from a shelved or shelved-offloaded
server, and connected on the host that unshelves it (two fake compute hosts, one volume host)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from tests.functional.test_volume_attachments import VolumeCloud
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.waiting import wait_until

WAIT: dict[str, Any] = {"interval": 0.1, "wait": 30}
HOSTS = ("compute-1", "compute-2")


class ShelvingCloud(VolumeCloud):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, HOSTS)

    def connect(self, user: str, compute_version: str) -> Connection:
        """openstacksdk pinned to one compute microversion, as `compute_api_version` in clouds.yaml."""
        return openstack.connect(
            auth_url=f"{self.cloud.base_url}/identity", username=user, password=self.cloud.password(user),
            project_name=user, user_domain_name="Default", project_domain_name="Default",
            region_name="RegionOne", identity_api_version="3", compute_api_version=compute_version,
        )  # fmt: skip


@pytest.fixture(scope="module")
def shelving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShelvingCloud]:
    running = ShelvingCloud(tmp_path_factory.mktemp("volume-attach-shelved"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cloud(shelving: ShelvingCloud) -> InProcessCloud:
    return shelving.cloud


@pytest.fixture(scope="module")
def at_2_20(shelving: ShelvingCloud) -> Iterator[Connection]:
    conn = shelving.connect("demo", "2.20")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def at_2_19(shelving: ShelvingCloud) -> Iterator[Connection]:
    conn = shelving.connect("demo", "2.19")
    yield conn
    conn.close()


def boot(conn: Connection, name: str) -> Any:
    """Booted at the newest microversion (`networks: none` needs 2.37); the pinned clients act on it."""
    created = conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    return conn.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], **WAIT)


def make_volume(conn: Connection, name: str) -> Any:
    volume = conn.block_storage.create_volume(name=name, size=1)
    return conn.block_storage.wait_for_status(volume, "available", failures=["error"], **WAIT)


def wait_volume(conn: Connection, volume: Any, status: str) -> Any:
    return conn.block_storage.wait_for_status(volume, status, failures=["error"], **WAIT)


def shelve(conn: Connection, server: Any, status: str) -> None:
    conn.compute.shelve_server(server)
    wait_until(
        lambda: (found := conn.compute.get_server(server)).status == status and found.task_state is None,
        what=f"the server {status}",
    )


def test_attach_and_detach_while_offloaded_then_unshelve_connects_on_the_new_host(
    shelving: ShelvingCloud, demo: Connection, at_2_20: Connection, at_2_19: Connection, admin: Connection
) -> None:
    server = boot(demo, "offloaded")
    first_host = admin.compute.get_server(server).compute_host
    kept, dropped = make_volume(at_2_20, "kept"), make_volume(at_2_20, "dropped")
    shelve(at_2_20, server, "SHELVED_OFFLOADED")

    # Below 2.20 an offloaded server takes no volume, as before.
    with pytest.raises(sdk_exceptions.ConflictException):
        at_2_19.compute.create_volume_attachment(server, volume=kept.id)
    assert at_2_20.block_storage.get_volume(kept).status == "available"

    for volume in (kept, dropped):
        attachment = at_2_20.compute.create_volume_attachment(server, volume=volume.id)
        assert attachment.volume_id == volume.id
        # Attached with no host: in-use for this server, connected nowhere.
        in_use = wait_volume(at_2_20, volume, "in-use")
        assert [(a["server_id"], a["host_name"]) for a in in_use.attachments] == [(server.id, None)]
    assert all(mapping.connection_info is None for mapping in shelving.mappings(server.id))
    assert shelving.volume_driver.exports() == set()
    listed = {a.volume_id for a in at_2_20.compute.volume_attachments(server)}
    assert listed == {kept.id, dropped.id}

    with pytest.raises(sdk_exceptions.ConflictException):
        at_2_19.compute.delete_volume_attachment(server, dropped)
    at_2_20.compute.delete_volume_attachment(server, dropped)
    wait_volume(at_2_20, dropped, "available")
    assert [mapping.volume_id for mapping in shelving.mappings(server.id)] == [kept.id]

    other_host = next(host for host in HOSTS if host != first_host)
    response = admin.compute.post(
        f"/servers/{server.id}/action", json={"unshelve": {"host": other_host}},
        microversion="2.91",
    )  # fmt: skip
    assert response.status_code == 202, response.text
    at_2_20.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
    assert admin.compute.get_server(server).compute_host == other_host
    assert shelving.computes[other_host].volume_ids(server.id) == [kept.id]
    attached = at_2_20.block_storage.get_volume(kept)
    assert attached.status == "in-use"
    assert [(a["server_id"], a["host_name"]) for a in attached.attachments] == [(server.id, other_host)]
    (mapping,) = shelving.mappings(server.id)
    assert mapping.connection_info is not None and mapping.connection_info["driver_volume_type"] == "fake"

    at_2_20.compute.delete_volume_attachment(server, kept)
    wait_volume(at_2_20, kept, "available")
    assert shelving.volume_driver.exports() == set()
    at_2_20.compute.delete_server(server)
    at_2_20.compute.wait_for_delete(server, **WAIT)


def test_a_volume_attached_before_offload_is_reconnected_on_the_new_host(
    shelving: ShelvingCloud, demo: Connection, at_2_20: Connection, admin: Connection
) -> None:
    server = boot(demo, "moved")
    first_host = admin.compute.get_server(server).compute_host
    volume = make_volume(at_2_20, "carried")
    at_2_20.compute.create_volume_attachment(server, volume=volume.id)
    wait_volume(at_2_20, volume, "in-use")
    shelve(at_2_20, server, "SHELVED_OFFLOADED")

    other_host = next(host for host in HOSTS if host != first_host)
    response = admin.compute.post(
        f"/servers/{server.id}/action", json={"unshelve": {"host": other_host}}, microversion="2.91"
    )
    assert response.status_code == 202, response.text
    at_2_20.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
    # Connected for the host it runs on now, not the one it left.
    attached = at_2_20.block_storage.get_volume(volume)
    assert [(a["server_id"], a["host_name"]) for a in attached.attachments] == [(server.id, other_host)]
    assert shelving.computes[other_host].volume_ids(server.id) == [volume.id]
    at_2_20.compute.delete_server(server)
    at_2_20.compute.wait_for_delete(server, **WAIT)
    wait_volume(at_2_20, volume, "available")


def test_attach_and_detach_while_shelved_go_through_its_host(
    shelving: ShelvingCloud, demo: Connection, at_2_20: Connection, at_2_19: Connection
) -> None:
    shelving.cloud.cloud.settings.shelved_offload_time = -1  # stays SHELVED on its host
    try:
        server = boot(demo, "shelved")
        volume = make_volume(at_2_20, "on-shelved")
        shelve(at_2_20, server, "SHELVED")
        with pytest.raises(sdk_exceptions.ConflictException):
            at_2_19.compute.create_volume_attachment(server, volume=volume.id)
        at_2_20.compute.create_volume_attachment(server, volume=volume.id)
        attached = wait_volume(at_2_20, volume, "in-use")
        host = attached.attachments[0]["host_name"]
        assert host in HOSTS and shelving.computes[host].volume_ids(server.id) == [volume.id]
        at_2_20.compute.delete_volume_attachment(server, volume)
        wait_volume(at_2_20, volume, "available")
        assert shelving.computes[host].volume_ids(server.id) == []
        at_2_20.compute.delete_server(server)
        at_2_20.compute.wait_for_delete(server, **WAIT)
    finally:
        shelving.cloud.cloud.settings.shelved_offload_time = 0


def test_deleting_an_offloaded_server_gives_its_volumes_back(
    shelving: ShelvingCloud, demo: Connection, at_2_20: Connection
) -> None:
    server = boot(demo, "offloaded-deleted")
    volume = make_volume(at_2_20, "left-behind")
    shelve(at_2_20, server, "SHELVED_OFFLOADED")
    at_2_20.compute.create_volume_attachment(server, volume=volume.id)
    wait_volume(at_2_20, volume, "in-use")
    at_2_20.compute.delete_server(server)
    at_2_20.compute.wait_for_delete(server, **WAIT)
    assert wait_volume(at_2_20, volume, "available").attachments == []
    assert not shelving.mappings(server.id)
