"""Snapshots through VolumeAPI with an in-process volume host on the fake driver: create (force for
in-use volumes), quota, metadata, delete, volume from snapshot, revert to the latest snapshot, and the
bad input each a clear 4xx that makes nothing."""

from __future__ import annotations

import pytest

from overcast.errors import BadRequest, Forbidden, NotFound, RequestTooLarge
from overcast.volume import states
from overcast.volume.api.service import VolumeAPI
from overcast.volume.api.snapshots import ListOptions
from overcast.volume.drivers.base import GiB
from tests.unit.volume.data_support import InProcessHost, read_volume, usage, write_volume
from tests.unit.volume.volume_api_support import ADMIN, ALICE, BOB


def set_status(api: VolumeAPI, volume_id: str, status: str) -> None:
    api.db.write(lambda s: states.change_status(s, volume_id, states.VOLUME_STATUSES, status))


def test_snapshot_holds_the_bytes_of_its_moment_and_a_volume_made_from_it_reads_them(
    cloud: tuple[VolumeAPI, InProcessHost],
) -> None:
    api, host = cloud
    volume = api.create(ALICE, 1, name="data")
    write_volume(host, volume["id"], 4096, b"before the snapshot")

    snapshot = api.snapshots.create(ALICE, volume["id"], name="snap", metadata={"why": "test"})
    write_volume(host, volume["id"], 4096, b"after  the snapshot")

    shown = api.snapshots.get(ALICE, snapshot["id"])
    assert shown["status"] == "available" and shown["size"] == 1 and shown["metadata"] == {"why": "test"}
    assert shown["os-extended-snapshot-attributes:progress"] == "100%"
    assert usage(api, ALICE.project_id or "")["snapshots"] == 1
    assert usage(api, ALICE.project_id or "")["gigabytes"] == 2

    copy = api.create(ALICE, None, snapshot_id=snapshot["id"])
    assert api.get(ALICE, copy["id"])["status"] == "available"
    assert read_volume(host, copy["id"], 4096, 19) == b"before the snapshot"


def test_in_use_volume_needs_force(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 1)
    set_status(api, volume["id"], states.IN_USE)
    with pytest.raises(BadRequest, match="must be available, but current status is: in-use"):
        api.snapshots.create(ALICE, volume["id"])
    assert api.snapshots.list(ALICE)[0] == []
    assert api.snapshots.create(ALICE, volume["id"], force="true")["status"] == "creating"
    with pytest.raises(BadRequest, match="not a boolean"):
        api.snapshots.create(ALICE, volume["id"], force="maybe")


def test_snapshot_quota_is_413_and_makes_nothing(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 1)
    with api.db.writer() as session:
        api.quota_engine.set_limits(session, ALICE.project_id or "", {"snapshots": 1})
    api.snapshots.create(ALICE, volume["id"])
    with pytest.raises(RequestTooLarge, match=r"Maximum number of snapshots allowed \(1\) exceeded"):
        api.snapshots.create(ALICE, volume["id"])
    assert len(api.snapshots.list(ALICE)[0]) == 1


def test_delete_removes_storage_row_and_quota_and_refuses_a_volume_with_snapshots(
    cloud: tuple[VolumeAPI, InProcessHost],
) -> None:
    api, host = cloud
    assert host.driver is not None
    volume = api.create(ALICE, 1)
    snapshot = api.snapshots.create(ALICE, volume["id"])
    with pytest.raises(BadRequest, match="dependent snapshots"):
        api.delete(ALICE, volume["id"])
    api.snapshots.delete(ALICE, snapshot["id"])
    with pytest.raises(NotFound):
        api.snapshots.get(ALICE, snapshot["id"])
    assert not host.driver.snapshot_path(snapshot["id"]).exists()
    assert usage(api, ALICE.project_id or "")["snapshots"] == 0
    assert usage(api, ALICE.project_id or "")["gigabytes"] == 1


def test_update_metadata_and_filters(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 1)
    one = api.snapshots.create(ALICE, volume["id"], name="one")
    api.snapshots.create(ALICE, volume["id"], name="two")
    assert api.snapshots.update(ALICE, one["id"], {"name": "uno", "description": "first"})["name"] == "uno"
    assert api.snapshots.set_metadata(ALICE, one["id"], {"a": "1"}, replace=False) == {"a": "1"}
    assert api.snapshots.set_metadata(ALICE, one["id"], {"b": "2"}, replace=False) == {"a": "1", "b": "2"}
    assert api.snapshots.set_metadata(ALICE, one["id"], {"c": "3"}, replace=True) == {"c": "3"}
    api.snapshots.delete_metadata_item(ALICE, one["id"], "c")
    with pytest.raises(NotFound):
        api.snapshots.delete_metadata_item(ALICE, one["id"], "c")
    names = [s["name"] for s in api.snapshots.list(ALICE, ListOptions(filters={"name": "uno"}))[0]]
    assert names == ["uno"]
    ordered = api.snapshots.list(ALICE, ListOptions(sort=[("name", "asc")], limit=1))[0]
    assert [s["name"] for s in ordered] == ["two"]
    assert api.snapshots.list(ALICE, ListOptions(with_count=True))[1] == 2
    with pytest.raises(BadRequest, match="sort key"):
        api.snapshots.list(ALICE, ListOptions(sort=[("bogus", "asc")]))


def test_other_projects_and_non_admins(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 1)
    snapshot = api.snapshots.create(ALICE, volume["id"])
    with pytest.raises(NotFound):
        api.snapshots.get(BOB, snapshot["id"])
    with pytest.raises(NotFound):
        api.snapshots.create(BOB, volume["id"])
    with pytest.raises(Forbidden):
        api.snapshots.reset_status(ALICE, snapshot["id"], {"status": "error"})
    api.snapshots.reset_status(ADMIN, snapshot["id"], {"status": "error"})
    with pytest.raises(BadRequest, match="valid status"):
        api.snapshots.reset_status(ADMIN, snapshot["id"], {"status": "bogus"})
    api.snapshots.reset_status(ADMIN, snapshot["id"], {"status": "creating"})
    with pytest.raises(BadRequest, match="must be available or error"):
        api.snapshots.delete(ALICE, snapshot["id"])
    api.snapshots.delete(ADMIN, snapshot["id"], force=True)
    assert api.snapshots.list(ADMIN, ListOptions(all_projects=True))[0] == []


def test_revert_to_the_latest_snapshot_only(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, host = cloud
    volume = api.create(ALICE, 1)
    write_volume(host, volume["id"], 0, b"first")
    first = api.snapshots.create(ALICE, volume["id"])
    write_volume(host, volume["id"], 0, b"second")
    second = api.snapshots.create(ALICE, volume["id"])
    write_volume(host, volume["id"], 0, b"third!")
    write_volume(host, volume["id"], GiB - 5, b"tail!")

    with pytest.raises(BadRequest, match="not the latest"):
        api.snapshots.revert(ALICE, volume["id"], first["id"])
    api.snapshots.revert(ALICE, volume["id"], second["id"])

    assert read_volume(host, volume["id"], 0, 6) == b"second"
    assert read_volume(host, volume["id"], GiB - 5, 5) == bytes(5)
    # Only what differed was rewritten: the sparse volume did not fill up with zeros.
    assert host.driver is not None
    assert host.driver.volume_path(volume["id"]).stat().st_blocks * 512 < 64 * 1024 * 1024
    assert api.get(ALICE, volume["id"])["status"] == "available"
    assert api.snapshots.get(ALICE, second["id"])["status"] == "available"
    set_status(api, volume["id"], states.IN_USE)
    with pytest.raises(BadRequest, match="must be available"):
        api.snapshots.revert(ALICE, volume["id"], second["id"])


def test_a_failed_driver_snapshot_ends_in_error(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, host = cloud
    assert host.driver is not None
    volume = api.create(ALICE, 1)
    host.driver.fail_next("create_snapshot")
    snapshot = api.snapshots.create(ALICE, volume["id"])
    assert api.snapshots.get(ALICE, snapshot["id"])["status"] == "error"
    api.snapshots.delete(ALICE, snapshot["id"])
    assert api.snapshots.list(ALICE)[0] == []


def test_cascading_volume_delete_takes_its_snapshots(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, host = cloud
    assert host.driver is not None and host.data is not None
    volume = api.create(ALICE, 1)
    snapshot = api.snapshots.create(ALICE, volume["id"])
    api.snapshots.reset_status(ADMIN, snapshot["id"], {"status": "creating"})
    with pytest.raises(BadRequest, match="must be available or error"):
        api.volumes.delete(ALICE, volume["id"], cascade=True)
    api.snapshots.reset_status(ADMIN, snapshot["id"], {"status": "available"})
    api.volumes.delete(ALICE, volume["id"], cascade=True)
    assert api.snapshots.get(ALICE, snapshot["id"])["status"] == "deleting"
    host.data.delete_snapshots_of(volume["id"])  # what the volume host's delete_volume does first
    assert api.snapshots.list(ALICE)[0] == []
    assert not host.driver.snapshot_path(snapshot["id"]).exists()
    assert usage(api, ALICE.project_id)["snapshots"] == 0
