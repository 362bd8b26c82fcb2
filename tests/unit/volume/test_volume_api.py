"""VolumeAPI on a real database: create and placement, quotas, the attach/detach flow compute drives,
and the bad input of issue #15's list (each a clear 4xx, nothing half-made)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from overcast.db import Database
from overcast.db.models.volume import Volume, VolumeAttachment
from overcast.errors import BadRequest, NotFound, RequestTooLarge
from overcast.volume import states
from overcast.volume.api.service import VolumeAPI
from overcast.volume.quotas import release_volume
from tests.unit.volume.volume_api_support import (
    ADMIN,
    ALICE,
    BOB,
    HOST,
    RecordingHosts,
    register_volume_host,
    volume_api,
)

CONNECTOR = {"host": "compute1", "initiator": "iqn.2010-10.org.overcast:host:compute1", "ip": "127.0.0.1"}


@pytest.fixture
def hosts() -> RecordingHosts:
    return RecordingHosts()


@pytest.fixture
def api(db: Database, tmp_path: Path, hosts: RecordingHosts) -> VolumeAPI:
    register_volume_host(db)
    return volume_api(db, tmp_path, hosts)


def _status(db: Database, volume_id: str) -> str:
    with db.reader() as session:
        volume = session.get(Volume, volume_id)
        assert volume is not None
        return volume.status


def _set_status(db: Database, volume_id: str, status: str) -> None:
    db.write(lambda session: states.change_status(session, volume_id, states.VOLUME_STATUSES, status))


def _usage(api: VolumeAPI, project: str) -> dict[str, int]:
    with api.db.reader() as session:
        return api.quota_engine.get_usage(session, project)


def test_create_places_the_volume_on_the_live_host_and_counts_quota(
    api: VolumeAPI, hosts: RecordingHosts
) -> None:
    volume = api.create(ALICE, 1, name="data", metadata={"k": "v"})
    assert volume["status"] == "creating"
    assert volume["volume_type"] == "__DEFAULT__"
    assert volume["availability_zone"] == "nova"
    assert volume["metadata"] == {"k": "v"}
    assert volume["os-vol-host-attr:host"] == f"{HOST}@pool#pool"
    assert hosts.messages == [("create_volume", HOST, {"volume_id": volume["id"], "source": {}})]
    usage = _usage(api, "project-a")
    assert usage["volumes"] == 1 and usage["gigabytes"] == 1 and usage["volumes___DEFAULT__"] == 1


def test_no_live_host_leaves_the_volume_in_error_with_cinders_reason(db: Database, tmp_path: Path) -> None:
    hosts = RecordingHosts()
    api = volume_api(db, tmp_path, hosts)  # no volume host registered
    volume = api.create(ALICE, 1)
    assert volume["status"] == "error"
    assert volume["_fail_reason"] == "No valid backend was found."
    assert hosts.messages == []
    api.delete(ALICE, volume["id"])  # never placed: gone at once, quota given back
    with pytest.raises(NotFound):
        api.get(ALICE, volume["id"])
    assert _usage(api, "project-a")["volumes"] == 0


@pytest.mark.parametrize("size", [0, -1, "x", True, 2**31])
def test_bad_sizes_are_400_and_make_nothing(api: VolumeAPI, size: object) -> None:
    with pytest.raises(BadRequest):
        api.create(ALICE, size)  # type: ignore[arg-type]
    with api.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Volume)) == 0
    assert _usage(api, "project-a")["volumes"] == 0


def test_over_quota_is_413_and_makes_nothing(api: VolumeAPI) -> None:
    with pytest.raises(RequestTooLarge, match="gigabytes"):
        api.create(ALICE, 1001)
    with pytest.raises(NotFound, match="Volume type with name nope"):
        api.create(ALICE, 1, volume_type="nope")
    with api.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Volume)) == 0


def test_another_projects_volume_does_not_exist(api: VolumeAPI) -> None:
    volume = api.create(ALICE, 1)
    with pytest.raises(NotFound):
        api.get(BOB, volume["id"])
    with pytest.raises(NotFound):
        api.delete(BOB, volume["id"])
    with pytest.raises(NotFound):
        api.attachment_create(BOB, volume["id"], "server-b")
    assert api.get(ADMIN, volume["id"])["id"] == volume["id"]


def test_attach_flow_and_detach(api: VolumeAPI, hosts: RecordingHosts) -> None:
    volume = api.create(ALICE, 1)
    _set_status(api.db, volume["id"], states.AVAILABLE)
    attachment = api.attachment_create(ALICE, volume["id"], "server-1")
    assert attachment["status"] == "reserved"
    assert _status(api.db, volume["id"]) == "reserved"
    with pytest.raises(BadRequest, match="status must be available"):
        api.attachment_create(ALICE, volume["id"], "server-2")

    info = api.attachment_update(ALICE, attachment["id"], {**CONNECTOR, "mountpoint": "/dev/vdb"})
    assert info["driver_volume_type"] == "fake"
    assert info["data"]["access_mode"] == "rw" and info["data"]["qos_specs"] is None
    assert _status(api.db, volume["id"]) == "attaching"
    api.attachment_complete(ALICE, attachment["id"])
    shown = api.get(ALICE, volume["id"])
    assert shown["status"] == "in-use"
    assert shown["attachments"][0]["server_id"] == "server-1"
    assert shown["attachments"][0]["device"] == "/dev/vdb"

    with pytest.raises(BadRequest, match="in-use"):
        api.attachment_create(ALICE, volume["id"], "server-2")
    with pytest.raises(BadRequest, match="attached"):
        api.delete(ALICE, volume["id"])

    api.begin_detaching(ALICE, volume["id"])
    assert _status(api.db, volume["id"]) == "detaching"
    api.roll_detaching(ALICE, volume["id"])
    assert _status(api.db, volume["id"]) == "in-use"
    api.begin_detaching(ALICE, volume["id"])
    api.attachment_delete(ALICE, attachment["id"])
    shown = api.get(ALICE, volume["id"])
    assert shown["status"] == "available" and shown["attachments"] == []
    assert hosts.names()[-1] == "terminate_connection"
    with api.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(VolumeAttachment)) == 0


def test_failed_export_marks_the_attachment_and_returns_the_volume_to_reserved(
    api: VolumeAPI, hosts: RecordingHosts
) -> None:
    volume = api.create(ALICE, 1)
    _set_status(api.db, volume["id"], states.AVAILABLE)
    attachment = api.attachment_create(ALICE, volume["id"], "server-1")
    hosts.fail_connect = True
    with pytest.raises(RuntimeError):
        api.attachment_update(ALICE, attachment["id"], CONNECTOR)
    assert api.attachment_get(ALICE, attachment["id"])["status"] == "error_attaching"
    assert _status(api.db, volume["id"]) == "reserved"
    api.attachment_delete(ALICE, attachment["id"])
    assert _status(api.db, volume["id"]) == "available"


def test_an_attachment_no_host_connected_completes_but_a_failed_connect_does_not(
    api: VolumeAPI, hosts: RecordingHosts
) -> None:
    """Nova attaches to a shelved-offloaded server with no connector: the volume is in-use, exported
    nowhere, until a host connects it; one whose connect failed must connect before it completes."""
    volume = api.create(ALICE, 1)
    _set_status(api.db, volume["id"], states.AVAILABLE)
    unconnected = api.attachment_create(ALICE, volume["id"], "server-1")
    api.attachment_complete(ALICE, unconnected["id"])
    shown = api.get(ALICE, volume["id"])
    assert shown["status"] == "in-use" and shown["attachments"][0]["host_name"] is None
    assert "initialize_connection" not in hosts.names()
    api.begin_detaching(ALICE, volume["id"])
    api.attachment_delete(ALICE, unconnected["id"])
    assert _status(api.db, volume["id"]) == "available"
    assert "terminate_connection" not in hosts.names()

    failed = api.attachment_create(ALICE, volume["id"], "server-1")
    hosts.fail_connect = True
    with pytest.raises(RuntimeError):
        api.attachment_update(ALICE, failed["id"], CONNECTOR)
    with pytest.raises(BadRequest, match="not connected"):
        api.attachment_complete(ALICE, failed["id"])
    assert _status(api.db, volume["id"]) == "reserved"


def test_extend_rules(api: VolumeAPI, hosts: RecordingHosts) -> None:
    volume = api.create(ALICE, 2)
    with pytest.raises(BadRequest, match="status must be 'available'"):
        api.volumes.extend(ALICE, volume["id"], 3, attached_ok=False)  # still creating
    _set_status(api.db, volume["id"], states.AVAILABLE)
    with pytest.raises(BadRequest, match="greater than current size"):
        api.volumes.extend(ALICE, volume["id"], 1, attached_ok=False)
    api.volumes.extend(ALICE, volume["id"], 3, attached_ok=False)
    assert _status(api.db, volume["id"]) == "extending"
    assert hosts.messages[-1] == ("extend_volume", HOST, {"volume_id": volume["id"], "new_size": 3})
    assert _usage(api, "project-a")["gigabytes"] == 3


def test_delete_casts_to_the_host_and_the_host_releases_quota(api: VolumeAPI, hosts: RecordingHosts) -> None:
    volume = api.create(ALICE, 5)
    with pytest.raises(BadRequest):
        api.delete(ALICE, volume["id"])  # creating
    _set_status(api.db, volume["id"], states.AVAILABLE)
    api.delete(ALICE, volume["id"])
    assert _status(api.db, volume["id"]) == "deleting"
    assert hosts.messages[-1] == ("delete_volume", HOST, {"volume_id": volume["id"]})

    def host_finishes(session: object) -> None:  # what the volume manager does after removing the data
        row = session.get(Volume, volume["id"])  # type: ignore[attr-defined]
        release_volume(session, row)  # type: ignore[arg-type]
        session.delete(row)  # type: ignore[attr-defined]

    api.db.write(host_finishes)
    assert _usage(api, "project-a")["gigabytes"] == 0


def test_list_filters_sorts_and_pages(api: VolumeAPI) -> None:
    made = [api.create(ALICE, size, name=f"v{size}") for size in (1, 2, 3)]
    api.create(BOB, 1, name="bob's")
    listed, count = api.volumes.list(ALICE, sort=[("size", "asc")], with_count=True)
    assert [v["name"] for v in listed] == ["v1", "v2", "v3"] and count == 3
    page, _ = api.volumes.list(ALICE, sort=[("size", "asc")], marker=made[0]["id"], limit=1)
    assert [v["name"] for v in page] == ["v2"]
    named, _ = api.volumes.list(ALICE, filters={"name": "v2"})
    assert [v["id"] for v in named] == [made[1]["id"]]
    everyone, _ = api.volumes.list(ADMIN, all_projects=True)
    assert len(everyone) == 4


def test_a_clone_goes_where_its_source_is(db: Database, tmp_path: Path) -> None:
    register_volume_host(db, "small-host", total_gb=10.0)
    hosts = RecordingHosts()
    api = volume_api(db, tmp_path, hosts)
    source = api.create(ALICE, 1)
    assert source["_host"] == "small-host"
    register_volume_host(db, "big-host", total_gb=1000.0)
    _set_status(db, source["id"], states.AVAILABLE)
    assert api.create(ALICE, 1)["_host"] == "big-host"  # an empty volume goes where the room is
    clone = api.create(ALICE, 2, source_volid=source["id"])
    assert clone["_host"] == "small-host" and clone["source_volid"] == source["id"]
    assert hosts.messages[-1] == ("create_volume", "small-host", {"volume_id": clone["id"], "source": {
        "source_volid": source["id"]}})  # fmt: skip
    too_big = api.create(ALICE, 50, source_volid=source["id"])
    assert too_big["status"] == "error" and too_big["_fail_reason"] == "No valid backend was found."
