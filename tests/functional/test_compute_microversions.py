"""Compute bodies at several microversions, key for key, through the SDK's authenticated session; and the
version document that makes openstacksdk negotiate our maximum."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from overcast.api.openstack.compute.microversion import MAX_VERSION
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.waiting import WAIT_SECONDS

WAIT = {"interval": 0.1, "wait": 30}
BASE = {
    "id",
    "name",
    "status",
    "tenant_id",
    "user_id",
    "metadata",
    "hostId",
    "image",
    "flavor",
    "created",
    "updated",
    "addresses",
    "accessIPv4",
    "accessIPv6",
    "links",
    "OS-DCF:diskConfig",
    "progress",
}
EXTENSIONS = {
    "OS-EXT-AZ:availability_zone",
    "config_drive",
    "key_name",
    "OS-SRV-USG:launched_at",
    "OS-SRV-USG:terminated_at",
    "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state",
    "OS-EXT-STS:power_state",
    "os-extended-volumes:volumes_attached",
    "security_groups",
}
ADMIN_2_1 = {"OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname", "OS-EXT-SRV-ATTR:instance_name"}
ADMIN_2_3 = {
    f"OS-EXT-SRV-ATTR:{name}"
    for name in (
        "reservation_id",
        "launch_index",
        "hostname",
        "kernel_id",
        "ramdisk_id",
        "root_device_name",
        "user_data",
    )
}


@pytest.fixture(scope="module")
def server(demo: Connection) -> Any:
    created = demo.compute.create_server(name="versioned", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    yield demo.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], **WAIT)
    demo.compute.delete_server(created)


def settle(conn: Connection, server: Any) -> Any:
    """ACTIVE with no task (a snapshot keeps the status ACTIVE while its task runs)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        current = conn.compute.get_server(server.id)
        if current.status == "ACTIVE" and current.task_state is None:
            return current
        time.sleep(0.1)
    raise AssertionError(f"server {server.id} did not settle")


def call(conn: Connection, method: str, path: str, version: str, **kwargs: Any) -> Any:
    return conn.compute.request(path, method, microversion=version, raise_exc=False, **kwargs)


def body(conn: Connection, path: str, version: str, key: str) -> Any:
    response = call(conn, "GET", path, version)
    assert response.status_code == 200, response.text
    assert response.headers["OpenStack-API-Version"] == f"compute {version}"
    return response.json()[key]


SINCE_2_63 = {"trusted_image_certificates", "server_groups", "locked_reason", "pinned_availability_zone",
              "scheduler_hints"}  # fmt: skip


def test_openstacksdk_negotiates_our_maximum(cloud: InProcessCloud, demo: Connection) -> None:
    document = httpx.get(f"{cloud.base_url}/compute/v2.1", timeout=WAIT_SECONDS).json()["version"]
    assert (document["min_version"], document["version"]) == ("2.1", str(MAX_VERSION))
    assert demo.compute.get_endpoint_data().max_microversion == (MAX_VERSION.major, MAX_VERSION.minor)
    too_new = f"{MAX_VERSION.major}.{MAX_VERSION.minor + 1}"
    assert call(demo, "GET", "/servers", too_new).status_code == 406


def test_server_bodies(demo: Connection, admin: Connection, server: Any) -> None:
    path = f"/servers/{server.id}"
    member = {version: set(body(demo, path, version, "server")) for version in ("2.1", "2.9", "2.19", "2.26")}
    assert member["2.1"] == BASE | EXTENSIONS
    assert member["2.9"] == BASE | EXTENSIONS | {"locked"}
    assert member["2.19"] == member["2.9"] | {"description"}
    assert member["2.26"] == member["2.19"] | {"tags"}
    assert set(body(admin, path, "2.1", "server")) == BASE | EXTENSIONS | ADMIN_2_1
    admin_2_3 = body(admin, path, "2.3", "server")
    assert set(admin_2_3) == BASE | EXTENSIONS | ADMIN_2_1 | ADMIN_2_3
    assert (admin_2_3["OS-EXT-SRV-ATTR:hostname"], admin_2_3["OS-EXT-SRV-ATTR:root_device_name"]) == (
        "versioned",
        "/dev/vda",
    )
    latest = body(admin, path, str(MAX_VERSION), "server")
    assert set(latest) == BASE | EXTENSIONS | ADMIN_2_1 | ADMIN_2_3 | {
        "locked",
        "description",
        "tags",
        "host_status",
    } | SINCE_2_63
    assert latest["host_status"] == "UP" and latest["locked"] is False
    # What 2.63-2.100 add, as a server created with none of them shows it.
    assert {key: latest[key] for key in SINCE_2_63 - {"image"}} == {
        "trusted_image_certificates": None, "server_groups": [], "locked_reason": None,
        "pinned_availability_zone": None, "scheduler_hints": {},
    }  # fmt: skip
    assert "properties" in latest["image"] and "properties" not in body(demo, path, "2.97", "server")["image"]
    # 2.90 shows the hostname to its owner too.
    assert body(demo, path, "2.90", "server")["OS-EXT-SRV-ATTR:hostname"] == "versioned"
    # 2.47 embeds the flavor (its extra specs for those allowed to read them).
    assert set(body(demo, path, "2.46", "server")["flavor"]) == {"id", "links"}
    assert latest["flavor"] == {
        "vcpus": 1,
        "ram": 512,
        "disk": 1,
        "ephemeral": 0,
        "swap": 0,
        "original_name": "m1.tiny",
        "extra_specs": {},
    }
    listed = body(demo, "/servers/detail", "2.26", "servers")
    assert set(listed[0]) == member["2.26"]


def test_update_and_rebuild_bodies(demo: Connection, server: Any) -> None:
    path = f"/servers/{server.id}"
    renamed = call(demo, "PUT", path, "2.1", json={"server": {"name": "versioned"}})
    assert set(renamed.json()["server"]) == BASE  # before 2.75, PUT answers without the extensions
    described = call(demo, "PUT", path, "2.19", json={"server": {"description": "a test server"}})
    assert set(described.json()["server"]) == BASE | {"locked", "description"}
    assert described.json()["server"]["description"] == "a test server"
    refused = call(demo, "PUT", path, "2.18", json={"server": {"description": "too early"}})
    assert refused.status_code == 400 and "description" in refused.text
    rebuilt = call(
        demo,
        "POST",
        f"{path}/action",
        "2.57",
        json={"rebuild": {"imageRef": IMAGE_ID, "description": "rebuilt", "key_name": None}},
    )
    assert rebuilt.status_code == 202, rebuilt.text
    assert set(rebuilt.json()["server"]) == BASE | {
        "locked",
        "description",
        "tags",
        "key_name",
        "adminPass",
        "user_data",
    }
    settle(demo, server)
    assert body(demo, path, "2.19", "server")["description"] == "rebuilt"


def test_create_refuses_fields_of_later_versions(demo: Connection) -> None:
    server = {"name": "early", "imageRef": IMAGE_ID, "flavorRef": TINY}
    for version, extra in (("2.18", {"description": "x"}), ("2.51", {"tags": ["a"]})):
        response = call(demo, "POST", "/servers", version, json={"server": {**server, **extra}})
        assert response.status_code == 400 and "Additional properties" in response.text
    # From 2.37 networks must be given, and only then may it be "auto" or "none".
    assert call(demo, "POST", "/servers", "2.37", json={"server": server}).status_code == 400
    too_early = call(demo, "POST", "/servers", "2.36", json={"server": {**server, "networks": "none"}})
    assert too_early.status_code == 400


def test_keypair_bodies_and_codes(demo: Connection) -> None:
    created = call(demo, "POST", "/os-keypairs", "2.1", json={"keypair": {"name": "k21"}})
    assert created.status_code == 200 and "type" not in created.json()["keypair"]
    typed = call(demo, "POST", "/os-keypairs", "2.2", json={"keypair": {"name": "k22", "type": "x509"}})
    assert typed.status_code == 201 and typed.json()["keypair"]["type"] == "x509"
    assert "BEGIN CERTIFICATE" in typed.json()["keypair"]["public_key"]
    listed = body(demo, "/os-keypairs", "2.1", "keypairs")[0]["keypair"]
    assert set(listed) == {"name", "public_key", "fingerprint"}
    assert body(demo, "/os-keypairs/k21", "2.2", "keypair")["type"] == "ssh"
    paged = call(demo, "GET", "/os-keypairs?limit=1", "2.35").json()
    assert [k["keypair"]["name"] for k in paged["keypairs"]] == ["k21"] and paged["keypairs_links"]
    assert call(demo, "DELETE", "/os-keypairs/k21", "2.1").status_code == 202
    assert call(demo, "DELETE", "/os-keypairs/k22", "2.2").status_code == 204


def test_flavor_bodies(admin: Connection) -> None:
    detail_2_1 = {
        "id",
        "name",
        "ram",
        "disk",
        "vcpus",
        "links",
        "OS-FLV-EXT-DATA:ephemeral",
        "OS-FLV-DISABLED:disabled",
        "os-flavor-access:is_public",
        "swap",
        "rxtx_factor",
    }
    assert set(body(admin, f"/flavors/{TINY}", "2.1", "flavor")) == detail_2_1
    assert set(body(admin, f"/flavors/{TINY}", "2.55", "flavor")) == detail_2_1 | {"description"}
    with_specs = body(admin, f"/flavors/{TINY}", "2.61", "flavor")
    assert set(with_specs) == detail_2_1 | {"description", "extra_specs"}
    assert set(body(admin, "/flavors", "2.55", "flavors")[0]) == {"id", "name", "links", "description"}
    updated = call(admin, "PUT", f"/flavors/{TINY}", "2.55", json={"flavor": {"description": "smallest"}})
    assert updated.json()["flavor"]["description"] == "smallest"
    too_early = call(admin, "PUT", f"/flavors/{TINY}", "2.54", json={"flavor": {"description": "x"}})
    assert too_early.status_code == 404


def test_admin_bodies(admin: Connection) -> None:
    services = {
        version: body(admin, "/os-services", version, "services")[0] for version in ("2.1", "2.11", "2.53")
    }
    assert "forced_down" not in services["2.1"] and services["2.11"]["forced_down"] is False
    assert isinstance(services["2.1"]["id"], int) and isinstance(services["2.53"]["id"], str)
    hypervisors = {
        version: body(admin, "/os-hypervisors/detail", version, "hypervisors")[0]
        for version in ("2.1", "2.28", "2.53")
    }
    assert isinstance(hypervisors["2.1"]["cpu_info"], str)
    assert isinstance(hypervisors["2.28"]["cpu_info"], dict)
    service = hypervisors["2.53"]["service"]
    uuids = {(s["host"], s["binary"]): s["id"] for s in body(admin, "/os-services", "2.53", "services")}
    assert service["id"] == uuids[(service["host"], "nova-compute")]
    limits = {
        version: set(body(admin, "/limits", version, "limits")["absolute"])
        for version in ("2.1", "2.36", "2.39", "2.57")
    }
    assert limits["2.1"] - limits["2.36"] == {
        "maxSecurityGroupRules",
        "maxSecurityGroups",
        "maxTotalFloatingIps",
        "totalFloatingIpsUsed",
        "totalSecurityGroupsUsed",
    }
    assert limits["2.36"] - limits["2.39"] == {"maxImageMeta"}
    assert limits["2.39"] - limits["2.57"] == {"maxPersonality", "maxPersonalitySize"}
    project = admin.current_project_id
    quotas = {
        version: set(body(admin, f"/os-quota-sets/{project}", version, "quota_set"))
        for version in ("2.1", "2.36", "2.57")
    }
    network = {"fixed_ips", "floating_ips", "security_group_rules", "security_groups"}
    assert quotas["2.1"] - quotas["2.36"] == network
    assert quotas["2.36"] - quotas["2.57"] == {
        "injected_files",
        "injected_file_content_bytes",
        "injected_file_path_bytes",
    }
    classes = {
        version: set(body(admin, "/os-quota-class-sets/default", version, "quota_class_set"))
        for version in ("2.1", "2.50")
    }
    assert classes["2.50"] - classes["2.1"] == {"server_groups", "server_group_members"}
    assert classes["2.1"] - classes["2.50"] == network
    group = call(
        admin,
        "POST",
        "/os-server-groups",
        "2.13",
        json={"server_group": {"name": "g", "policies": ["affinity"]}},
    ).json()["server_group"]
    assert {"project_id", "user_id"} <= set(group)
    older = body(admin, f"/os-server-groups/{group['id']}", "2.12", "server_group")
    assert not {"project_id", "user_id"} & set(older)
    aggregate = call(admin, "POST", "/os-aggregates", "2.41", json={"aggregate": {"name": "a"}}).json()
    assert "uuid" in aggregate["aggregate"]
    assert "uuid" not in body(admin, f"/os-aggregates/{aggregate['aggregate']['id']}", "2.40", "aggregate")


def test_instance_action_bodies(demo: Connection, admin: Connection, server: Any) -> None:
    path = f"/servers/{server.id}/os-instance-actions"
    assert set(body(demo, path, "2.1", "instanceActions")[0]) == {
        "action",
        "instance_uuid",
        "request_id",
        "user_id",
        "project_id",
        "start_time",
        "message",
    }
    actions = body(demo, path, "2.58", "instanceActions")
    assert "updated_at" in actions[-1] and actions[-1]["action"] == "create"
    request_id = actions[-1]["request_id"]
    assert "events" not in body(demo, f"{path}/{request_id}", "2.50", "instanceAction")
    member = body(demo, f"{path}/{request_id}", "2.51", "instanceAction")["events"]
    assert member and set(member[0]) == {"event", "start_time", "finish_time", "result"}
    assert set(body(demo, f"{path}/{request_id}", "2.62", "instanceAction")["events"][0]) == {
        "event",
        "start_time",
        "finish_time",
        "result",
        "hostId",
    }
    privileged = body(admin, f"{path}/{request_id}", "2.62", "instanceAction")["events"][0]
    assert {"traceback", "host", "hostId"} <= set(privileged)
    page = call(demo, "GET", f"{path}?limit=1", "2.58").json()
    assert len(page["instanceActions"]) == 1 and page["links"][0]["rel"] == "next"


def test_create_image_and_diagnostics(demo: Connection, admin: Connection, server: Any) -> None:
    old = call(demo, "POST", f"/servers/{server.id}/action", "2.44", json={"createImage": {"name": "snap-1"}})
    assert old.status_code == 202, old.text
    assert "/image/v2/images/" in old.headers["Location"] and not old.content
    settle(demo, server)
    new = call(demo, "POST", f"/servers/{server.id}/action", "2.45", json={"createImage": {"name": "snap-2"}})
    assert new.status_code == 202 and set(new.json()) == {"image_id"}
    settle(demo, server)
    diagnostics = call(admin, "GET", f"/servers/{server.id}/diagnostics", "2.48").json()
    assert set(diagnostics) == {
        "state",
        "driver",
        "hypervisor",
        "hypervisor_os",
        "uptime",
        "config_drive",
        "num_cpus",
        "num_nics",
        "num_disks",
        "cpu_details",
        "nic_details",
        "disk_details",
        "memory_details",
    }
    assert diagnostics["state"] == "running" and diagnostics["driver"] == "fake"
    raw = call(admin, "GET", f"/servers/{server.id}/diagnostics", "2.47").json()
    assert "boot_count" in raw  # before 2.48: whatever the driver reports


def test_services_are_updated_by_uuid_from_2_53(admin: Connection) -> None:
    services = {(s["host"], s["binary"]): s for s in body(admin, "/os-services", "2.53", "services")}
    compute_2 = services[("compute-2", "nova-compute")]
    path = f"/os-services/{compute_2['id']}"
    disabled = call(admin, "PUT", path, "2.53", json={"status": "disabled", "disabled_reason": "tests"})
    assert disabled.status_code == 200, disabled.text
    assert set(disabled.json()["service"]) == set(compute_2)
    assert (disabled.json()["service"]["status"], disabled.json()["service"]["disabled_reason"]) == (
        "disabled",
        "tests",
    )
    enabled = admin.compute.enable_service(compute_2["id"])  # openstacksdk's own 2.53 call
    assert enabled.status == "enabled"
    assert call(admin, "PUT", path, "2.53", json={}).status_code == 400
    assert (
        call(admin, "PUT", path, "2.53", json={"status": "enabled", "disabled_reason": "x"}).status_code
        == 400
    )
    conductor = services[("conductor-1", "nova-conductor")]["id"]
    assert (
        call(admin, "PUT", f"/os-services/{conductor}", "2.53", json={"forced_down": True}).status_code == 400
    )
    # The host/binary actions are gone at 2.53 (the path segment must be a uuid now).
    old_style = call(admin, "PUT", "/os-services/enable", "2.53", json={"host": "compute-2", "binary": "x"})
    assert old_style.status_code == 400
    forced = call(
        admin,
        "PUT",
        "/os-services/force-down",
        "2.11",
        json={"host": "compute-2", "binary": "overcast-compute", "forced_down": False},
    )
    assert forced.json() == {
        "service": {"host": "compute-2", "binary": "overcast-compute", "forced_down": False}
    }
