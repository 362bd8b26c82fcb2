"""The volume manager on the fake driver: each operation's storage work and its final status by
compare-and-swap, start-up recovery and export clean-up, capacity reports, image copies both ways, and
the service over the bus as the API casts and calls it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, update

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.compute.rpcapi import TOPIC as COMPUTE_TOPIC
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.service import ServiceRecord
from overcast.db.models.volume import Volume, VolumeAttachment, VolumeMetadata, VolumePool
from overcast.image.api import ImageAPI
from overcast.image.patch import from_create_body
from overcast.image.settings import ImageSettings
from overcast.manager import Manager, rpc_method
from overcast.service import Service
from overcast.volume import states
from overcast.volume.api.service import VolumeAPI
from overcast.volume.drivers.base import GiB, VolumeMissing
from overcast.volume.drivers.fake import FakeVolumeDriver
from overcast.volume.manager import VolumeBusy, VolumeManager
from overcast.volume.quotas import VolumeQuotaEngine
from overcast.volume.rpcapi import BINARY, VolumeHostAPI
from tests.support.waiting import WAIT_SECONDS, wait_until
from tests.unit.volume.driver_contract import CONNECTOR, read_at, write_at

DEFAULT_TYPE_ID = "5a3b8f4e-7c1d-4e0a-9a55-0c2f61d3b9e1"
ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin", "member"), is_admin=True)
ALICE = RequestContext(user_id="u-alice", project_id="p-alice", roles=("member",))
ALICE_PROJECT = "p-alice"
MIB = 1024 * 1024


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Cloud]:
    settings = load_settings(data_dir=tmp_path, volume_driver="fake", volume_report_interval=0.2)
    cloud = Cloud(settings=settings, db=db, transport=get_transport(f"inproc://volume-{uuid.uuid4().hex}"))
    yield cloud
    cloud.transport.close()


@pytest.fixture
def images(cloud: Cloud) -> ImageAPI:
    return ImageAPI(cloud, ImageSettings(size_cap=2 * GiB))


@pytest.fixture
def driver(tmp_path: Path) -> FakeVolumeDriver:
    return FakeVolumeDriver(tmp_path / "pool")


@pytest.fixture
def manager(cloud: Cloud, driver: FakeVolumeDriver, images: ImageAPI) -> VolumeManager:
    manager = VolumeManager(cloud, "host-a", driver=driver, images=images)
    manager.init_host()
    return manager


def add_volume(
    cloud: Cloud, status: str = states.CREATING, size: int = 1, host: str = "host-a", **columns: Any
) -> str:
    volume_id = str(uuid.uuid4())

    def write(session: Any) -> None:
        session.add(
            Volume(
                id=volume_id, project_id=ALICE.project_id, user_id=ALICE.user_id, size=size, status=status,
                availability_zone="nova", volume_type_id=DEFAULT_TYPE_ID, host=host, backend_name="pool",
                **columns,
            )
        )  # fmt: skip

    cloud.db.write(write)
    return volume_id


def add_attachment(cloud: Cloud, volume_id: str, attach_status: str = states.ATTACHED, **columns: Any) -> str:
    attachment_id = str(uuid.uuid4())
    cloud.db.write(
        lambda session: session.add(
            VolumeAttachment(id=attachment_id, volume_id=volume_id, attach_status=attach_status, **columns)
        )
    )
    return attachment_id


def volume(cloud: Cloud, volume_id: str) -> Volume | None:
    with cloud.db.reader() as session:
        return session.get(Volume, volume_id)


def volume_of(cloud: Cloud, attachment_id: str) -> str:
    with cloud.db.reader() as session:
        attachment = session.get(VolumeAttachment, attachment_id)
        assert attachment is not None
        return attachment.volume_id


def status_of(cloud: Cloud, volume_id: str) -> str | None:
    row = volume(cloud, volume_id)
    return None if row is None else row.status


def made(manager: VolumeManager, **source: Any) -> str:
    """A volume created by the manager from `source`, available."""
    volume_id = add_volume(manager.cloud)
    manager.create_volume(ADMIN, volume_id, source)
    assert status_of(manager.cloud, volume_id) == states.AVAILABLE
    return volume_id


def image_with(images: ImageAPI, data: bytes, disk_format: str = "raw", **fields: Any) -> str:
    body = {"name": "img", "disk_format": disk_format, "container_format": "bare", **fields}
    image_id = images.create(ALICE, from_create_body(body)).image.id
    images.upload(ALICE, image_id, [data])
    return image_id


# --- create --------------------------------------------------------------------------------------
def test_an_empty_volume_becomes_available_with_its_storage(
    manager: VolumeManager, driver: FakeVolumeDriver
) -> None:
    volume_id = made(manager)
    assert driver.volume_size(volume_id) == GiB
    row = volume(manager.cloud, volume_id)
    assert row is not None and row.launched_at is not None and row.fail_reason is None


def test_a_failed_create_is_error_with_its_reason_and_leaves_no_storage(
    manager: VolumeManager, driver: FakeVolumeDriver
) -> None:
    volume_id = add_volume(manager.cloud)
    driver.fail_next("create_volume")
    manager.create_volume(ADMIN, volume_id, {})
    row = volume(manager.cloud, volume_id)
    assert row is not None and row.status == states.ERROR
    assert "told to fail create_volume" in (row.fail_reason or "")
    with pytest.raises(VolumeMissing):
        driver.volume_size(volume_id)


def test_a_volume_no_longer_creating_is_left_alone(manager: VolumeManager, driver: FakeVolumeDriver) -> None:
    volume_id = add_volume(manager.cloud, status=states.DELETING)
    manager.create_volume(ADMIN, volume_id, {})
    assert status_of(manager.cloud, volume_id) == states.DELETING
    with pytest.raises(VolumeMissing):
        driver.volume_size(volume_id)


def test_clones_and_volumes_from_snapshots_hold_their_sources_bytes(
    manager: VolumeManager, driver: FakeVolumeDriver
) -> None:
    source = made(manager)
    write_at(driver, source, 5 * MIB, b"source bytes")
    clone = add_volume(manager.cloud, size=2)
    manager.create_volume(ADMIN, clone, {"source_volid": source})
    assert status_of(manager.cloud, clone) == states.AVAILABLE
    assert read_at(driver, clone, 5 * MIB, 12) == b"source bytes"
    assert driver.volume_size(clone) == 2 * GiB
    driver.create_snapshot(source, "snap-1")
    from_snapshot = add_volume(manager.cloud)
    manager.create_volume(ADMIN, from_snapshot, {"snapshot_id": "snap-1"})
    assert status_of(manager.cloud, from_snapshot) == states.AVAILABLE
    assert read_at(driver, from_snapshot, 5 * MIB, 12) == b"source bytes"


def test_a_volume_from_a_raw_image_holds_its_bytes_and_is_bootable(
    manager: VolumeManager, driver: FakeVolumeDriver, images: ImageAPI
) -> None:
    data = os.urandom(3 * MIB) + bytes(4 * MIB) + b"end"
    image_id = image_with(images, data, os_distro="cirros")
    volume_id = made(manager, image_id=image_id)
    assert read_at(driver, volume_id, 0, len(data)) == data
    row = volume(manager.cloud, volume_id)
    assert row is not None and row.bootable and row.image_id == image_id
    assert row.image_metadata["image_id"] == image_id
    assert row.image_metadata["os_distro"] == "cirros"
    assert row.image_metadata["checksum"] == hashlib.md5(data).hexdigest()


@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
def test_a_volume_from_a_qcow2_image_holds_the_guest_bytes(
    manager: VolumeManager, driver: FakeVolumeDriver, images: ImageAPI, tmp_path: Path
) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"guest data" + bytes(2 * MIB))
    qcow2 = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)], check=True)
    image_id = image_with(images, qcow2.read_bytes(), disk_format="qcow2")
    volume_id = made(manager, image_id=image_id)
    assert read_at(driver, volume_id, 0, 10) == b"guest data"


def test_an_image_bigger_than_the_volume_fails_it_with_cinders_words(
    manager: VolumeManager, images: ImageAPI
) -> None:
    volume_id = add_volume(manager.cloud)
    image_id = image_with(images, b"x" * MIB)

    # The image is 1 MiB: a volume of 1 GiB holds it; one that the driver made smaller would not.
    class Tiny(FakeVolumeDriver):
        def volume_size(self, volume_id: str) -> int:
            return MIB // 2

    manager.driver = Tiny(manager.driver.pool_dir)  # type: ignore[attr-defined]
    manager.create_volume(ADMIN, volume_id, {"image_id": image_id})
    row = volume(manager.cloud, volume_id)
    assert row is not None and row.status == states.ERROR
    assert "doesn't fit in a volume of size" in (row.fail_reason or "")


def test_a_missing_image_fails_the_volume(manager: VolumeManager) -> None:
    volume_id = add_volume(manager.cloud)
    manager.create_volume(ADMIN, volume_id, {"image_id": str(uuid.uuid4())})
    assert status_of(manager.cloud, volume_id) == states.ERROR


# --- delete --------------------------------------------------------------------------------------
def test_delete_removes_storage_exports_and_rows(manager: VolumeManager, driver: FakeVolumeDriver) -> None:
    volume_id = made(manager)
    manager.cloud.db.write(
        lambda session: session.add(VolumeMetadata(volume_id=volume_id, key="k", value="v"))
    )
    leftover = add_attachment(manager.cloud, volume_id, attach_status=states.DETACHED)
    driver.export(leftover, volume_id, CONNECTOR)
    manager.cloud.db.write(
        lambda session: states.change_status(session, volume_id, {states.AVAILABLE}, states.DELETING)
    )
    manager.delete_volume(ADMIN, volume_id)
    assert volume(manager.cloud, volume_id) is None
    assert leftover not in driver.exports()
    with pytest.raises(VolumeMissing):
        driver.volume_size(volume_id)
    with manager.cloud.db.reader() as session:
        assert (
            session.scalars(select(VolumeMetadata).where(VolumeMetadata.volume_id == volume_id)).all() == []
        )


def test_a_failed_delete_is_error_deleting(manager: VolumeManager, driver: FakeVolumeDriver) -> None:
    volume_id = made(manager)
    manager.cloud.db.write(
        lambda session: states.change_status(session, volume_id, {states.AVAILABLE}, states.DELETING)
    )
    driver.fail_next("delete_volume")
    manager.delete_volume(ADMIN, volume_id)
    assert status_of(manager.cloud, volume_id) == states.ERROR_DELETING
    assert driver.volume_size(volume_id) == GiB


def test_delete_of_a_volume_not_deleting_does_nothing(
    manager: VolumeManager, driver: FakeVolumeDriver
) -> None:
    volume_id = made(manager)
    manager.delete_volume(ADMIN, volume_id)
    assert status_of(manager.cloud, volume_id) == states.AVAILABLE
    assert driver.volume_size(volume_id) == GiB


# --- extend --------------------------------------------------------------------------------------
def test_extend_grows_the_storage_and_returns_to_the_status_it_started_from(
    manager: VolumeManager, driver: FakeVolumeDriver
) -> None:
    volume_id = made(manager)
    manager.cloud.db.write(lambda session: states.start(session, volume_id, "extend"))
    manager.extend_volume(ADMIN, volume_id, 3)
    row = volume(manager.cloud, volume_id)
    assert row is not None and (row.status, row.size) == (states.AVAILABLE, 3)
    assert driver.volume_size(volume_id) == 3 * GiB


def test_a_failed_extend_is_error_extending_and_keeps_the_size(
    manager: VolumeManager, driver: FakeVolumeDriver
) -> None:
    volume_id = made(manager)
    engine = VolumeQuotaEngine()
    growth = {"gigabytes": 2, "gigabytes___DEFAULT__": 2}
    # What the API's extend counted before casting.
    manager.cloud.db.write(lambda session: engine.consume(session, ALICE_PROJECT, growth))
    with manager.cloud.db.reader() as session:
        assert engine.get_usage(session, ALICE_PROJECT)["gigabytes"] == 2
    manager.cloud.db.write(lambda session: states.start(session, volume_id, "extend"))
    driver.fail_next("extend_volume")
    with pytest.raises(errors.OvercastError):
        manager.extend_volume(ADMIN, volume_id, 3)
    row = volume(manager.cloud, volume_id)
    assert row is not None and (row.status, row.size) == (states.ERROR_EXTENDING, 1)
    with manager.cloud.db.reader() as session:
        usage = engine.get_usage(session, ALICE_PROJECT)
    assert (usage["gigabytes"], usage["gigabytes___DEFAULT__"]) == (0, 0)


class RecordingComputeHost(Manager):
    """A compute host that records the extends the volume host tells it of."""

    RPC_API_VERSION: ClassVar[str] = "1.5"
    topic: ClassVar[str] = COMPUTE_TOPIC
    binary: ClassVar[str] = COMPUTE_BINARY

    def __init__(self, cloud: Cloud, host: str) -> None:
        super().__init__(cloud, host)
        self.extended: list[tuple[str, str, int]] = []

    @rpc_method
    def extend_volume(self, ctxt: RequestContext, instance_uuid: str, volume_id: str, new_size: int) -> None:
        self.extended.append((instance_uuid, volume_id, new_size))


def test_extending_an_attached_volume_tells_its_compute_host(manager: VolumeManager, cloud: Cloud) -> None:
    compute = RecordingComputeHost(cloud, "compute-1")
    service = Service(cloud, compute)
    service.start()
    try:
        volume_id = made(manager)
        instance_uuid = str(uuid.uuid4())
        add_attachment(cloud, volume_id, attached_host="compute-1", instance_uuid=instance_uuid)
        add_attachment(cloud, volume_id, attach_status=states.DETACHED, attached_host="compute-1")
        cloud.db.write(
            lambda session: states.change_status(session, volume_id, {states.AVAILABLE}, states.IN_USE)
        )
        cloud.db.write(lambda session: states.start(session, volume_id, "extend_attached"))
        manager.extend_volume(ADMIN, volume_id, 2)
        assert status_of(cloud, volume_id) == states.IN_USE
        wait_until(lambda: compute.extended, what="the compute host to hear of the extend")
        assert compute.extended == [(instance_uuid, volume_id, 2)]
    finally:
        service.stop()


def test_extend_needs_the_volume_extending(manager: VolumeManager) -> None:
    volume_id = made(manager)
    with pytest.raises(VolumeBusy):
        manager.extend_volume(ADMIN, volume_id, 3)


# --- connections ---------------------------------------------------------------------------------
def test_initialize_connection_returns_cinders_connection_info(manager: VolumeManager) -> None:
    volume_id = made(manager)
    attachment_id = add_attachment(manager.cloud, volume_id, attach_status=states.ATTACHMENT_RESERVED)
    info = manager.initialize_connection(ADMIN, volume_id, attachment_id, CONNECTOR)
    assert info == {
        "driver_volume_type": "fake",
        "data": {"volume_id": volume_id, "access_mode": "rw", "encrypted": False, "qos_specs": None},
    }
    manager.terminate_connection(ADMIN, volume_id, attachment_id)
    assert attachment_id not in manager.driver.exports()


def test_a_readonly_volume_is_connected_and_exported_read_only(
    manager: VolumeManager, driver: FakeVolumeDriver
) -> None:
    volume_id = made(manager)
    manager.cloud.db.write(lambda session: session.get(Volume, volume_id).__setattr__("readonly", True))
    attachment_id = add_attachment(manager.cloud, volume_id, attach_status=states.ATTACHMENT_RESERVED)
    info = manager.initialize_connection(ADMIN, volume_id, attachment_id, CONNECTOR)
    assert info["data"]["access_mode"] == "ro" and driver.exported_read_only(attachment_id)
    read_write = add_attachment(manager.cloud, made(manager), attach_status=states.ATTACHMENT_RESERVED)
    manager.initialize_connection(ADMIN, volume_of(manager.cloud, read_write), read_write, CONNECTOR)
    assert not driver.exported_read_only(read_write)


def test_a_volume_of_another_host_is_not_exported(manager: VolumeManager) -> None:
    volume_id = add_volume(manager.cloud, status=states.AVAILABLE, host="host-b")
    with pytest.raises(errors.NotFound):
        manager.initialize_connection(ADMIN, volume_id, str(uuid.uuid4()), CONNECTOR)


# --- upload --------------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")
def test_upload_to_image_stores_the_volume_bytes_and_returns_to_in_use(
    manager: VolumeManager, driver: FakeVolumeDriver, images: ImageAPI, tmp_path: Path
) -> None:
    volume_id = made(manager)
    write_at(driver, volume_id, 3 * MIB, b"uploaded")
    manager.cloud.db.write(
        lambda session: states.change_status(
            session, volume_id, {states.AVAILABLE}, states.UPLOADING, previous_status=states.IN_USE
        )
    )
    # qcow2 keeps the test quick: the volume's holes cost nothing in it (raw would be a whole GiB).
    body = {"name": "from-volume", "disk_format": "qcow2", "container_format": "bare"}
    image_id = images.create(ALICE, from_create_body(body)).image.id
    manager.copy_volume_to_image(ADMIN, volume_id, image_id)
    assert status_of(manager.cloud, volume_id) == states.IN_USE
    assert images.get(ADMIN, image_id).image.status == "active"
    downloaded = tmp_path / "downloaded.qcow2"
    with downloaded.open("wb") as target:
        download = images.data.download(ADMIN, image_id)
        assert download is not None
        for chunk in download.chunks:
            target.write(chunk)
    raw = tmp_path / "downloaded.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(downloaded), str(raw)], check=True)
    assert raw.stat().st_size == GiB
    with raw.open("rb") as data:
        data.seek(3 * MIB)
        assert data.read(8) == b"uploaded"


def test_a_failed_upload_returns_the_volume_with_the_reason(manager: VolumeManager) -> None:
    volume_id = made(manager)
    manager.cloud.db.write(lambda session: states.start(session, volume_id, "upload_to_image"))
    manager.copy_volume_to_image(ADMIN, volume_id, str(uuid.uuid4()))
    row = volume(manager.cloud, volume_id)
    assert row is not None and row.status == states.AVAILABLE and row.fail_reason


# --- start-up ------------------------------------------------------------------------------------
def test_start_up_moves_this_hosts_transitional_volumes_to_their_recovery_status(
    cloud: Cloud, driver: FakeVolumeDriver, images: ImageAPI
) -> None:
    creating = add_volume(cloud, states.CREATING)
    downloading = add_volume(cloud, states.DOWNLOADING)
    extending = add_volume(cloud, states.EXTENDING)
    uploading = add_volume(cloud, states.UPLOADING, attach_status=states.ATTACHED)
    elsewhere = add_volume(cloud, states.CREATING, host="host-b")
    VolumeManager(cloud, "host-a", driver=driver, images=images).init_host()
    volumes = (creating, downloading, extending, uploading, elsewhere)
    assert [status_of(cloud, one) for one in volumes] == [
        states.ERROR, states.ERROR, states.ERROR_EXTENDING, states.IN_USE, states.CREATING,
    ]  # fmt: skip
    row = volume(cloud, creating)
    assert row is not None and "stopped while the volume was creating" in (row.fail_reason or "")


def test_start_up_finishes_the_deletes_a_dead_service_was_doing(
    cloud: Cloud, driver: FakeVolumeDriver, images: ImageAPI
) -> None:
    driver.init_host("host-a")
    deleting = add_volume(cloud, states.DELETING)
    driver.create_volume(deleting, 1)
    VolumeManager(cloud, "host-a", driver=driver, images=images).init_host()
    assert volume(cloud, deleting) is None
    with pytest.raises(VolumeMissing):
        driver.volume_size(deleting)


def test_start_up_removes_exports_no_attachment_needs(
    cloud: Cloud, driver: FakeVolumeDriver, images: ImageAPI
) -> None:
    driver.init_host("host-a")
    volume_id = add_volume(cloud, states.IN_USE)
    driver.create_volume(volume_id, 1)
    needed = add_attachment(cloud, volume_id)
    driver.export(needed, volume_id, CONNECTOR)
    driver.export("gone-attachment", volume_id, CONNECTOR)
    detached = add_attachment(cloud, volume_id, attach_status=states.DETACHED)
    driver.export(detached, volume_id, CONNECTOR)
    VolumeManager(cloud, "host-a", driver=driver, images=images).init_host()
    assert driver.exports() == {needed}


def test_capacity_is_reported_at_start_and_after_a_create(manager: VolumeManager) -> None:
    with manager.cloud.db.reader() as session:
        pool = session.get(VolumePool, ("host-a", "pool"))
        assert pool is not None and pool.total_gb > 0 and pool.allocated_bytes == 0
    made(manager)
    with manager.cloud.db.reader() as session:
        pool = session.get(VolumePool, ("host-a", "pool"))
        assert pool is not None and pool.allocated_bytes == GiB


# --- over the bus --------------------------------------------------------------------------------
def test_the_service_registers_and_serves_the_rpc_api(
    cloud: Cloud, driver: FakeVolumeDriver, images: ImageAPI
) -> None:
    service = Service(cloud, VolumeManager(cloud, "host-a", driver=driver, images=images))
    service.start()
    try:
        client = VolumeHostAPI(cloud.transport, timeout=WAIT_SECONDS)
        with cloud.db.reader() as session:
            record = session.scalars(select(ServiceRecord).where(ServiceRecord.binary == BINARY)).one()
            assert (record.host, record.topic) == ("host-a", "volume")
        volume_id = add_volume(cloud)
        client.create_volume(ADMIN, "host-a", volume_id, {})
        wait_until(lambda: status_of(cloud, volume_id) == states.AVAILABLE, what="the volume to be available")
        attachment_id = add_attachment(cloud, volume_id, attach_status=states.ATTACHMENT_RESERVED)
        info = client.initialize_connection(ADMIN, "host-a", volume_id, attachment_id, CONNECTOR)
        assert info["data"]["volume_id"] == volume_id
        client.terminate_connection(ADMIN, "host-a", volume_id, attachment_id)
        assert driver.exports() == set()
        cloud.db.write(lambda session: states.start(session, volume_id, "extend"))
        client.extend_volume(ADMIN, "host-a", volume_id, 2)
        assert driver.volume_size(volume_id) == 2 * GiB
        with pytest.raises(errors.OvercastError):
            client.extend_volume(ADMIN, "host-a", volume_id, 3)
        cloud.db.write(lambda session: states.start(session, volume_id, "delete"))
        client.delete_volume(ADMIN, "host-a", volume_id)
        wait_until(lambda: volume(cloud, volume_id) is None, what="the volume row to go")
    finally:
        service.stop()


def test_capabilities_are_asked_of_the_volume_host_over_rpc(manager: VolumeManager, cloud: Cloud) -> None:
    """The API's catalog finds the host (as os-services names it) and asks its manager, which answers
    from what the driver says of itself."""
    service = Service(cloud, manager)
    service.start()
    try:
        catalog = VolumeAPI(cloud, VolumeHostAPI(cloud.transport, timeout=WAIT_SECONDS)).catalog
        capabilities = catalog.capabilities(ADMIN, "host-a@pool")
        assert capabilities["volume_backend_name"] == capabilities["pool_name"] == "pool"
        assert capabilities["storage_protocol"] == "fake" and capabilities["driver_version"] == "1.0.0"
        assert capabilities["namespace"] == "OS::Storage::Capabilities::host-a@pool"
        assert set(capabilities["properties"]) == {"multiattach", "thin_provisioning"}
        assert catalog.capabilities(ADMIN, "host-a") == catalog.capabilities(ADMIN, "host-a@pool#pool")
        for unknown in ("host-b", "host-a@other"):
            with pytest.raises(errors.NotFound, match=f"Can't find service: {unknown}"):
                catalog.capabilities(ADMIN, unknown)
        with pytest.raises(errors.Forbidden):
            catalog.capabilities(ALICE, "host-a")
    finally:
        service.stop()
    cloud.db.write(
        lambda session: session.execute(
            update(ServiceRecord).where(ServiceRecord.host == "host-a").values(forced_down=True)
        )
    )
    with pytest.raises(errors.ServiceUnavailable, match="is down"):
        catalog.capabilities(ADMIN, "host-a")
