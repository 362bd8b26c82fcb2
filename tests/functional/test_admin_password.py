"""adminPass as Nova has it: the create and rebuild responses carry the password (the request's, else a
generated one) and the same password reaches the compute driver's spawn."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from overcast.context import RequestContext
from overcast.virt.driver import InstanceSpec
from overcast.virt.fake import FakeDriver
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.waiting import WAIT_SECONDS


class PasswordRecordingDriver(FakeDriver):
    """The fake driver, noting the admin password of every spawn (build and rebuild)."""

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[str, list[str | None]] = {}

    def spawn(self, ctxt: RequestContext, spec: InstanceSpec, admin_password: str | None = None) -> None:
        super().spawn(ctxt, spec, admin_password)
        self.passwords.setdefault(spec.uuid, []).append(admin_password)


@pytest.fixture(scope="module")
def driver() -> PasswordRecordingDriver:
    return PasswordRecordingDriver()


@pytest.fixture(scope="module")
def cloud(
    tmp_path_factory: pytest.TempPathFactory, driver: PasswordRecordingDriver
) -> Iterator[InProcessCloud]:
    running = InProcessCloud(
        tmp_path_factory.mktemp("admin-pass"), compute_hosts=("c1",), drivers={"c1": driver}
    )
    yield running
    running.stop()


def wait_active(conn: Connection, server: Any) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while (current := conn.compute.get_server(server.id)).status != "ACTIVE" or current.task_state:
        assert current.status != "ERROR" and time.monotonic() < deadline, f"{server.id}: {current.status}"
        time.sleep(0.05)
    return current


def test_create_returns_the_requested_password_and_spawn_gets_it(
    demo: Connection, driver: PasswordRecordingDriver
) -> None:
    created = demo.compute.create_server(name="pw-given", image_id=IMAGE_ID, flavor_id=TINY,
                                         networks="none", admin_password="Given-Pass-1")  # fmt: skip
    assert created.admin_password == "Given-Pass-1"
    wait_active(demo, created)
    assert driver.passwords[created.id] == ["Given-Pass-1"]
    demo.compute.delete_server(created)


def test_create_without_a_password_returns_a_generated_one(
    cloud: InProcessCloud, demo: Connection, driver: PasswordRecordingDriver
) -> None:
    headers = {"X-Auth-Token": demo.auth_token, "OpenStack-API-Version": "compute 2.37"}
    body = {"server": {"name": "pw-made", "imageRef": IMAGE_ID, "flavorRef": TINY, "networks": "none"}}
    url = f"{cloud.base_url}/compute/v2.1/servers"
    response = httpx.post(url, json=body, headers=headers, timeout=WAIT_SECONDS)
    assert response.status_code == 202, response.text
    server = response.json()["server"]
    password = server["adminPass"]
    assert len(password) == 12 and password.isalnum()
    wait_active(demo, demo.compute.get_server(server["id"]))
    assert driver.passwords[server["id"]] == [password]

    other = demo.compute.create_server(name="pw-made-2", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    assert other.admin_password and other.admin_password != password  # one per request, not a constant
    for made in (server["id"], other.id):
        demo.compute.delete_server(made)


def test_rebuild_returns_the_new_password_and_spawns_with_it(
    demo: Connection, driver: PasswordRecordingDriver
) -> None:
    server = demo.compute.create_server(name="pw-rebuild", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    first = server.admin_password
    wait_active(demo, server)
    rebuilt = demo.compute.rebuild_server(server, IMAGE_ID, admin_password="Rebuilt-Pass-2")
    assert rebuilt.admin_password == "Rebuilt-Pass-2"
    wait_active(demo, server)
    generated = demo.compute.rebuild_server(server, IMAGE_ID).admin_password
    assert generated and generated not in (first, "Rebuilt-Pass-2")
    wait_active(demo, server)
    assert driver.passwords[server.id] == [first, "Rebuilt-Pass-2", generated]
    demo.compute.delete_server(server)
