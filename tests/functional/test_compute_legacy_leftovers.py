"""#16's last legacy compute APIs through real HTTP: a hypervisor's uptime (the compute host's own line),
per-user quotas, and the tenant-usage, backup rotation, image paging and crash-dump edges."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.compute_api import compute, settled
from tests.support.waiting import wait_until

UPTIME = re.compile(r"^ \d\d:\d\d:\d\d up .+,\s+\d+ users?,  load average: \d+\.\d\d, \d+\.\d\d, \d+\.\d\d$")


# --- os-hypervisors/{id}/uptime -------------------------------------------------------------------
def test_hypervisor_uptime_is_the_hosts_own(cloud: InProcessCloud, admin: Connection) -> None:
    listed = compute(admin, "GET", "/os-hypervisors").json()["hypervisors"]
    first = listed[0]
    answer = compute(admin, "GET", f"/os-hypervisors/{first['id']}/uptime").json()["hypervisor"]
    assert set(answer) == {"id", "hypervisor_hostname", "state", "status", "uptime"}
    assert UPTIME.match(answer["uptime"]), answer["uptime"]
    host_seconds = float(Path("/proc/uptime").read_text().split()[0])
    days = int(host_seconds // 86400)
    assert (f" up {days} day" in answer["uptime"]) == (days > 0)

    by_uuid = compute(admin, "GET", "/os-hypervisors", microversion="2.53").json()["hypervisors"][0]["id"]
    shown = compute(admin, "GET", f"/os-hypervisors/{by_uuid}", microversion="2.88").json()["hypervisor"]
    assert UPTIME.match(shown["uptime"])
    # The CLI splits the line into its parts (host_time, uptime, users, load_average).
    cli = cloud.openstack("hypervisor", "show", by_uuid, "-f", "json", user="overcast-admin")
    assert cli["users"].isdigit() and cli["load_average"].count(",") == 2
    assert re.fullmatch(r"\d\d:\d\d:\d\d", cli["host_time"])


def test_a_down_hosts_uptime(admin: Connection) -> None:
    listed = compute(admin, "GET", "/os-hypervisors", microversion="2.53").json()["hypervisors"]
    hypervisor = listed[-1]
    host = compute(admin, "GET", f"/os-hypervisors/{hypervisor['id']}", microversion="2.53").json()[
        "hypervisor"
    ]["service"]["host"]
    forced = {"host": host, "binary": "nova-compute", "forced_down": True}
    assert (
        compute(admin, "PUT", "/os-services/force-down", json=forced, microversion="2.11").status_code == 200
    )
    try:
        refused = compute(admin, "GET", f"/os-hypervisors/{hypervisor['id']}/uptime", microversion="2.53")
        assert refused.status_code == 400
        assert f"Compute service of {host} is unavailable" in refused.json()["badRequest"]["message"]
        shown = compute(admin, "GET", f"/os-hypervisors/{hypervisor['id']}", microversion="2.88")
        assert shown.json()["hypervisor"]["uptime"] is None
    finally:
        forced["forced_down"] = False
        compute(admin, "PUT", "/os-services/force-down", json=forced, microversion="2.11")


# --- per-user quotas ------------------------------------------------------------------------------
def boot(conn: Connection, name: str) -> Any:
    server = conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    return conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30)


@pytest.fixture(scope="module")
def teammate(cloud: InProcessCloud, admin: Connection, demo: Connection) -> Iterator[Connection]:
    """A second member of demo's project, logged in there."""
    password = "teammate-secret-password"
    user = admin.identity.create_user(name="teammate", password=password, domain_id="default")
    admin.identity.assign_project_role_to_user(
        demo.current_project_id, user, admin.identity.find_role("member")
    )
    conn = openstack.connect(
        auth_url=f"{cloud.base_url}/identity", username="teammate", password=password,
        project_name="demo", user_domain_name="Default", project_domain_name="Default",
        region_name="RegionOne", identity_api_version="3",
    )  # fmt: skip
    yield conn
    conn.close()


def test_a_users_own_limit_inside_the_projects(
    admin: Connection, demo: Connection, teammate: Connection
) -> None:
    project, user = demo.current_project_id, demo.current_user_id
    mine = f"/os-quota-sets/{project}?user_id={user}"
    # openstacksdk 4.x's update_quota_set(user=...) fails in the client itself (commit() is given a
    # user_id it cannot take), so the PUT goes raw, as novaclient's quota-update --user sent it.
    updated = compute(admin, "PUT", mine, json={"quota_set": {"instances": 1, "cores": 4}}).json()
    assert "id" not in updated["quota_set"]
    assert (updated["quota_set"]["instances"], updated["quota_set"]["cores"]) == (1, 4)
    shown = compute(admin, "GET", mine).json()["quota_set"]
    assert (shown["id"], shown["instances"], shown["cores"], shown["ram"]) == (project, 1, 4, 51200)
    assert compute(admin, "GET", f"/os-quota-sets/{project}").json()["quota_set"]["instances"] == 10

    first = boot(demo, "mine-1")
    try:
        with pytest.raises(
            sdk_exceptions.ForbiddenException, match="Requested 1, but already used 1 of 1 instances"
        ):
            demo.compute.create_server(name="mine-2", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
        # The project's limit is not the user's: a teammate still boots.
        theirs = boot(teammate, "theirs-1")
        detail = compute(admin, "GET", f"/os-quota-sets/{project}/detail?user_id={user}").json()["quota_set"]
        assert detail["instances"] == {"in_use": 1, "limit": 1, "reserved": 0}
        whole = compute(admin, "GET", f"/os-quota-sets/{project}/detail").json()["quota_set"]
        assert whole["instances"] == {"in_use": 2, "limit": 10, "reserved": 0}
        via_sdk = admin.compute.get_quota_set(project, usage=True, user_id=user)
        assert via_sdk.usage["instances"] == 1 and via_sdk.instances == 1

        # At least what the user holds, at most what the project leaves once other users' limits are out.
        below = compute(admin, "PUT", mine, json={"quota_set": {"instances": 0}})
        assert below.status_code == 400
        assert "must be greater than or equal to already used and reserved 1" in below.text
        teammates = f"/os-quota-sets/{project}?user_id={teammate.current_user_id}"
        above = compute(admin, "PUT", teammates, json={"quota_set": {"instances": 10}})
        assert above.status_code == 400 and "must be less than or equal to 9" in above.text
        assert compute(admin, "PUT", teammates, json={"quota_set": {"instances": 9}}).status_code == 200
        # The project's limit cannot drop under what its users were given (1 + 9).
        shrink = compute(admin, "PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": 8}})
        assert shrink.status_code == 400 and "reserved 10" in shrink.text
        forced = compute(admin, "PUT", mine, json={"quota_set": {"instances": 0, "force": "True"}})
        assert forced.json()["quota_set"]["instances"] == 0

        admin.compute.revert_quota_set(project, user_id=user)
        assert compute(admin, "GET", mine).json()["quota_set"]["instances"] == 10
        second = boot(demo, "mine-2")
        for conn, server in ((demo, first), (demo, second), (teammate, theirs)):
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, interval=0.1, wait=30)
    finally:
        compute(admin, "DELETE", f"/os-quota-sets/{project}")
    # Deleting the project's quotas takes the users' own with them.
    gone = compute(admin, "GET", f"/os-quota-sets/{project}?user_id={teammate.current_user_id}")
    assert gone.json()["quota_set"]["instances"] == 10


def test_key_pairs_count_against_their_owners_limit(admin: Connection, demo: Connection) -> None:
    project, user = demo.current_project_id, demo.current_user_id
    mine = f"/os-quota-sets/{project}?user_id={user}"
    assert compute(admin, "PUT", mine, json={"quota_set": {"key_pairs": 1}}).status_code == 200
    try:
        demo.compute.create_keypair(name="only-one")
        with pytest.raises(sdk_exceptions.ForbiddenException, match="too many key pairs"):
            demo.compute.create_keypair(name="one-too-many")
        demo.compute.delete_keypair("only-one")
    finally:
        admin.compute.revert_quota_set(project, user_id=user)


# --- os-simple-tenant-usage -----------------------------------------------------------------------
def test_tenant_usage_of_an_empty_tenant_id_is_not_found(admin: Connection) -> None:
    period = "start=2026-01-01T00:00:00&end=2026-02-01T00:00:00"
    # tempest's negative test: show_tenant_usage('') is GET os-simple-tenant-usage/?start=...
    empty = compute(admin, "GET", f"/os-simple-tenant-usage/?{period}", allow_redirects=False)
    assert empty.status_code == 404, empty.text
    assert "itemNotFound" in empty.json()
    assert compute(admin, "GET", f"/os-simple-tenant-usage?{period}").status_code == 200


# --- os-instance-actions --------------------------------------------------------------------------
def test_trigger_crash_dump_is_an_instance_action(demo: Connection) -> None:
    server = boot(demo, "dumped")
    try:
        path = f"/servers/{server.id}/action"
        sent = demo.compute.post(path, json={"trigger_crash_dump": None}, microversion="2.17")
        assert sent.status_code == 202, sent.text
        actions = {action.action: action for action in demo.compute.server_actions(server)}
        assert set(actions) == {"create", "trigger_crash_dump"}
        dumped = demo.compute.get_server_action(actions["trigger_crash_dump"].request_id, server)
        assert [(event["event"], event["result"]) for event in dumped.events] == [
            ("compute_trigger_crash_dump", "Success")
        ]
    finally:
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, interval=0.1, wait=30)


# --- createBackup ---------------------------------------------------------------------------------
def weekly_backups(demo: Connection) -> list[str]:
    listed = demo.image.get("/images?limit=100").json()["images"]
    return sorted(image["name"] for image in listed if image.get("backup_type") == "weekly")


def test_backups_rotate_on_the_host_once_uploaded(demo: Connection) -> None:
    server = boot(demo, "rotated")
    try:
        kept = []
        for name in ("w1", "w2", "w3"):
            demo.compute.backup_server(server, name, "weekly", 2)
            settled(demo, server.id, "ACTIVE")
            kept = weekly_backups(demo)
        # When the task is over the rotation is done: the oldest went once the third was uploaded.
        assert kept == ["w2", "w3"]
        actions = [action.action for action in demo.compute.server_actions(server)]
        assert actions.count("createBackup") == 3 and "createImage" not in actions
        backup = next(a for a in demo.compute.server_actions(server) if a.action == "createBackup")
        events = demo.compute.get_server_action(backup.request_id, server).events
        assert [event["event"] for event in events] == ["compute_backup_instance"]
        demo.compute.backup_server(server, "w4", "weekly", 0)  # Nova: 0 deletes them all, the new one too
        settled(demo, server.id, "ACTIVE")
        assert weekly_backups(demo) == []
    finally:
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, interval=0.1, wait=30)


# --- the compute image proxy ------------------------------------------------------------------------
def test_image_proxy_filters_before_it_pages(demo: Connection) -> None:
    server_id = "5bd1f4a3-0f7e-4c36-9a52-2c7f0d3e4b61"
    made = []
    for index in range(5):
        # Every other image came from the server; the others are newer and in between.
        props = {"instance_uuid": server_id, "image_type": "snapshot"} if index % 2 == 0 else {}
        body = {"name": f"paged-{index}", "disk_format": "raw", "container_format": "bare", **props}
        made.append(demo.image.post("/images", json=body).json()["id"])
    try:
        seen: list[str] = []
        path = f"/images?server={server_id}&limit=2"
        while path:
            page = compute(demo, "GET", path, microversion="2.35").json()
            assert len(page["images"]) <= 2
            seen += [image["name"] for image in page["images"]]
            links = page.get("images_links", [])
            path = links[0]["href"].split("/v2.1", 1)[1] if links else ""
        assert seen == ["paged-4", "paged-2", "paged-0"]
        detail = compute(demo, "GET", "/images/detail?type=snapshot&limit=1", microversion="2.35").json()
        assert [image["name"] for image in detail["images"]] == ["paged-4"]
        since = compute(demo, "GET", "/images?changes-since=not-a-time", microversion="2.35")
        assert since.status_code == 400
        assert compute(
            demo, "GET", "/images?changes-since=2999-01-01T00:00:00Z", microversion="2.35"
        ).json() == {"images": []}
    finally:
        for image_id in made:
            demo.image.delete_image(image_id)


# --- 2.81 image pre-caching ---------------------------------------------------------------------------
def test_an_aggregate_precaches_images_on_its_hosts(cloud: InProcessCloud, admin: Connection) -> None:
    image = admin.image.create_image(
        name="precached", data=b"\x07" * 4096, disk_format="raw", container_format="bare"
    )
    rack = admin.compute.create_aggregate(name="precache-rack")
    admin.compute.add_host_to_aggregate(rack, "compute-2")
    cache = cloud.settings.data_dir / "image-cache"
    try:
        path = f"/os-aggregates/{rack.id}/images"
        body = {"cache": [{"id": image.id}]}
        assert compute(admin, "POST", path, json=body, microversion="2.80").status_code == 404
        for bad in ({"cache": []}, {"cache": [{"id": image.id}, {"id": image.id}]}, {"cache": [{"id": "x"}]}):
            assert compute(admin, "POST", path, json=bad, microversion="2.81").status_code == 400, bad
        unknown = {"cache": [{"id": "0c6e4d6e-7f49-4d1c-9a3b-6c1c2d9f0e55"}]}
        assert compute(admin, "POST", path, json=unknown, microversion="2.81").status_code == 400
        missing = compute(admin, "POST", "/os-aggregates/987654/images", json=body, microversion="2.81")
        assert missing.status_code == 404
        # The CLI's own command for it.
        cloud.openstack(
            "--os-compute-api-version", "2.81", "aggregate", "cache", "image", rack.name, image.id,
            user="overcast-admin",
        )  # fmt: skip
        wait_until(lambda: list(cache.glob(f"*/{image.id}")), timeout=60, what="the image in a host cache")
        # Only the aggregate's host fetched it.
        assert [found.parent.name for found in cache.glob(f"*/{image.id}")] == ["compute-2"]
    finally:
        admin.compute.remove_host_from_aggregate(rack, "compute-2")
        admin.compute.delete_aggregate(rack)
        admin.image.delete_image(image)


# --- 2.83: the time filters for members -----------------------------------------------------------
def test_members_filter_servers_by_their_times_from_2_83(demo: Connection) -> None:
    server = boot(demo, "timed")
    try:
        created = demo.compute.get_server(server.id).created_at  # 2026-12-06T02:10:11Z

        def listed(query: str, version: str = "2.83") -> list[str]:
            found = compute(demo, "GET", f"/servers?{query}", microversion=version)
            assert found.status_code == 200, found.text
            return [item["id"] for item in found.json()["servers"]]

        day, moment = created[:10], created[:19].replace("T", " ")
        assert server.id in listed(f"created_at={day}")
        assert server.id in listed(f"created_at={created}")  # its ISO 8601 form too
        assert server.id in listed(f"created_at=^{moment}$".replace(" ", "%20"))
        assert listed("created_at=1999-01-01") == []
        assert server.id in listed(f"launched_at=^{day[:4]}")
        assert listed("terminated_at=.") == []  # a live server has no terminated_at: nothing matches it
        # Before 2.83 Nova drops a member's time filter without a word.
        assert server.id in listed("created_at=1999-01-01", version="2.82")
        assert compute(demo, "GET", "/servers?created_at=(", microversion="2.83").status_code == 400
    finally:
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, interval=0.1, wait=30)
