"""os-reimage (Block Storage 3.68) through real HTTP: openstacksdk's block storage session against the
in-process cloud, with a volume host on the fake volume driver whose volumes hold real bytes. The image
replaces what the volume held (its zeros too); a reserved volume is reimaged only when asked for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.service import Service
from overcast.volume.drivers.fake import FakeVolumeDriver
from overcast.volume.manager import VolumeManager
from tests.support.cloud import InProcessCloud
from tests.support.waiting import wait_until
from tests.unit.volume.driver_contract import read_at, write_at

VOLUME_HOST = "volume-1"
IMAGE_BYTES = b"\x00" * 65536 + b"OVERCAST"


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> FakeVolumeDriver:
    return FakeVolumeDriver(tmp_path_factory.mktemp("volume_pool"))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, driver: FakeVolumeDriver) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("volume_reimage"))
    manager = VolumeManager(running.cloud, VOLUME_HOST, driver=driver, images=running.image_api)
    service = Service(running.cloud, manager)
    service.start()
    yield running
    service.stop()
    running.stop()


@pytest.fixture(scope="module")
def demo(cloud: InProcessCloud) -> Connection:
    return cloud.connect("demo")


@pytest.fixture(scope="module")
def image_id(demo: Connection) -> str:
    image = demo.image.create_image(
        name="reimage-raw", data=IMAGE_BYTES, disk_format="raw", container_format="bare"
    )
    return str(image.id)


def reimage(demo: Connection, volume_id: str, body: dict[str, Any], version: str = "3.68") -> Any:
    return demo.block_storage.post(
        f"/volumes/{volume_id}/action", json={"os-reimage": body}, microversion=version, raise_exc=False
    )


def wait_status(demo: Connection, volume_id: str, status: str) -> Any:
    def reached() -> Any:
        volume = demo.block_storage.get_volume(volume_id)
        assert volume.status != "error", volume
        return volume if volume.status == status else None

    return wait_until(reached, timeout=30, what=f"volume {volume_id} {status}")


def new_volume(demo: Connection, name: str) -> Any:
    volume = demo.block_storage.create_volume(size=1, name=name)
    return wait_status(demo, volume.id, "available")


def test_the_image_replaces_what_the_volume_held(
    demo: Connection, driver: FakeVolumeDriver, image_id: str
) -> None:
    volume = new_volume(demo, "rewritten")
    write_at(driver, volume.id, 0, b"old boot sector")
    write_at(driver, volume.id, 65536, b"old data")
    answer = reimage(demo, volume.id, {"image_id": image_id})
    assert answer.status_code == 202, answer.text
    done = wait_status(demo, volume.id, "available")
    assert read_at(driver, volume.id, 0, 15) == bytes(15)  # the image's zeros were written too
    assert read_at(driver, volume.id, 65536, 8) == b"OVERCAST"
    assert done.is_bootable and done.volume_image_metadata["image_id"] == image_id


def test_a_reserved_volume_is_reimaged_only_when_asked_for(
    demo: Connection, driver: FakeVolumeDriver, image_id: str
) -> None:
    volume = new_volume(demo, "reserved")
    # What compute does before it rebuilds a server from this volume: an attachment with no connector.
    body = {"attachment": {"volume_uuid": volume.id, "instance_uuid": "8f0b5a3e-9a52-4a4b-9d55-3c3c0c4b1d2e"}}
    reserved = demo.block_storage.post("/attachments", json=body, microversion="3.27")
    assert reserved.status_code == 200, reserved.text
    assert demo.block_storage.get_volume(volume.id).status == "reserved"
    refused = reimage(demo, volume.id, {"image_id": image_id})
    assert refused.status_code == 400 and "currently reserved" in refused.text, refused.text
    answer = reimage(demo, volume.id, {"image_id": image_id, "reimage_reserved": "true"})
    assert answer.status_code == 202, answer.text
    wait_status(demo, volume.id, "reserved")
    assert read_at(driver, volume.id, 65536, 8) == b"OVERCAST"


def test_bad_requests_are_400_in_cinders_shape(demo: Connection, image_id: str) -> None:
    volume = new_volume(demo, "untouched")
    before_3_68 = reimage(demo, volume.id, {"image_id": image_id}, version="3.67")
    assert before_3_68.status_code == 400 and "no such action" in before_3_68.text
    missing = reimage(demo, volume.id, {})
    assert (
        missing.status_code == 400
        and "'image_id' is a required property" in missing.json()["badRequest"]["message"]
    )
    unknown = reimage(demo, volume.id, {"image_id": "00000000-0000-0000-0000-000000000000"})
    assert unknown.status_code in (400, 404), unknown.text
    flag = reimage(demo, volume.id, {"image_id": image_id, "reimage_reserved": "maybe"})
    assert flag.status_code == 400, flag.text
    big = demo.image.create_image(
        name="needs-5g", data=IMAGE_BYTES, disk_format="raw", container_format="bare", min_disk=5
    )
    too_big = reimage(demo, volume.id, {"image_id": big.id})
    assert too_big.status_code == 400 and "more than the volume's size 1 GB" in too_big.text, too_big.text
    assert demo.block_storage.get_volume(volume.id).status == "available"
