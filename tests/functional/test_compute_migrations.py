"""Cold migration and the migration records end to end: openstacksdk and the `openstack` CLI → API →
conductor → scheduler → two fake compute hosts, with os-migrations and /servers/{id}/migrations.
"""

from __future__ import annotations

from typing import Any

import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection
from sqlalchemy import select

from overcast.db.models.compute import ComputeNode
from overcast.db.models.image import Image
from overcast.db.models.migrations import Migration
from overcast.virt.driver import DriverError
from overcast.virt.fake import FakeDriver
from tests.support.cloud import COMPUTE_HOSTS, IMAGE_ID, TINY, InProcessCloud
from tests.support.compute_api import INTERVAL, WAIT_SECONDS, compute, settled


def active(conn: Connection, name: str) -> Any:
    created = conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    return conn.compute.wait_for_server(
        created, status="ACTIVE", failures=["ERROR"], interval=INTERVAL, wait=WAIT_SECONDS
    )


def other_host(host: str) -> str:
    return next(name for name in COMPUTE_HOSTS if name != host)


def records(cloud: InProcessCloud, server_id: str) -> list[Migration]:
    with cloud.cloud.db.reader() as session:
        query = select(Migration).where(Migration.instance_uuid == server_id).order_by(Migration.id)
        return list(session.scalars(query))


def used_memory(cloud: InProcessCloud, host: str) -> int:
    with cloud.cloud.db.reader() as session:
        return sum(session.scalars(select(ComputeNode.memory_mb_used).where(ComputeNode.host == host)))


def set_aside(cloud: InProcessCloud, host: str) -> set[str]:
    """The instances whose pre-move disks the fake hypervisor of `host` still keeps."""
    driver = cloud.drivers[host]
    assert isinstance(driver, FakeDriver)
    return set(driver.hypervisor.set_aside)


def test_cold_migrate_then_confirm_moves_the_server_and_releases_the_source(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    server = active(demo, "migrant")
    source = admin.compute.get_server(server.id).compute_host
    dest = other_host(source)
    admin.compute.migrate_server(server)
    moved = settled(admin, server.id, "VERIFY_RESIZE")
    assert moved.compute_host == dest
    assert server.id in set_aside(cloud, source)
    (listed,) = admin.compute.migrations(server_id=server.id)
    assert (listed.migration_type, listed.status) == ("migration", "finished")
    assert (listed.source_compute, listed.dest_compute) == (source, dest)
    assert listed.old_flavor_id == listed.new_flavor_id is not None
    assert listed.dest_node and listed.source_node and listed.uuid == records(cloud, server.id)[0].uuid
    assert used_memory(cloud, source) == used_memory(cloud, dest) == 512  # both hold it until confirm

    demo.compute.confirm_server_resize(server)
    confirmed = settled(demo, server.id, "ACTIVE")
    assert admin.compute.get_server(server.id).compute_host == dest and confirmed.flavor["vcpus"] == 1
    assert [record.status for record in records(cloud, server.id)] == ["confirmed"]
    assert server.id not in set_aside(cloud, source) and used_memory(cloud, source) == 0
    assert used_memory(cloud, dest) == 512
    actions = [action.action for action in demo.compute.server_actions(server)]
    assert actions[:2] == ["confirmResize", "migrate"]
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)
    assert used_memory(cloud, dest) == 0
    # A deleted server's moves go with it (Nova soft-deletes them with the instance).
    assert [record.deleted for record in records(cloud, server.id)] == [True]
    assert list(admin.compute.migrations(server_id=server.id)) == []


def transfer_images(cloud: InProcessCloud, server_id: str) -> list[Image]:
    """Every image (deleted ones too) that carried the server's disk between hosts."""
    with cloud.cloud.db.reader() as session:
        query = select(Image).where(Image.name == f"{server_id}-resize").order_by(Image.created_at)
        return list(session.scalars(query))


def listed_image_ids(conn: Connection) -> set[str]:
    """What the image list shows, hidden images included."""
    listing = conn.image.get("/images?os_hidden=true&limit=1000").json()["images"]
    return {image["id"] for image in listing} | {image.id for image in conn.image.images()}


def test_a_migration_sends_the_disk_through_a_hidden_transfer_image_deleted_once_it_arrived(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    server = active(demo, "transferred")
    source = admin.compute.get_server(server.id).compute_host
    dest = other_host(source)
    admin.compute.migrate_server(server, host=dest)
    assert settled(admin, server.id, "VERIFY_RESIZE").compute_host == dest
    driver = cloud.drivers[dest]
    assert isinstance(driver, FakeDriver)
    moved_disk = driver.hypervisor.vms[server.id].moved_disk  # what the destination read: the image's data
    assert moved_disk is not None and moved_disk.startswith(f"FAKEDISK instance={server.id} ".encode())
    (image,) = transfer_images(cloud, server.id)
    # The cloud owns it: a move must not fail on (or use up) the project's image quota.
    assert (image.os_hidden, image.visibility, image.owner) == (True, "private", None)
    assert image.properties["image_type"] == "resize-transfer" and image.size == len(moved_disk)
    assert image.deleted and image.status == "deleted"
    assert image.id not in listed_image_ids(admin) | listed_image_ids(demo)
    demo.compute.revert_server_resize(server)
    assert settled(admin, server.id, "ACTIVE").compute_host == source
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)


def test_a_failed_finish_deletes_the_transfer_image_too(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    server = active(demo, "transfer-fails")
    dest = other_host(admin.compute.get_server(server.id).compute_host)
    cloud.drivers[dest].fail_next("finish_migration", DriverError("the destination is on fire"))
    admin.compute.migrate_server(server, host=dest)
    admin.compute.wait_for_server(server, status="ERROR", interval=INTERVAL, wait=WAIT_SECONDS)
    (image,) = transfer_images(cloud, server.id)
    assert image.size and image.deleted  # it was uploaded, then deleted
    assert image.id not in listed_image_ids(admin)
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)


def test_shared_instances_path_moves_no_image(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    server = active(demo, "shared-path")
    dest = other_host(admin.compute.get_server(server.id).compute_host)
    cloud.cloud.settings.resize_shared_instances_path = True
    try:
        admin.compute.migrate_server(server, host=dest)
        assert settled(admin, server.id, "VERIFY_RESIZE").compute_host == dest
    finally:
        cloud.cloud.settings.resize_shared_instances_path = False
    assert transfer_images(cloud, server.id) == []
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)


def test_migrate_to_a_named_host_then_revert(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    server = active(demo, "named-host")
    source = admin.compute.get_server(server.id).compute_host
    dest = other_host(source)
    for wrong in ("no-such-host", source):
        with pytest.raises(sdk_exceptions.BadRequestException):
            admin.compute.migrate_server(server, host=wrong)
    assert records(cloud, server.id) == []  # a refused move leaves no record behind
    admin.compute.migrate_server(server, host=dest)
    assert settled(admin, server.id, "VERIFY_RESIZE").compute_host == dest
    demo.compute.revert_server_resize(server)
    assert settled(admin, server.id, "ACTIVE").compute_host == source
    (record,) = records(cloud, server.id)
    assert (record.status, record.dest_compute, record.migration_type) == ("reverted", dest, "migration")
    assert server.id not in set_aside(cloud, source) and used_memory(cloud, dest) == 0
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)


def test_migrate_is_for_admins_and_refused_mid_task(demo: Connection, admin: Connection) -> None:
    server = active(demo, "not-yours-to-move")
    with pytest.raises(sdk_exceptions.ForbiddenException):
        demo.compute.migrate_server(server)
    assert compute(demo, "GET", "/os-migrations").status_code == 403
    demo.compute.stop_server(server)
    settled(demo, server.id, "SHUTOFF")
    admin.compute.migrate_server(server)
    with pytest.raises(sdk_exceptions.ConflictException):
        admin.compute.migrate_server(server)  # already moving, or awaiting confirmation
    settled(demo, server.id, "VERIFY_RESIZE")
    demo.compute.confirm_server_resize(server)
    assert settled(demo, server.id, "SHUTOFF").power_state == 4  # a stopped server stays stopped
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)


def test_no_other_host_for_a_cold_migration_is_a_400_and_the_server_stays(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    server = active(demo, "nowhere-to-go")
    source = admin.compute.get_server(server.id).compute_host
    dest = other_host(source)
    disabled = compute(
        admin, "PUT", "/os-services/disable", json={"host": dest, "binary": "overcast-compute"}
    )
    assert disabled.status_code == 200
    try:
        # Nova schedules a cold migration before it answers: with no other host it is a 400 at once.
        with pytest.raises(sdk_exceptions.BadRequestException, match="No valid host found for cold migrate"):
            admin.compute.migrate_server(server)
    finally:
        compute(admin, "PUT", "/os-services/enable", json={"host": dest, "binary": "overcast-compute"})
    after = settled(admin, server.id, "ACTIVE")
    assert after.compute_host == source and used_memory(cloud, dest) == 0
    assert records(cloud, server.id) == []
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)


def test_deleting_a_server_awaiting_confirmation_confirms_it_first(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    server = active(demo, "deleted-mid-move")
    source = admin.compute.get_server(server.id).compute_host
    admin.compute.migrate_server(server)
    settled(admin, server.id, "VERIFY_RESIZE")
    assert server.id in set_aside(cloud, source) and used_memory(cloud, source) == 512
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)
    assert server.id not in set_aside(cloud, source)
    assert used_memory(cloud, source) == used_memory(cloud, other_host(source)) == 0
    (record,) = records(cloud, server.id)
    assert (record.status, record.deleted) == ("confirmed", True)
    actions = compute(demo, "GET", f"/servers/{server.id}/os-instance-actions", microversion="2.21").json()
    assert [row["action"] for row in actions["instanceActions"]][:3] == ["delete", "confirmResize", "migrate"]
    limits = demo.compute.get_limits().absolute
    assert (limits.total_cores_used, limits.total_ram_used) == (0, 0)


def _listing(admin: Connection, microversion: str, query: str = "") -> Any:
    return compute(admin, "GET", f"/os-migrations{query}", microversion=microversion)


def test_os_migrations_fields_filters_and_paging_by_microversion(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    server = active(demo, "moved-twice")
    first_source = admin.compute.get_server(server.id).compute_host
    for _ in range(2):
        admin.compute.migrate_server(server)
        settled(admin, server.id, "VERIFY_RESIZE")
        admin.compute.confirm_server_resize(server)
        settled(admin, server.id, "ACTIVE")
    mine = f"?instance_uuid={server.id}"
    oldest_first = _listing(admin, "2.1", mine).json()["migrations"]
    assert [row["source_compute"] for row in oldest_first] == [first_source, other_host(first_source)]
    assert all("migration_type" not in row and "uuid" not in row for row in oldest_first)
    assert {"id", "dest_host", "old_instance_type_id", "new_instance_type_id", "created_at"} <= set(
        oldest_first[0]
    )
    at_223 = _listing(admin, "2.23", mine + "&limit=1").json()["migrations"]  # no paging before 2.59
    assert len(at_223) == 2 and all(
        row["migration_type"] == "migration" and "links" not in row for row in at_223
    )

    page = _listing(admin, "2.59", mine + "&limit=1").json()
    newest = page["migrations"][0]
    assert newest["source_compute"] == other_host(first_source) and "uuid" in newest
    assert f"marker={newest['uuid']}" in page["migrations_links"][0]["href"]
    rest = _listing(admin, "2.59", f"{mine}&limit=1&marker={newest['uuid']}").json()["migrations"]
    assert [row["source_compute"] for row in rest] == [first_source]
    assert _listing(admin, "2.59", "?marker=00000000-0000-0000-0000-000000000000").status_code == 400
    assert _listing(admin, "2.59", "?changes-before=2020-01-01T00:00:00Z").status_code == 400  # 2.66
    assert _listing(admin, "2.1", "?changes-before=2020-01-01T00:00:00Z").status_code == 200
    assert _listing(admin, "2.59", mine + "&changes-since=2999-01-01T00:00:00Z").json()["migrations"] == []

    def count(query: str) -> int:
        return len(_listing(admin, "2.59", mine + query).json()["migrations"])

    assert count(f"&host={first_source}") == 2 and count(f"&source_compute={first_source}") == 1
    assert count("&status=confirmed") == 2 and count("&status=error") == 0
    assert count("&migration_type=migration") == 2 and count("&migration_type=resize") == 0
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)


def test_resize_records_a_resize_migration(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    bigger = admin.compute.create_flavor(name="migrations.bigger", ram=1024, vcpus=2, disk=1)
    try:
        server = active(demo, "grown")
        demo.compute.resize_server(server, bigger.id)
        settled(demo, server.id, "VERIFY_RESIZE")
        (listed,) = admin.compute.migrations(server_id=server.id, migration_type="resize")
        assert listed.status == "finished" and listed.new_flavor_id != listed.old_flavor_id
        demo.compute.revert_server_resize(server)
        settled(demo, server.id, "ACTIVE")
        assert [record.status for record in records(cloud, server.id)] == ["reverted"]
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)
    finally:
        admin.compute.delete_flavor(bigger)


def test_server_migrations_lists_only_live_migrations(demo: Connection, admin: Connection) -> None:
    server = active(demo, "no-live-moves")
    path = f"/servers/{server.id}/migrations"
    assert compute(admin, "GET", path, microversion="2.23").json() == {"migrations": []}
    assert list(admin.compute.server_migrations(server)) == []
    assert compute(admin, "GET", path, microversion="2.22").status_code == 404
    assert (
        compute(
            admin, "GET", "/servers/00000000-0000-0000-0000-000000000000/migrations", microversion="2.23"
        ).status_code
        == 404
    )
    assert compute(demo, "GET", path, microversion="2.23").status_code == 403
    assert compute(admin, "GET", f"{path}/1", microversion="2.23").status_code == 404
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)


@pytest.mark.slow
def test_openstack_cli_migrate_list_and_confirm(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    server = active(demo, "cli-migrant")
    source = admin.compute.get_server(server.id).compute_host
    cloud.openstack("server", "migrate", server.id, user="overcast-admin")
    settled(admin, server.id, "VERIFY_RESIZE")
    rows = cloud.openstack(
        "server", "migration", "list", "--server", server.id, "-f", "json", user="overcast-admin"
    )
    assert [(row["Source Compute"], row["Status"], row["Type"]) for row in rows] == [
        (source, "finished", "migration")
    ]
    cloud.openstack("server", "resize", "confirm", server.id)
    assert settled(admin, server.id, "ACTIVE").compute_host == other_host(source)
    rows = cloud.openstack(
        "server", "migration", "list", "--status", "confirmed", "-f", "json", user="overcast-admin"
    )
    assert server.id in {row["Server UUID"] for row in rows}
    denied = cloud.openstack("server", "migrate", server.id, check=False)
    assert denied.returncode != 0 and "403" in denied.stderr
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)
