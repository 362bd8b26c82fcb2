"""Generic volume groups through VolumeAPI with an in-process volume host (the fake driver, DataActions
and the real VolumeManager's create and delete): group types and their specs, groups with their volumes, group
snapshots settled by the host that finishes the last member, deletes that remove the rows and give the
quotas back, and Cinder's 4xx for what a group's state does not allow."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from overcast.context import RequestContext
from overcast.db import Database
from overcast.errors import BadRequest, Conflict, Forbidden, NotFound, RequestTooLarge
from overcast.volume.api.records import Record
from overcast.volume.api.service import VolumeAPI
from overcast.volume.api.snapshots import ListOptions
from overcast.volume.api.volumes import CreateRequest
from overcast.volume.manager import VolumeManager
from tests.unit.volume.data_support import InProcessHost, in_process_cloud, read_volume, usage, write_volume
from tests.unit.volume.volume_api_support import ADMIN, ALICE, BOB, HOST


@dataclass
class DeletingHost(InProcessHost):
    """Creates and deletes volumes with the volume host's own manager."""

    manager: VolumeManager | None = None

    hold_creates: bool = False
    held_creates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def create_volume(self, ctxt: RequestContext, host: str, volume_id: str, source: dict[str, Any]) -> None:
        self.messages.append(("create_volume", host, {"volume_id": volume_id, "source": source}))
        if self.hold_creates:
            self.held_creates.append((volume_id, source))
            return
        assert self.manager is not None
        self.manager.create_volume(ctxt, volume_id, source)

    def release_creates(self) -> None:
        """The volume host makes the volumes it was asked for, one after the other."""
        self.hold_creates = False
        held, self.held_creates = self.held_creates, []
        for volume_id, source in held:
            self.create_volume(RequestContext.admin(), HOST, volume_id, source)

    def delete_volume(self, ctxt: RequestContext, host: str, volume_id: str) -> None:
        super().delete_volume(ctxt, host, volume_id)
        assert self.manager is not None
        if not self.hold:
            self.manager.delete_volume(ctxt, volume_id)


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> tuple[VolumeAPI, DeletingHost]:
    api, plain = in_process_cloud(db, tmp_path)
    host = DeletingHost(data=plain.data, driver=plain.driver)
    api.hosts = host
    for part in (api.volumes, api.snapshots, api.groups, api.group_snapshots):
        part.hosts = host  # type: ignore[assignment]
    assert plain.data is not None and plain.driver is not None
    host.manager = VolumeManager(api.cloud, plain.data.host, driver=plain.driver)
    return api, host


def _group(api: VolumeAPI, ctxt: RequestContext = ALICE, *types: str) -> Record:
    group_type = api.group_types.create(ADMIN, {"name": f"gt-{len(api.group_types.list_all(ADMIN))}"})
    return api.groups.create(
        ctxt, {"name": "g", "group_type": group_type["id"], "volume_types": list(types) or ["__DEFAULT__"]}
    )


def test_group_types_and_their_specs(cloud: tuple[VolumeAPI, DeletingHost]) -> None:
    api, _ = cloud
    gold = api.group_types.create(
        ADMIN, {"name": "gold", "group_specs": {"consistent_group_snapshot_enabled": "<is> True"}}
    )
    hidden = api.group_types.create(ADMIN, {"name": "hidden", "is_public": False})
    assert gold["group_specs"] == {"consistent_group_snapshot_enabled": "<is> True"}
    with pytest.raises(Conflict):
        api.group_types.create(ADMIN, {"name": "gold"})
    with pytest.raises(Forbidden):
        api.group_types.create(ALICE, {"name": "mine"})
    with pytest.raises(BadRequest, match="Key names"):
        api.group_types.set_specs(ADMIN, gold["id"], {"bad key!": "x"})

    api.group_types.set_specs(ADMIN, gold["id"], {"foo": "bar"})
    api.group_types.set_specs(ADMIN, gold["id"], {"foo": "baz"})
    assert api.group_types.spec(ADMIN, gold["id"], "foo") == {"foo": "baz"}
    api.group_types.delete_spec(ADMIN, gold["id"], "foo")
    with pytest.raises(NotFound):
        api.group_types.spec(ADMIN, gold["id"], "foo")
    with pytest.raises(Forbidden):
        api.group_types.specs(ALICE, gold["id"])

    # A member sees public types without their specs, and no private one.
    assert [t["name"] for t in api.group_types.list_all(ALICE)] == ["gold"]
    assert "group_specs" not in api.group_types.get(ALICE, gold["id"])
    with pytest.raises(NotFound):
        api.group_types.get(ALICE, hidden["id"])
    assert [t["name"] for t in api.group_types.list_all(ADMIN, is_public="false")] == ["hidden"]
    with pytest.raises(NotFound, match="Default group type"):
        api.group_types.get(ALICE, "default")

    renamed = api.group_types.update(ADMIN, gold["id"], {"name": "platinum", "description": "best"})
    assert (renamed["name"], renamed["description"]) == ("platinum", "best")
    with pytest.raises(Conflict):
        api.group_types.update(ADMIN, hidden["id"], {"name": "platinum"})
    with pytest.raises(BadRequest):
        api.group_types.update(ADMIN, hidden["id"], {})


def test_a_group_holds_volumes_of_its_types_and_they_leave_before_being_deleted(
    cloud: tuple[VolumeAPI, DeletingHost],
) -> None:
    api, _ = cloud
    api.types.create(ADMIN, {"name": "other"})
    group = _group(api, ALICE)
    assert usage(api, ALICE.project_id)["groups"] == 1
    member = api.volumes.create(ALICE, _request(group["id"]))
    assert api.get(ALICE, member["id"])["group_id"] == group["id"]
    with pytest.raises(BadRequest, match="requested type must be supported by this group"):
        api.volumes.create(ALICE, _request(group["id"], volume_type="other"))
    with pytest.raises(NotFound):
        api.volumes.create(BOB, _request(group["id"]))
    with pytest.raises(BadRequest, match="belong to a group"):
        api.delete(ALICE, member["id"])

    loose = api.create(ALICE, 1)
    wrong_type = api.create(ALICE, 1, volume_type="other")
    with pytest.raises(BadRequest, match="not supported by the group"):
        api.groups.update(ALICE, group["id"], {"add_volumes": wrong_type["id"]})
    api.groups.update(ALICE, group["id"], {"add_volumes": loose["id"], "name": "renamed"})
    shown = api.groups.get(ALICE, group["id"])
    assert shown["name"] == "renamed" and sorted(shown["volumes"]) == sorted([member["id"], loose["id"]])
    other_group = _group(api, ALICE)
    with pytest.raises(BadRequest, match="already in group"):
        api.groups.update(ALICE, other_group["id"], {"add_volumes": loose["id"]})

    api.groups.update(ALICE, group["id"], {"remove_volumes": f"{loose['id']},{member['id']}"})
    assert api.groups.get(ALICE, group["id"])["volumes"] == []
    api.delete(ALICE, member["id"])
    with pytest.raises(BadRequest, match="can not be all empty"):
        api.groups.update(ALICE, group["id"], {})


def _request(group_id: str, volume_type: str | None = None) -> CreateRequest:
    return CreateRequest(size=1, group_id=group_id, volume_type=volume_type)


def test_group_snapshot_is_settled_by_the_last_member_and_deleted_with_them(
    cloud: tuple[VolumeAPI, DeletingHost],
) -> None:
    api, host = cloud
    group = _group(api, ALICE)
    first = api.volumes.create(ALICE, _request(group["id"]))
    second = api.volumes.create(ALICE, _request(group["id"]))

    host.hold = True
    made = api.group_snapshots.create(ALICE, group["id"], name="both")
    assert made["status"] == "creating"
    host.release()
    assert api.group_snapshots.get(ALICE, made["id"])["status"] == "available"
    members, _ = api.snapshots.list(ALICE, ListOptions(filters={}))
    assert sorted(s["volume_id"] for s in members) == sorted([first["id"], second["id"]])
    assert {s["group_snapshot_id"] for s in members} == {made["id"]}
    assert usage(api, ALICE.project_id)["snapshots"] == 2
    # Members go with their group snapshot, and a group with snapshots stays.
    with pytest.raises(BadRequest, match="part of a group"):
        api.snapshots.delete(ALICE, members[0]["id"])
    with pytest.raises(BadRequest, match="existing snapshots"):
        api.groups.delete(ALICE, group["id"], delete_volumes=True)

    api.group_snapshots.delete(ALICE, made["id"])
    with pytest.raises(NotFound):
        api.group_snapshots.get(ALICE, made["id"])
    assert api.snapshots.list(ALICE, ListOptions(filters={}))[0] == []
    assert usage(api, ALICE.project_id)["snapshots"] == 0


def test_a_failed_member_leaves_the_group_snapshot_in_error(cloud: tuple[VolumeAPI, DeletingHost]) -> None:
    api, host = cloud
    group = _group(api, ALICE)
    volume = api.volumes.create(ALICE, _request(group["id"]))
    host.hold = True
    made = api.group_snapshots.create(ALICE, group["id"])
    assert host.driver is not None
    host.driver.delete_volume(volume["id"])  # the storage is gone: the host's snapshot fails
    host.release()
    assert api.group_snapshots.get(ALICE, made["id"])["status"] == "error"
    # An error group snapshot can be deleted; its member had no storage made.
    api.group_snapshots.delete(ALICE, made["id"])
    with pytest.raises(NotFound):
        api.group_snapshots.get(ALICE, made["id"])


def test_a_group_deleted_with_its_volumes_goes_with_the_last_one(
    cloud: tuple[VolumeAPI, DeletingHost],
) -> None:
    api, host = cloud
    group = _group(api, ALICE)
    volumes = [api.volumes.create(ALICE, _request(group["id"])) for _ in range(2)]
    with pytest.raises(BadRequest, match="delete-volumes flag"):
        api.groups.delete(ALICE, group["id"], delete_volumes=False)

    host.hold = True
    api.groups.delete(ALICE, group["id"], delete_volumes=True)
    assert api.groups.get(ALICE, group["id"])["status"] == "deleting"
    assert {api.get(ALICE, v["id"])["status"] for v in volumes} == {"deleting"}
    with pytest.raises(BadRequest, match="must be available"):
        api.groups.update(ALICE, group["id"], {"name": "late"})
    # The host deletes them one by one; the group's row goes with the last.
    assert host.manager is not None
    host.manager.delete_volume(ALICE, volumes[0]["id"])
    assert api.groups.get(ALICE, group["id"])["status"] == "deleting"
    host.manager.delete_volume(ALICE, volumes[1]["id"])
    with pytest.raises(NotFound):
        api.groups.get(ALICE, group["id"])
    assert usage(api, ALICE.project_id)["groups"] == 0
    assert usage(api, ALICE.project_id)["volumes"] == 0


def test_an_empty_group_goes_at_once_and_the_groups_quota_holds(
    cloud: tuple[VolumeAPI, DeletingHost],
) -> None:
    api, _ = cloud
    group = _group(api, ALICE)
    api.groups.delete(ALICE, group["id"], delete_volumes=False)
    with pytest.raises(NotFound):
        api.groups.get(ALICE, group["id"])
    api.quota_sets.update(ADMIN, ALICE.project_id or "", {"groups": 1})
    _group(api, ALICE)
    with pytest.raises(RequestTooLarge, match="Maximum number of groups"):
        _group(api, ALICE)


def test_reset_status_is_for_admins_and_takes_cinders_statuses(cloud: tuple[VolumeAPI, DeletingHost]) -> None:
    api, _ = cloud
    group = _group(api, ALICE)
    made = api.group_snapshots.create(ALICE, group["id"])
    assert made["status"] == "available"  # an empty group's snapshot has no member to wait for
    with pytest.raises(Forbidden):
        api.groups.reset_status(ALICE, group["id"], "error")
    with pytest.raises(BadRequest):
        api.groups.reset_status(ADMIN, group["id"], "bogus")
    api.groups.reset_status(ADMIN, group["id"], "error")
    assert api.groups.get(ALICE, group["id"])["status"] == "error"
    with pytest.raises(Forbidden):
        api.group_snapshots.reset_status(ALICE, made["id"], "error")
    api.group_snapshots.reset_status(ADMIN, made["id"], "ERROR")
    assert api.group_snapshots.get(ALICE, made["id"])["status"] == "error"
    # Another project sees neither.
    with pytest.raises(NotFound):
        api.groups.get(BOB, group["id"])
    assert api.group_snapshots.list_all(BOB) == []


def test_a_group_made_from_a_group_snapshot_or_a_group_holds_copies_of_its_volumes(
    cloud: tuple[VolumeAPI, DeletingHost],
) -> None:
    api, host = cloud
    source = _group(api, ALICE)
    volume = api.volumes.create(ALICE, _request(source["id"]))
    write_volume(host, volume["id"], 0, b"at snapshot time")
    snapshot = api.group_snapshots.create(ALICE, source["id"])
    write_volume(host, volume["id"], 0, b"after the snapshot")

    host.hold_creates = True
    restored = api.groups.create_from_source(ALICE, {"name": "restored", "group_snapshot_id": snapshot["id"]})
    assert restored["status"] == "creating" and restored["group_snapshot_id"] == snapshot["id"]
    assert (
        restored["group_type"] == source["group_type"] and restored["volume_types"] == source["volume_types"]
    )
    host.release_creates()
    restored = api.groups.get(ALICE, restored["id"])
    assert restored["status"] == "available"
    (copy_id,) = restored["volumes"]
    assert read_volume(host, copy_id, 0, 16) == b"at snapshot time"

    cloned = api.groups.create_from_source(ALICE, {"source_group_id": source["id"]})
    cloned = api.groups.get(ALICE, cloned["id"])
    assert cloned["status"] == "available" and cloned["source_group_id"] == source["id"]
    (clone_id,) = cloned["volumes"]
    assert read_volume(host, clone_id, 0, 18) == b"after the snapshot"
    assert usage(api, ALICE.project_id)["groups"] == 3

    with pytest.raises(BadRequest, match="not both"):
        api.groups.create_from_source(
            ALICE, {"group_snapshot_id": snapshot["id"], "source_group_id": source["id"]}
        )
    with pytest.raises(NotFound):
        api.groups.create_from_source(BOB, {"source_group_id": source["id"]})


def test_a_group_from_a_source_is_error_when_a_volume_fails(cloud: tuple[VolumeAPI, DeletingHost]) -> None:
    api, host = cloud
    source = _group(api, ALICE)
    volume = api.volumes.create(ALICE, _request(source["id"]))
    host.hold_creates = True
    made = api.groups.create_from_source(ALICE, {"source_group_id": source["id"]})
    assert host.driver is not None
    host.driver.delete_volume(volume["id"])  # the source's storage is gone: the clone fails
    host.release_creates()
    assert api.groups.get(ALICE, made["id"])["status"] == "error"


def test_a_host_restarting_leaves_a_group_from_a_source_in_error_not_creating(
    cloud: tuple[VolumeAPI, DeletingHost],
) -> None:
    api, host = cloud
    source = _group(api, ALICE)
    api.volumes.create(ALICE, _request(source["id"]))
    host.hold_creates = True
    made = api.groups.create_from_source(ALICE, {"source_group_id": source["id"]})
    # The host died before making the copy; at its restart it ends what it left creating.
    assert host.manager is not None
    host.manager.recover()
    assert api.groups.get(ALICE, made["id"])["status"] == "error"


def test_every_group_and_group_snapshot_filter_listed_narrows_its_list(
    cloud: tuple[VolumeAPI, DeletingHost],
) -> None:
    api, _ = cloud
    group = _group(api, ALICE)
    api.group_snapshots.create(ALICE, group["id"], name="snap")
    listed = {entry["resource"]: entry["filters"] for entry in api.catalog.resource_filters(ALICE)}
    assert len(api.groups.list_all(ALICE)) == len(api.group_snapshots.list_all(ALICE)) == 1
    for name in listed["group"]:
        assert api.groups.list_all(ALICE, ListOptions(filters={name: "nothing-has-this"})) == [], name
    for name in listed["group_snapshot"]:
        assert api.group_snapshots.list_all(ALICE, ListOptions(filters={name: "nothing-has-this"})) == [], (
            name
        )
    assert [g["id"] for g in api.groups.list_all(ALICE, ListOptions(filters={"name": "g"}))] == [group["id"]]


def test_members_finishing_at_once_settle_the_group_snapshot_once(
    cloud: tuple[VolumeAPI, DeletingHost],
) -> None:
    api, host = cloud
    group = _group(api, ALICE)
    for _ in range(4):
        api.volumes.create(ALICE, _request(group["id"]))
    host.hold = True
    made = api.group_snapshots.create(ALICE, group["id"])
    held, host.paused = host.paused, []
    assert host.data is not None and len(held) == 4
    data = host.data
    start = threading.Barrier(len(held))

    def finish(snapshot_id: str) -> None:
        start.wait(30)
        data.create_snapshot(RequestContext.admin(), snapshot_id)

    threads = [threading.Thread(target=finish, args=args) for _, args in held]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert api.group_snapshots.get(ALICE, made["id"])["status"] == "available"
