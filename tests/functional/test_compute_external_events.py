"""os-server-external-events acted on by the server's compute host, through real HTTP: power-update
(2.76) moves the server and its VM to the tag's power state, volume-extended (2.51) tells the guest its
disk grew; the whole cloud in-process (fake virt driver, a volume host on the fake volume driver)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection
from sqlalchemy import update

from overcast.db.models.volume import Volume
from overcast.virt.driver import PowerState
from tests.functional.test_volume_attachments import VolumeCloud, boot, make_volume, wait_volume
from tests.support.cloud import InProcessCloud
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VolumeCloud]:
    running = VolumeCloud(tmp_path_factory.mktemp("external-events"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cloud(volumes: VolumeCloud) -> InProcessCloud:
    return volumes.cloud


def send(admin: Connection, version: str, *events: dict[str, Any]) -> Any:
    return admin.compute.post(
        "/os-server-external-events", json={"events": list(events)}, microversion=version
    )


def test_power_update_moves_the_server_and_its_vm(
    volumes: VolumeCloud, admin: Connection, demo: Connection
) -> None:
    server = boot(demo, "powered")
    vm = volumes.compute.hypervisor.vms[server.id]
    try:
        off = {"name": "power-update", "server_uuid": server.id, "tag": "POWER_OFF"}
        answer = send(admin, "2.76", off)
        assert answer.status_code == 200, answer.text
        assert answer.json()["events"][0]["code"] == 200
        wait_until(lambda: demo.compute.get_server(server.id).status == "SHUTOFF", timeout=60, what="SHUTOFF")
        assert vm.state == PowerState.SHUTDOWN
        assert demo.compute.get_server(server.id).power_state == int(PowerState.SHUTDOWN)

        assert send(admin, "2.76", {**off, "tag": "POWER_ON"}).status_code == 200
        wait_until(lambda: demo.compute.get_server(server.id).status == "ACTIVE", timeout=60, what="ACTIVE")
        assert vm.state == PowerState.RUNNING
        # Already on: Nova's manager ignores it (the event is still accepted).
        again = send(admin, "2.76", {**off, "tag": "POWER_ON"})
        assert again.status_code == 200 and demo.compute.get_server(server.id).status == "ACTIVE"
        # Before 2.76 the event does not exist; an unknown server is that event's 404.
        assert send(admin, "2.75", off).status_code == 400
        missing = send(admin, "2.76", {**off, "server_uuid": "9d0cbbc1-4b70-4f8e-9a5e-0d6fb0c1d0aa"}, off)
        assert missing.status_code == 207
        assert [event["code"] for event in missing.json()["events"]] == [404, 200]
    finally:
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, interval=0.1, wait=30)


def test_volume_extended_tells_the_guest(volumes: VolumeCloud, admin: Connection, demo: Connection) -> None:
    server = boot(demo, "grown")
    volume = make_volume(demo, "grown-data")
    demo.compute.create_volume_attachment(server, volume=volume.id)
    wait_volume(demo, volume, "in-use")
    try:
        # The volume grew behind the compute host's back (as after Cinder's extend when it sends the event).
        volumes.cloud.cloud.db.write(
            lambda session: session.execute(update(Volume).where(Volume.id == volume.id).values(size=3))
        )
        event = {"name": "volume-extended", "server_uuid": server.id, "tag": volume.id}
        assert send(admin, "2.50", event).status_code == 400  # the event arrived at 2.51
        assert send(admin, "2.51", event).status_code == 200

        def grown() -> bool:
            vm = volumes.compute.hypervisor.vms[server.id]
            return bool(vm.volumes[volume.id].get("size_bytes") == 3 * 1024**3)

        wait_until(grown, timeout=60, what="the guest told of the new size")
        # A volume the server does not have is accepted and ignored, as Nova's compute manager does.
        other = {**event, "tag": "a7d0d1e4-2b4c-4c59-8f16-6f1f5b0e5e11"}
        assert send(admin, "2.51", other).status_code == 200
    finally:
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, interval=0.1, wait=30)
