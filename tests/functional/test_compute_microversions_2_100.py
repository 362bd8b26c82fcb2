"""Microversions 2.63 to 2.100 end to end: what each changes, asked for through openstacksdk's session at
the version that brings it (and the one before it), and the `openstack` CLI at 2.100."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openstack.connection import Connection

from tests.support.cloud import COMPUTE_HOSTS, IMAGE_ID, TINY, InProcessCloud

WAIT = {"interval": 0.1, "wait": 30}
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHg2LdP1jUpt7Wq9wvyK8M7hQ5jMZJpXyJY6PAbtHmE8 c2@overcast"


def call(conn: Connection, method: str, path: str, version: str, **kwargs: Any) -> Any:
    return conn.compute.request(path, method, microversion=version, raise_exc=False, **kwargs)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def wait_active(conn: Connection, server_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        server = ok(call(conn, "GET", f"/servers/{server_id}", "2.100"))["server"]
        if server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None:
            return dict(server)
        assert server["status"] != "ERROR", server
        time.sleep(0.1)
    raise AssertionError(f"server {server_id} did not become ACTIVE")


@pytest.fixture(scope="module")
def group(demo: Connection) -> dict[str, Any]:
    body = {
        "server_group": {"name": "spread", "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}
    }
    created = ok(call(demo, "POST", "/os-server-groups", "2.64", json=body))["server_group"]
    yield created
    call(demo, "DELETE", f"/os-server-groups/{created['id']}", "2.64")


@pytest.fixture(scope="module")
def server(demo: Connection, group: dict[str, Any]) -> dict[str, Any]:
    body = {
        "server": {
            "name": "Modern One",
            "imageRef": IMAGE_ID,
            "flavorRef": TINY,
            "networks": "none",
            "hostname": "modern-one.example.org",
            "trusted_image_certificates": ["cert-a", "cert-b"],
        },
        "os:scheduler_hints": {"group": group["id"]},
    }
    created = ok(call(demo, "POST", "/servers", "2.100", json=body), 202)["server"]
    yield wait_active(demo, created["id"])
    call(demo, "DELETE", f"/servers/{created['id']}", "2.100")


def test_the_new_server_fields(demo: Connection, server: dict[str, Any], group: dict[str, Any]) -> None:
    assert server["OS-EXT-SRV-ATTR:hostname"] == "modern-one.example.org"  # 2.90 (FQDN from 2.94)
    assert server["trusted_image_certificates"] == ["cert-a", "cert-b"]  # 2.63
    assert server["server_groups"] == [group["id"]]  # 2.71
    assert server["locked_reason"] is None  # 2.73
    assert server["pinned_availability_zone"] is None  # 2.96: no zone was asked for
    assert server["scheduler_hints"] == {"group": [group["id"]]}  # 2.100
    assert isinstance(server["image"]["properties"], dict)  # 2.98
    listed = ok(call(demo, "GET", "/servers/detail", "2.100"))["servers"]
    mine = next(item for item in listed if item["id"] == server["id"])
    # The detail list has every field but server_groups, as in Nova.
    assert "server_groups" not in mine and mine["scheduler_hints"] == server["scheduler_hints"]
    before = ok(call(demo, "GET", f"/servers/{server['id']}", "2.62"))["server"]
    assert not {"trusted_image_certificates", "server_groups", "locked_reason"} & set(before)
    assert (
        "OS-EXT-SRV-ATTR:hostname" not in ok(call(demo, "GET", f"/servers/{server['id']}", "2.89"))["server"]
    )


def test_hostname_and_trusted_certs_are_refused_before_their_versions(demo: Connection) -> None:
    base = {"name": "x", "imageRef": IMAGE_ID, "flavorRef": TINY, "networks": "none"}
    early = call(demo, "POST", "/servers", "2.89", json={"server": {**base, "hostname": "x"}})
    assert early.status_code == 400 and "hostname" in early.json()["badRequest"]["message"]
    fqdn = call(demo, "POST", "/servers", "2.93", json={"server": {**base, "hostname": "a.example.org"}})
    assert fqdn.status_code == 400
    twice = call(
        demo, "POST", "/servers", "2.63", json={"server": {**base, "trusted_image_certificates": ["a", "a"]}}
    )
    assert twice.status_code == 400
    many = {**base, "hostname": "one", "max_count": 2}
    assert call(demo, "POST", "/servers", "2.90", json={"server": many}).status_code == 400


def test_update_and_rebuild_take_a_hostname(demo: Connection, server: dict[str, Any]) -> None:
    path = f"/servers/{server['id']}"
    updated = ok(call(demo, "PUT", path, "2.90", json={"server": {"hostname": "renamed"}}))["server"]
    assert updated["OS-EXT-SRV-ATTR:hostname"] == "renamed"
    assert updated["server_groups"] == server["server_groups"]  # 2.71 in PUT's body too
    rebuild = {"rebuild": {"imageRef": IMAGE_ID, "hostname": "rebuilt", "trusted_image_certificates": None}}
    rebuilt = ok(call(demo, "POST", f"{path}/action", "2.100", json=rebuild), 202)["server"]
    assert rebuilt["OS-EXT-SRV-ATTR:hostname"] == "rebuilt"
    assert rebuilt["trusted_image_certificates"] is None
    settled = wait_active(demo, server["id"])
    assert settled["OS-EXT-SRV-ATTR:hostname"] == "rebuilt"


def test_lock_with_a_reason_and_the_locked_filter(demo: Connection, server: dict[str, Any]) -> None:
    path = f"/servers/{server['id']}/action"
    # Before 2.73 Nova reads nothing of the lock's body: the reason is not kept.
    ok(call(demo, "POST", path, "2.72", json={"lock": {"locked_reason": "maintenance"}}), 202)
    assert ok(call(demo, "GET", f"/servers/{server['id']}", "2.73"))["server"]["locked_reason"] is None
    ok(call(demo, "POST", path, "2.72", json={"unlock": None}), 202)
    ok(call(demo, "POST", path, "2.73", json={"lock": {"locked_reason": "maintenance"}}), 202)
    shown = ok(call(demo, "GET", f"/servers/{server['id']}", "2.73"))["server"]
    assert (shown["locked"], shown["locked_reason"]) == (True, "maintenance")
    locked = ok(call(demo, "GET", "/servers?locked=true", "2.73"))["servers"]
    assert [item["id"] for item in locked] == [server["id"]]
    assert ok(call(demo, "GET", "/servers?locked=false", "2.73"))["servers"] == []
    ok(call(demo, "POST", path, "2.73", json={"unlock": None}), 202)
    assert ok(call(demo, "GET", f"/servers/{server['id']}", "2.73"))["server"]["locked_reason"] is None


def test_list_filters_of_2_66_2_75_and_2_83(demo: Connection, server: dict[str, Any]) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [
        s["id"] for s in ok(call(demo, "GET", f"/servers?changes-before={future}", "2.66"))["servers"]
    ] == [server["id"]]
    assert ok(call(demo, "GET", f"/servers?changes-before={past}", "2.66"))["servers"] == []
    window = call(demo, "GET", f"/servers?changes-since={future}&changes-before={past}", "2.66")
    assert window.status_code == 400
    # Unknown parameters: ignored before 2.75, a 400 from it.
    assert call(demo, "GET", "/servers?bogus=1", "2.74").status_code == 200
    assert call(demo, "GET", "/servers?bogus=1", "2.75").status_code == 400
    # 2.83: members filter by vm_state (dropped, so everything listed, before).
    assert ok(call(demo, "GET", "/servers?vm_state=stopped", "2.83"))["servers"] == []
    assert len(ok(call(demo, "GET", "/servers?vm_state=stopped", "2.82"))["servers"]) == 1


def test_server_group_policy_and_rules(demo: Connection, group: dict[str, Any]) -> None:
    assert (group["policy"], group["rules"]) == ("anti-affinity", {"max_server_per_host": 2})
    assert "policies" not in group and "metadata" not in group
    old = ok(call(demo, "GET", f"/os-server-groups/{group['id']}", "2.63"))["server_group"]
    assert old["policies"] == ["anti-affinity"] and "rules" not in old
    rules_on_affinity = {
        "server_group": {"name": "g", "policy": "affinity", "rules": {"max_server_per_host": 2}}
    }
    assert call(demo, "POST", "/os-server-groups", "2.64", json=rules_on_affinity).status_code == 400
    policies_late = {"server_group": {"name": "g", "policies": ["affinity"]}}
    assert call(demo, "POST", "/os-server-groups", "2.64", json=policies_late).status_code == 400
    policy_early = {"server_group": {"name": "g", "policy": "affinity"}}
    assert call(demo, "POST", "/os-server-groups", "2.63", json=policy_early).status_code == 400


def test_keypairs_are_imported_only_from_2_92(demo: Connection) -> None:
    generated = call(demo, "POST", "/os-keypairs", "2.92", json={"keypair": {"name": "gen"}})
    assert generated.status_code == 400
    imported = ok(
        call(demo, "POST", "/os-keypairs", "2.92", json={"keypair": {"name": "imp", "public_key": SSH_KEY}}),
        201,
    )
    assert imported["keypair"]["name"] == "imp" and "private_key" not in imported["keypair"]
    call(demo, "DELETE", "/os-keypairs/imp", "2.92")


def test_hypervisors_after_2_88(admin: Connection) -> None:
    listed = ok(call(admin, "GET", "/os-hypervisors/detail", "2.88"))["hypervisors"]
    assert listed and not {"vcpus", "memory_mb", "cpu_info", "running_vms", "free_disk_gb"} & set(listed[0])
    assert "vcpus" in ok(call(admin, "GET", "/os-hypervisors/detail", "2.87"))["hypervisors"][0]
    shown = ok(call(admin, "GET", f"/os-hypervisors/{listed[0]['id']}", "2.88"))["hypervisor"]
    assert "uptime" in shown
    assert call(admin, "GET", "/os-hypervisors/statistics", "2.88").status_code == 404
    assert call(admin, "GET", "/os-hypervisors/statistics", "2.87").status_code == 200
    assert call(admin, "GET", f"/os-hypervisors/{listed[0]['id']}/uptime", "2.88").status_code == 404


def test_topology_and_its_version(demo: Connection, server: dict[str, Any]) -> None:
    path = f"/servers/{server['id']}/topology"
    assert ok(call(demo, "GET", path, "2.78")) == {"nodes": [], "pagesize_kb": None}
    assert call(demo, "GET", path, "2.77").status_code == 404


def test_extra_specs_are_validated_from_2_86(admin: Connection) -> None:
    flavor = {"flavor": {"name": "specs-286", "ram": 512, "vcpus": 1, "disk": 1}}
    flavor_id = ok(call(admin, "POST", "/flavors", "2.86", json=flavor))["flavor"]["id"]
    path = f"/flavors/{flavor_id}/os-extra_specs"
    try:
        assert (
            call(
                admin, "POST", path, "2.86", json={"extra_specs": {"hw:cpu_policy": "dedicated"}}
            ).status_code
            == 200
        )
        unknown = call(admin, "POST", path, "2.86", json={"extra_specs": {"hw:no_such_thing": "1"}})
        assert unknown.status_code == 400 and "hw:no_such_thing" in unknown.json()["badRequest"]["message"]
        bad_value = call(admin, "POST", path, "2.86", json={"extra_specs": {"hw:cpu_policy": "greedy"}})
        assert bad_value.status_code == 400
        # An operator's own namespace is accepted, and before 2.86 anything of the right shape is.
        assert (
            call(admin, "POST", path, "2.86", json={"extra_specs": {"acme:tier": "gold"}}).status_code == 200
        )
        assert (
            call(admin, "POST", path, "2.85", json={"extra_specs": {"hw:no_such_thing": "1"}}).status_code
            == 200
        )
    finally:
        call(admin, "DELETE", f"/flavors/{flavor_id}", "2.86")


def test_instance_actions_changes_before_and_details(demo: Connection, server: dict[str, Any]) -> None:
    path = f"/servers/{server['id']}/os-instance-actions"
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ok(call(demo, "GET", f"{path}?changes-before={future}", "2.66"))["instanceActions"]
    assert ok(call(demo, "GET", f"{path}?changes-before={past}", "2.66"))["instanceActions"] == []
    create = next(
        action
        for action in ok(call(demo, "GET", path, "2.84"))["instanceActions"]
        if action["action"] == "create"
    )
    events = ok(call(demo, "GET", f"{path}/{create['request_id']}", "2.84"))["instanceAction"]["events"]
    assert events and all("details" in event for event in events)


def test_no_live_migration_to_abort(admin: Connection, server: dict[str, Any]) -> None:
    path = f"/servers/{server['id']}/migrations/4242"
    assert call(admin, "DELETE", path, "2.65").status_code == 404
    assert call(admin, "DELETE", path, "2.23").status_code == 404


def test_migrations_filters_of_2_80(admin: Connection) -> None:
    ok(call(admin, "GET", "/os-migrations?user_id=nobody&project_id=none", "2.80"))
    assert call(admin, "GET", "/os-migrations?user_id=nobody", "2.79").status_code == 400


def test_admins_name_the_host_a_server_is_built_on(admin: Connection, demo: Connection) -> None:
    host = COMPUTE_HOSTS[-1]
    base = {"name": "placed", "imageRef": IMAGE_ID, "flavorRef": TINY, "networks": "none"}
    assert call(admin, "POST", "/servers", "2.73", json={"server": {**base, "host": host}}).status_code == 400
    assert call(demo, "POST", "/servers", "2.74", json={"server": {**base, "host": host}}).status_code == 403
    unknown = call(admin, "POST", "/servers", "2.74", json={"server": {**base, "host": "nowhere"}})
    assert unknown.status_code == 400 and "nowhere" in unknown.json()["badRequest"]["message"]
    for _ in range(2):
        created = ok(
            call(admin, "POST", "/servers", "2.74", json={"server": {**base, "hypervisor_hostname": host}}),
            202,
        )
        placed = wait_active(admin, created["server"]["id"])
        assert placed["OS-EXT-SRV-ATTR:host"] == host
        call(admin, "DELETE", f"/servers/{placed['id']}", "2.74")


def wait_status(conn: Connection, server_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        server = ok(call(conn, "GET", f"/servers/{server_id}", "2.100"))["server"]
        if server["status"] == status and server["OS-EXT-STS:task_state"] is None:
            return dict(server)
        time.sleep(0.1)
    raise AssertionError(f"server {server_id} did not become {status}")


def test_unshelve_into_a_zone_and_onto_a_named_host(admin: Connection, demo: Connection) -> None:
    base = {"name": "shelved", "imageRef": IMAGE_ID, "flavorRef": TINY, "networks": "none"}
    created = ok(call(admin, "POST", "/servers", "2.100", json={"server": base}), 202)["server"]
    first = wait_active(admin, created["id"])
    action = f"/servers/{created['id']}/action"
    try:
        ok(call(admin, "POST", action, "2.100", json={"shelve": None}), 202)
        shelved = wait_status(admin, created["id"], "SHELVED_OFFLOADED") if first else None
        assert shelved is not None
        # A host from 2.91 (admins) only, and one that exists.
        assert (
            call(admin, "POST", action, "2.90", json={"unshelve": {"host": "compute-1"}}).status_code == 400
        )
        assert call(admin, "POST", action, "2.91", json={"unshelve": {"host": "nowhere"}}).status_code == 400
        assert call(demo, "POST", action, "2.91", json={"unshelve": {"host": "compute-1"}}).status_code == 404
        other = next(host for host in COMPUTE_HOSTS if host != first["OS-EXT-SRV-ATTR:host"])
        body = {"unshelve": {"availability_zone": "nova", "host": other}}
        ok(call(admin, "POST", action, "2.91", json=body), 202)
        back = wait_active(admin, created["id"])
        assert back["OS-EXT-SRV-ATTR:host"] == other and back["pinned_availability_zone"] == "nova"
    finally:
        call(admin, "DELETE", f"/servers/{created['id']}", "2.100")


def test_openstack_cli_at_2_100(cloud: InProcessCloud, server: dict[str, Any]) -> None:
    shown = cloud.openstack("--os-compute-api-version", "2.100", "server", "show", server["id"], "-f", "json")
    assert shown["id"] == server["id"]
    assert shown["status"] == "ACTIVE"
    listed = cloud.openstack("--os-compute-api-version", "2.100", "server", "list", "--long", "-f", "json")
    assert server["id"] in {row["ID"] for row in listed}
