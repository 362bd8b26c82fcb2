"""Snapshots, backups and transfers through real HTTP: openstacksdk's block_storage proxy and the
`openstack volume snapshot|backup|transfer request` CLI against the in-process cloud, with a volume host
on the fake volume driver whose volumes hold real bytes (written and read here through the driver)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openstack import exceptions
from openstack.block_storage.v3._proxy import Proxy as BlockStorageV3
from openstack.connection import Connection

from overcast.service import Service
from overcast.volume import states
from overcast.volume.drivers.fake import FakeVolumeDriver
from overcast.volume.manager import VolumeManager
from overcast.volume.quotas import VolumeQuotaEngine
from tests.support.cloud import InProcessCloud, project_token
from tests.support.waiting import WAIT_SECONDS, wait_until
from tests.unit.volume.driver_contract import read_at, write_at

VOLUME_HOST = "volume-1"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> FakeVolumeDriver:
    return FakeVolumeDriver(tmp_path_factory.mktemp("volume_pool"))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, driver: FakeVolumeDriver) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("volume_data"))
    manager = VolumeManager(running.cloud, VOLUME_HOST, driver=driver, images=running.image_api)
    service = Service(running.cloud, manager)
    service.start()
    yield running
    service.stop()
    running.stop()


@pytest.fixture(scope="module")
def demo(cloud: InProcessCloud) -> Connection:
    connection = cloud.connect("demo")
    # The module makes more volumes than Cinder's default quota of 10 allows one project.
    with cloud.cloud.db.writer() as session:
        limits = {"volumes": 100, "snapshots": 100}
        VolumeQuotaEngine().set_limits(session, connection.current_project_id or "", limits)
    return connection


@pytest.fixture(scope="module")
def demo_token(cloud: InProcessCloud) -> str:
    """One login for the module's raw requests (a login per request meets the login rate limit)."""
    return project_token(cloud, "demo")


def wait_for(get: Any, resource_id: str, status: str) -> Any:
    def reached() -> Any:
        found = get(resource_id)
        assert found.status not in ("error", "error_restoring") or status == found.status, found
        return found if found.status == status else None

    return wait_until(reached, timeout=30, what=f"{resource_id} to be {status}")


def v3(conn: Connection) -> BlockStorageV3:
    """The block storage proxy as the v3 one it is (the catalog lists no v2)."""
    proxy = conn.block_storage
    assert isinstance(proxy, BlockStorageV3)
    return proxy


def new_volume(demo: Connection, size: int = 1, name: str = "data") -> Any:
    volume = demo.block_storage.create_volume(size=size, name=name)
    return wait_for(demo.block_storage.get_volume, volume.id, "available")


def test_snapshot_and_volume_from_snapshot_with_openstacksdk(
    demo: Connection, driver: FakeVolumeDriver
) -> None:
    volume = new_volume(demo)
    write_at(driver, volume.id, 0, b"snapshot me")
    snapshot = demo.block_storage.create_snapshot(volume_id=volume.id, name="snap", metadata={"k": "v"})
    snapshot = wait_for(demo.block_storage.get_snapshot, snapshot.id, "available")
    assert (snapshot.size, snapshot.name, snapshot.metadata, snapshot.progress) == (
        1,
        "snap",
        {"k": "v"},
        "100%",
    )
    assert snapshot.user_id and snapshot.consumes_quota is True
    assert snapshot.id in [s.id for s in demo.block_storage.snapshots(details=True, volume_id=volume.id)]
    write_at(driver, volume.id, 0, b"overwritten")

    copy = demo.block_storage.create_volume(snapshot_id=snapshot.id, name="copy")
    copy = wait_for(demo.block_storage.get_volume, copy.id, "available")
    assert read_at(driver, copy.id, 0, 11) == b"snapshot me"

    demo.block_storage.delete_snapshot(snapshot)
    demo.block_storage.wait_for_delete(snapshot, wait=30)


def test_full_incremental_restore_and_volume_from_backup_with_openstacksdk(
    demo: Connection, driver: FakeVolumeDriver
) -> None:
    volume = new_volume(demo)
    first = os.urandom(MIB)
    write_at(driver, volume.id, 0, first)
    full = demo.block_storage.create_backup(volume_id=volume.id, name="full")
    full = wait_for(demo.block_storage.get_backup, full.id, "available")
    assert (full.size, full.is_incremental, full.volume_id) == (1, False, volume.id)
    write_at(driver, volume.id, 512 * MIB, b"second state")
    incremental = demo.block_storage.create_backup(volume_id=volume.id, name="inc", is_incremental=True)
    incremental = wait_for(demo.block_storage.get_backup, incremental.id, "available")
    assert incremental.is_incremental and incremental.object_count < full.object_count + 1
    assert demo.block_storage.get_backup(full.id).has_dependent_backups

    # A parent with children stays: a clear 400.
    with pytest.raises(exceptions.BadRequestException, match="Incremental backups exist"):
        demo.block_storage.delete_backup(full)

    # Change the volume again, then restore the full backup onto it: the first state comes back.
    write_at(driver, volume.id, 0, b"third state")
    demo.block_storage.restore_backup(full, volume=volume.id)
    wait_for(demo.block_storage.get_backup, full.id, "available")
    wait_for(demo.block_storage.get_volume, volume.id, "available")
    assert read_at(driver, volume.id, 0, MIB) == first
    assert read_at(driver, volume.id, 512 * MIB, 12) == bytes(12)

    # The incremental one into a new volume (restore with a name) and through 3.47's backup_id.
    restored = demo.block_storage.restore_backup(incremental, name="restored")
    restored_volume = wait_for(demo.block_storage.get_volume, restored.volume_id, "available")
    assert restored_volume.name == "restored"
    assert read_at(driver, restored_volume.id, 0, MIB) == first
    assert read_at(driver, restored_volume.id, 512 * MIB, 12) == b"second state"
    from_backup = demo.block_storage.create_volume(backup_id=incremental.id, name="from-backup")
    from_backup = wait_for(demo.block_storage.get_volume, from_backup.id, "available")
    assert read_at(driver, from_backup.id, 512 * MIB, 12) == b"second state"

    demo.block_storage.delete_backup(incremental)
    demo.block_storage.wait_for_delete(incremental, wait=30)
    demo.block_storage.delete_backup(full)
    demo.block_storage.wait_for_delete(full, wait=30)


def test_bad_input_is_a_clear_4xx(cloud: InProcessCloud, demo: Connection, demo_token: str) -> None:
    big = new_volume(demo, size=2, name="big")
    small = new_volume(demo, size=1, name="small")
    backup = demo.block_storage.create_backup(volume_id=big.id)
    wait_for(demo.block_storage.get_backup, backup.id, "available")
    with pytest.raises(exceptions.BadRequestException, match="too small to restore backup"):
        demo.block_storage.restore_backup(backup.id, volume=small.id)
    assert demo.block_storage.get_volume(small.id).status == "available"

    token = demo_token
    base = f"{cloud.base_url}/volume/v3"
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.60"}
    # An in-use volume without force (before 3.66).
    cloud.cloud.db.write(lambda s: states.change_status(s, small.id, {states.AVAILABLE}, states.IN_USE))
    refused = httpx.post(
        f"{base}/snapshots", headers=headers, json={"snapshot": {"volume_id": small.id}}, timeout=WAIT_SECONDS
    )
    assert refused.status_code == 400 and "in-use" in refused.json()["badRequest"]["message"]
    forced = httpx.post(
        f"{base}/snapshots",
        headers=headers,
        json={"snapshot": {"volume_id": small.id, "force": True}},
        timeout=WAIT_SECONDS,
    )
    assert forced.status_code == 202 and forced.json()["snapshot"]["status"] == "creating"
    unknown = httpx.post(
        f"{base}/backups",
        headers=headers,
        json={"backup": {"volume_id": small.id, "bogus": 1}},
        timeout=WAIT_SECONDS,
    )
    assert unknown.status_code == 400
    missing = httpx.get(f"{base}/backups/nope", headers=headers, timeout=WAIT_SECONDS)
    assert missing.status_code == 404 and "itemNotFound" in missing.json()
    no_increment = httpx.post(
        f"{base}/backups",
        headers=headers,
        json={"backup": {"volume_id": big.id, "incremental": "maybe"}},
        timeout=WAIT_SECONDS,
    )
    assert no_increment.status_code == 400


def test_transfer_to_another_project_with_the_cli(cloud: InProcessCloud, demo: Connection) -> None:
    volume = new_volume(demo, name="gift")
    offer = cloud.openstack(
        "volume",
        "transfer",
        "request",
        "create",
        "--name",
        "to-admin",
        volume.id,
        "-f",
        "json",
        user="overcast-demo",
    )
    assert offer["auth_key"] and offer["volume_id"] == volume.id
    assert demo.block_storage.get_volume(volume.id).status == "awaiting-transfer"
    listed = cloud.openstack("volume", "transfer", "request", "list", "-f", "json", user="overcast-demo")
    assert [t["ID"] for t in listed] == [offer["id"]]

    wrong = cloud.openstack(
        "volume",
        "transfer",
        "request",
        "accept",
        "--auth-key",
        "0123456789abcdef",
        offer["id"],
        user="overcast-admin",
        check=False,
    )
    assert wrong.returncode != 0 and "invalid auth key" in wrong.stderr.lower()
    accepted = cloud.openstack(
        "volume",
        "transfer",
        "request",
        "accept",
        "--auth-key",
        offer["auth_key"],
        offer["id"],
        "-f",
        "json",
        user="overcast-admin",
    )
    assert accepted["volume_id"] == volume.id
    admin = cloud.connect("admin")
    moved = admin.block_storage.get_volume(volume.id)
    assert moved.status == "available" and moved.project_id == admin.current_project_id
    with pytest.raises(exceptions.NotFoundException):
        demo.block_storage.get_volume(volume.id)


def test_snapshot_and_backup_with_the_cli(cloud: InProcessCloud, demo: Connection) -> None:
    volume = new_volume(demo, name="cli-source")
    snapshot = cloud.openstack(
        "volume", "snapshot", "create", "--volume", volume.id, "cli-snap", "-f", "json"
    )
    wait_for(demo.block_storage.get_snapshot, snapshot["id"], "available")
    shown = cloud.openstack("volume", "snapshot", "show", "cli-snap", "-f", "json")
    assert shown["status"] == "available" and shown["volume_id"] == volume.id
    backup = cloud.openstack("volume", "backup", "create", "--name", "cli-backup", volume.id, "-f", "json")
    wait_for(demo.block_storage.get_backup, backup["id"], "available")
    listed = cloud.openstack("volume", "backup", "list", "-f", "json")
    assert "cli-backup" in [row["Name"] for row in listed]
    cloud.openstack("volume", "backup", "delete", "cli-backup")
    cloud.openstack("volume", "snapshot", "delete", "cli-snap")
    wait_until(
        lambda: not demo.block_storage.find_snapshot("cli-snap", ignore_missing=True),
        timeout=30,
        what="the snapshot to go",
    )


def test_revert_to_the_latest_snapshot_with_openstacksdk_and_the_cli(
    cloud: InProcessCloud, demo: Connection, driver: FakeVolumeDriver
) -> None:
    volume = new_volume(demo, name="revertible")
    write_at(driver, volume.id, 0, b"version one")
    older = demo.block_storage.create_snapshot(volume_id=volume.id, name="older")
    wait_for(demo.block_storage.get_snapshot, older.id, "available")
    write_at(driver, volume.id, 0, b"version two")
    latest = demo.block_storage.create_snapshot(volume_id=volume.id, name="latest")
    wait_for(demo.block_storage.get_snapshot, latest.id, "available")
    write_at(driver, volume.id, 0, b"version 3!!")

    with pytest.raises(exceptions.BadRequestException, match="not the latest"):
        v3(demo).revert_volume_to_snapshot(volume.id, older.id)
    v3(demo).revert_volume_to_snapshot(volume.id, latest.id)
    wait_for(demo.block_storage.get_volume, volume.id, "available")
    assert read_at(driver, volume.id, 0, 11) == b"version two"

    write_at(driver, volume.id, 0, b"version 4!!")
    cloud.openstack("--os-volume-api-version", "3.40", "volume", "revert", "latest")
    wait_for(demo.block_storage.get_volume, volume.id, "available")
    assert read_at(driver, volume.id, 0, 11) == b"version two"


def test_admin_actions_on_snapshots_and_backups(cloud: InProcessCloud, demo: Connection) -> None:
    volume = new_volume(demo, name="admin-actions")
    snapshot = demo.block_storage.create_snapshot(volume_id=volume.id)
    wait_for(demo.block_storage.get_snapshot, snapshot.id, "available")
    backup = demo.block_storage.create_backup(volume_id=volume.id)
    wait_for(demo.block_storage.get_backup, backup.id, "available")
    with pytest.raises(exceptions.ForbiddenException):
        demo.block_storage.reset_snapshot_status(snapshot.id, "error")
    admin = cloud.connect("admin")
    admin.block_storage.reset_snapshot_status(snapshot.id, "error")
    admin.block_storage.reset_backup_status(backup.id, "error")
    assert demo.block_storage.get_snapshot(snapshot.id).status == "error"
    assert demo.block_storage.get_backup(backup.id).status == "error"
    admin.block_storage.delete_snapshot(snapshot.id, force=True)
    admin.block_storage.delete_backup(backup.id, force=True)
    demo.block_storage.wait_for_delete(snapshot, wait=30)
    demo.block_storage.wait_for_delete(backup, wait=30)


def test_cascading_delete_removes_the_volume_and_its_snapshots(
    demo: Connection, driver: FakeVolumeDriver
) -> None:
    volume = new_volume(demo, name="with-snapshots")
    snapshot = demo.block_storage.create_snapshot(volume_id=volume.id)
    wait_for(demo.block_storage.get_snapshot, snapshot.id, "available")
    with pytest.raises(exceptions.BadRequestException, match="dependent snapshots"):
        demo.block_storage.delete_volume(volume.id)
    demo.block_storage.delete_volume(volume.id, cascade=True)
    demo.block_storage.wait_for_delete(volume, wait=30)
    assert demo.block_storage.find_snapshot(snapshot.id, ignore_missing=True) is None
    assert not driver.snapshot_path(snapshot.id).exists()


def test_transfer_without_snapshots_with_openstacksdk(cloud: InProcessCloud, demo: Connection) -> None:
    volume = new_volume(demo, name="sdk-gift")
    snapshot = demo.block_storage.create_snapshot(volume_id=volume.id)
    wait_for(demo.block_storage.get_snapshot, snapshot.id, "available")
    transfer = v3(demo).create_transfer(volume_id=volume.id, name="sdk", no_snapshots=True)
    assert transfer.auth_key and transfer.no_snapshots is True
    assert [t.id for t in v3(demo).transfers()] == [transfer.id]
    admin = cloud.connect("admin")
    accepted = v3(admin).accept_transfer(transfer.id, transfer.auth_key)
    assert accepted.volume_id == volume.id
    assert admin.block_storage.get_volume(volume.id).project_id == admin.current_project_id
    # The snapshot stayed with its project.
    assert demo.block_storage.get_snapshot(snapshot.id).project_id == demo.current_project_id


def test_in_use_snapshot_needs_no_force_from_3_66(
    cloud: InProcessCloud, demo: Connection, demo_token: str
) -> None:
    volume = new_volume(demo, name="attached")
    cloud.cloud.db.write(lambda s: states.change_status(s, volume.id, {states.AVAILABLE}, states.IN_USE))
    headers = {"X-Auth-Token": demo_token, "OpenStack-API-Version": "volume 3.66"}
    url = f"{cloud.base_url}/volume/v3/snapshots"
    made = httpx.post(url, headers=headers, json={"snapshot": {"volume_id": volume.id}}, timeout=WAIT_SECONDS)
    assert made.status_code == 202, made.text
    refused = httpx.post(
        url,
        headers=headers,
        json={"snapshot": {"volume_id": volume.id, "force": False}},
        timeout=WAIT_SECONDS,
    )
    assert refused.status_code == 400 and "force" in refused.json()["badRequest"]["message"]


ODD_REQUESTS: list[tuple[str, str, Any]] = [
    ("POST", "/snapshots", {"snapshot": {"volume_id": 7}}),
    ("POST", "/snapshots", {"snapshot": {"volume_id": "{volume}", "name": 5, "metadata": ["x"]}}),
    ("POST", "/snapshots", {"snapshot": {"volume_id": "{volume}", "force": {"x": 1}}}),
    ("POST", "/snapshots", {"snapshot": None}),
    ("POST", "/snapshots", [1, 2]),
    ("GET", "/snapshots?limit=-1", None),
    ("GET", "/snapshots?marker=nope", None),
    ("GET", "/snapshots?sort=bogus:asc", None),
    ("GET", "/snapshots?sort=name:sideways", None),
    ("GET", "/snapshots?metadata=notadict", None),
    ("PUT", "/snapshots/nope", {"snapshot": {"name": "x"}}),
    ("POST", "/snapshots/nope/action", {"os-reset_status": None}),
    ("POST", "/snapshots/nope/metadata", {"metadata": "x"}),
    ("POST", "/backups", {"backup": {"volume_id": "{volume}", "container": 3}}),
    ("POST", "/backups", {"backup": {"volume_id": "{volume}", "snapshot_id": 3}}),
    ("POST", "/backups", {"backup": {"volume_id": "{volume}", "incremental": []}}),
    ("POST", "/backups", {"backup": {"volume_id": "{volume}", "snapshot_id": "nope"}}),
    ("GET", "/backups?limit=x&marker=y", None),
    ("PUT", "/backups/nope", {"backup": {"name": 1}}),
    ("POST", "/backups/nope/restore", {"restore": "x"}),
    ("POST", "/backups/nope/restore", {"restore": {"volume_id": 5}}),
    ("POST", "/backups/nope/restore", {}),
    ("POST", "/backups/nope/action", {"os-force_delete": {}, "os-reset_status": {}}),
    ("POST", "/os-volume-transfer", {"transfer": {"volume_id": "{volume}", "name": 1}}),
    ("POST", "/volume-transfers", {"transfer": {"volume_id": "{volume}", "no_snapshots": "perhaps"}}),
    ("POST", "/os-volume-transfer/nope/accept", {"accept": {"auth_key": 12}}),
    ("POST", "/os-volume-transfer/nope/accept", {"accept": {}}),
    ("GET", "/os-volume-transfer?limit=abc", None),
    ("POST", "/volumes/{volume}/action", {"revert": {"snapshot_id": 4}}),
    ("POST", "/volumes/{volume}/action", {"revert": "x"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ODD_REQUESTS)
def test_odd_requests_are_4xx_in_cinders_shape(
    cloud: InProcessCloud, demo: Connection, method: str, path: str, body: Any, demo_token: str
) -> None:
    volume = demo.block_storage.find_volume("odd-input", ignore_missing=True) or new_volume(
        demo, name="odd-input"
    )
    headers = {"X-Auth-Token": demo_token, "OpenStack-API-Version": "volume 3.71"}
    url = f"{cloud.base_url}/volume/v3{path.replace('{volume}', volume.id)}"
    payload = json.loads(json.dumps(body).replace("{volume}", volume.id)) if body is not None else None
    answer = httpx.request(method, url, headers=headers, json=payload, timeout=30)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    (kind,) = answer.json()
    assert answer.json()[kind]["code"] == answer.status_code


def test_snapshot_metadata_routes(cloud: InProcessCloud, demo: Connection, demo_token: str) -> None:
    volume = new_volume(demo, name="meta-source")
    snapshot = demo.block_storage.create_snapshot(volume_id=volume.id, metadata={"a": "1"})
    base = f"{cloud.base_url}/volume/v3/snapshots/{snapshot.id}/metadata"
    headers = {"X-Auth-Token": demo_token}
    assert httpx.post(base, headers=headers, json={"metadata": {"b": "2"}}, timeout=WAIT_SECONDS).json() == {
        "metadata": {"a": "1", "b": "2"}
    }
    assert httpx.put(
        f"{base}/b", headers=headers, json={"meta": {"b": "3"}}, timeout=WAIT_SECONDS
    ).json() == {"meta": {"b": "3"}}
    assert httpx.get(f"{base}/b", headers=headers, timeout=WAIT_SECONDS).json() == {"meta": {"b": "3"}}
    assert httpx.delete(f"{base}/a", headers=headers, timeout=WAIT_SECONDS).status_code == 200
    assert httpx.get(f"{base}/a", headers=headers, timeout=WAIT_SECONDS).status_code == 404
    assert httpx.put(base, headers=headers, json={"metadata": {"c": "4"}}, timeout=WAIT_SECONDS).json() == {
        "metadata": {"c": "4"}
    }
    listed = httpx.get(
        f"{cloud.base_url}/volume/v3/snapshots/detail",
        headers=headers,
        params={"metadata": "{'c': '4'}"},
        timeout=WAIT_SECONDS,
    ).json()["snapshots"]
    assert [s["id"] for s in listed] == [snapshot.id]
