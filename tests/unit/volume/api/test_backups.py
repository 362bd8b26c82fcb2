"""Backups through VolumeAPI with an in-process volume host on the fake driver and a filesystem backup
store: full and incremental backups restored byte for byte, restore to a new or an existing volume,
volume from a backup (3.47), quotas, and the bad input each a clear 4xx."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import delete

from overcast.db.models.volume import VolumePool
from overcast.errors import BadRequest, Forbidden, NotFound, RequestTooLarge
from overcast.volume import states
from overcast.volume.api.backups import BackupRequest
from overcast.volume.api.service import VolumeAPI
from overcast.volume.api.snapshots import ListOptions
from tests.unit.volume.data_support import CHUNK, InProcessHost, read_volume, usage, write_volume
from tests.unit.volume.volume_api_support import ADMIN, ALICE, BOB


def status(api: VolumeAPI, volume_id: str) -> str:
    return str(api.get(ADMIN, volume_id)["status"])


def test_full_then_incremental_each_restores_its_own_bytes(
    cloud: tuple[VolumeAPI, InProcessHost], tmp_path: Path
) -> None:
    api, host = cloud
    volume = api.create(ALICE, 1, name="data")
    original = os.urandom(3 * CHUNK)
    write_volume(host, volume["id"], 0, original)
    full = api.backups.create(ALICE, BackupRequest(volume_id=volume["id"], name="full"))
    shown = api.backups.get(ALICE, full["id"])
    assert shown["status"] == "available" and shown["size"] == 1 and not shown["is_incremental"]
    assert shown["object_count"] == 4  # three data chunks and the manifest
    assert status(api, volume["id"]) == "available"

    write_volume(host, volume["id"], CHUNK + 7, b"changed")
    incremental = api.backups.create(ALICE, BackupRequest(volume_id=volume["id"], incremental=True))
    shown = api.backups.get(ALICE, incremental["id"])
    assert shown["is_incremental"] and shown["object_count"] == 2
    assert api.backups.get(ALICE, full["id"])["has_dependent_backups"]
    assert usage(api, ALICE.project_id or "")["backups"] == 2
    assert usage(api, ALICE.project_id or "")["backup_gigabytes"] == 2

    # Restore the full one onto the (changed) volume itself, then the incremental into a new volume.
    restored = api.backups.restore_to_volume(ALICE, full["id"], volume["id"])
    assert restored == {"backup_id": full["id"], "volume_id": volume["id"], "volume_name": "data"}
    assert read_volume(host, volume["id"], 0, 3 * CHUNK) == original
    assert status(api, volume["id"]) == "available"
    assert api.backups.get(ALICE, full["id"])["status"] == "available"

    fresh = api.create(ALICE, None, backup_id=incremental["id"])
    assert fresh["size"] == 1 and status(api, fresh["id"]) == "available"
    expected = bytearray(original)
    expected[CHUNK + 7 : CHUNK + 14] = b"changed"
    assert read_volume(host, fresh["id"], 0, 3 * CHUNK) == bytes(expected)
    assert api.backups.get(ALICE, incremental["id"])["status"] == "available"


def test_delete_refuses_a_parent_and_gives_back_data_and_quota(
    cloud: tuple[VolumeAPI, InProcessHost], tmp_path: Path
) -> None:
    api, host = cloud
    volume = api.create(ALICE, 1)
    write_volume(host, volume["id"], 0, b"x" * 100)
    full = api.backups.create(ALICE, BackupRequest(volume_id=volume["id"]))
    incremental = api.backups.create(ALICE, BackupRequest(volume_id=volume["id"], incremental="true"))
    with pytest.raises(BadRequest, match="Incremental backups exist for this backup"):
        api.backups.delete(ALICE, full["id"])
    api.backups.delete(ALICE, incremental["id"])
    api.backups.delete(ALICE, full["id"])
    with pytest.raises(NotFound):
        api.backups.get(ALICE, full["id"])
    assert list((tmp_path / "backups").iterdir()) == []
    assert usage(api, ALICE.project_id or "")["backups"] == 0
    assert usage(api, ALICE.project_id or "")["backup_gigabytes"] == 0


def test_bad_input_is_a_clear_400_and_makes_nothing(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 2)
    with pytest.raises(BadRequest, match="No backups available to do an incremental backup"):
        api.backups.create(ALICE, BackupRequest(volume_id=volume["id"], incremental=True))
    api.db.write(lambda s: states.change_status(s, volume["id"], {states.AVAILABLE}, states.IN_USE))
    with pytest.raises(BadRequest, match="in-use volume must use the force flag"):
        api.backups.create(ALICE, BackupRequest(volume_id=volume["id"]))
    assert api.backups.list(ALICE)[0] == []
    backup = api.backups.create(ALICE, BackupRequest(volume_id=volume["id"], force=True))
    assert status(api, volume["id"]) == "in-use"

    small = api.create(ALICE, 1)
    with pytest.raises(BadRequest, match="too small to restore backup of size 2"):
        api.backups.restore_to_volume(ALICE, backup["id"], small["id"])
    with pytest.raises(BadRequest, match="cannot be smaller than the backup size"):
        api.create(ALICE, 1, backup_id=backup["id"])
    assert status(api, small["id"]) == "available"
    assert api.backups.get(ALICE, backup["id"])["status"] == "available"
    with pytest.raises(NotFound):
        api.backups.create(BOB, BackupRequest(volume_id=volume["id"]))
    with pytest.raises(NotFound):
        api.backups.restore_to_volume(BOB, backup["id"], small["id"])


def test_backup_quota_is_413(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 2)
    with api.db.writer() as session:
        api.quota_engine.set_limits(session, ALICE.project_id or "", {"backup_gigabytes": 3})
    api.backups.create(ALICE, BackupRequest(volume_id=volume["id"]))
    with pytest.raises(RequestTooLarge, match="Requested 2G, quota is 3G and 2G has been consumed"):
        api.backups.create(ALICE, BackupRequest(volume_id=volume["id"]))
    assert status(api, volume["id"]) == "available"


def test_backup_of_a_snapshot_and_the_admin_actions(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, host = cloud
    volume = api.create(ALICE, 1)
    write_volume(host, volume["id"], 0, b"in the snapshot")
    snapshot = api.snapshots.create(ALICE, volume["id"])
    write_volume(host, volume["id"], 0, b"after it.......")
    backup = api.backups.create(ALICE, BackupRequest(volume_id=volume["id"], snapshot_id=snapshot["id"]))
    assert api.snapshots.get(ALICE, snapshot["id"])["status"] == "available"
    fresh = api.create(ALICE, None, backup_id=backup["id"])
    assert read_volume(host, fresh["id"], 0, 15) == b"in the snapshot"

    with pytest.raises(Forbidden):
        api.backups.reset_status(ALICE, backup["id"], {"status": "error"})
    api.backups.reset_status(ADMIN, backup["id"], {"status": "error"})
    with pytest.raises(BadRequest):
        api.backups.reset_status(ADMIN, backup["id"], {"status": "creating"})
    updated = api.backups.update(ALICE, backup["id"], {"name": "renamed", "metadata": {"k": "v"}})
    assert updated["name"] == "renamed" and updated["metadata"] == {"k": "v"}
    with pytest.raises(Forbidden):
        api.backups.delete(ALICE, backup["id"], force=True)
    api.backups.delete(ADMIN, backup["id"], force=True)
    assert api.backups.list(ADMIN, ListOptions(all_projects=True))[0] == []


def test_a_host_that_dies_mid_backup_leaves_error_and_the_volume_usable(
    cloud: tuple[VolumeAPI, InProcessHost],
) -> None:
    api, host = cloud
    assert host.data is not None
    volume = api.create(ALICE, 1)
    host.hold = True
    backup = api.backups.create(ALICE, BackupRequest(volume_id=volume["id"]))
    assert status(api, volume["id"]) == "backing-up"
    host.data.recover()  # the service restarted: the cast it had taken is lost
    api.db.write(lambda s: states.change_status(s, volume["id"], {states.BACKING_UP}, states.AVAILABLE))
    assert api.backups.get(ALICE, backup["id"])["status"] == "error"
    host.release()  # a late delivery changes nothing
    assert api.backups.get(ALICE, backup["id"])["status"] == "error"


def test_a_volume_from_a_backup_with_no_volume_host_frees_the_backup(
    cloud: tuple[VolumeAPI, InProcessHost],
) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 1)
    backup = api.backups.create(ALICE, BackupRequest(volume_id=volume["id"]))
    api.db.write(lambda s: s.execute(delete(VolumePool)))  # no host reports capacity any more
    failed = api.create(ALICE, None, backup_id=backup["id"])
    assert status(api, failed["id"]) == "error"
    assert api.backups.get(ALICE, backup["id"])["status"] == "available"
