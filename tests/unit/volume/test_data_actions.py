"""The volume manager's DataActions endpoint over the bus: VolumeAPI with the real VolumeHostAPI client
casting to a running volume service on the fake driver, for snapshots, backups, restores (also into a
new volume, 3.47's backup_id) and the start-up recovery of backups a dead service left behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.db import Database
from overcast.db.models.volume_backup import Backup
from overcast.image.api import ImageAPI
from overcast.image.settings import ImageSettings
from overcast.service import Service
from overcast.volume.api.backups import BackupRequest
from overcast.volume.api.service import VolumeAPI
from overcast.volume.data_records import BACKUP_CREATING
from overcast.volume.drivers.fake import FakeVolumeDriver
from overcast.volume.manager import VolumeManager
from overcast.volume.rpcapi import VolumeHostAPI
from tests.support.waiting import WAIT_SECONDS, wait_until
from tests.unit.volume.volume_api_support import ALICE, HOST, register_volume_host


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Cloud]:
    settings = load_settings(data_dir=tmp_path, volume_driver="fake")
    cloud = Cloud(settings=settings, db=db, transport=get_transport(f"inproc://volume-{uuid.uuid4().hex}"))
    yield cloud
    cloud.transport.close()


@pytest.fixture
def driver(tmp_path: Path) -> FakeVolumeDriver:
    return FakeVolumeDriver(tmp_path / "pool")


@pytest.fixture
def manager(cloud: Cloud, driver: FakeVolumeDriver) -> VolumeManager:
    return VolumeManager(cloud, HOST, driver=driver, images=ImageAPI(cloud, ImageSettings()))


@pytest.fixture
def api(cloud: Cloud, manager: VolumeManager) -> Iterator[VolumeAPI]:
    register_volume_host(cloud.db)
    service = Service(cloud, manager)
    service.start()
    try:
        yield VolumeAPI(cloud, VolumeHostAPI(cloud.transport, timeout=WAIT_SECONDS))
    finally:
        service.stop()


def status(api: VolumeAPI, what: str, row_id: str) -> str:
    getter = {"volume": api.get, "snapshot": api.snapshots.get, "backup": api.backups.get}[what]
    return str(getter(ALICE, row_id)["status"])


def test_snapshot_backup_and_restore_into_a_new_volume_over_the_bus(
    api: VolumeAPI, driver: FakeVolumeDriver
) -> None:
    volume = api.create(ALICE, 1)
    wait_until(lambda: status(api, "volume", volume["id"]) == "available", what="the volume")
    with driver.open_volume(volume["id"], writable=True) as handle:
        handle.write(b"bytes through the bus")
    snapshot = api.snapshots.create(ALICE, volume["id"])
    wait_until(lambda: status(api, "snapshot", snapshot["id"]) == "available", what="the snapshot")
    backup = api.backups.create(ALICE, BackupRequest(volume_id=volume["id"]))
    wait_until(lambda: status(api, "backup", backup["id"]) == "available", what="the backup")
    assert status(api, "volume", volume["id"]) == "available"

    restored = api.create(ALICE, None, backup_id=backup["id"], name="from backup")
    wait_until(lambda: status(api, "volume", restored["id"]) == "available", what="the restored volume")
    with driver.open_volume(restored["id"], writable=False) as handle:
        assert handle.read(21) == b"bytes through the bus"
    assert status(api, "backup", backup["id"]) == "available"

    api.snapshots.delete(ALICE, snapshot["id"])
    api.backups.delete(ALICE, backup["id"])
    wait_until(
        lambda: api.backups.list(ALICE)[0] == [] and api.snapshots.list(ALICE)[0] == [], what="deletes"
    )


def test_a_restarted_host_fails_the_backups_it_was_making(cloud: Cloud, manager: VolumeManager) -> None:
    register_volume_host(cloud.db)
    cloud.db.write(
        lambda s: s.add(
            Backup(
                id="b-1",
                project_id="p",
                volume_id="v",
                host=HOST,
                status=BACKUP_CREATING,
                size=1,
                object_count=0,
            )
        )
    )
    manager.init_host()
    with cloud.db.reader() as session:
        backup = session.get(Backup, "b-1")
        assert backup is not None and backup.status == "error" and "stopped" in (backup.fail_reason or "")
