"""Services, hypervisors, aggregates, availability zones and usage through openstacksdk, raw HTTP where
the SDK hides the status code, and the `openstack` CLI, against the whole cloud in one process (two fake
compute hosts)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from tests.support.cloud import COMPUTE_HOSTS, IMAGE_ID, TINY, InProcessCloud
from tests.support.compute_api import compute

COMPUTE = "nova-compute"


def boot(conn: Connection, name: str) -> Any:
    server = conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    return conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30)


def delete(conn: Connection, *servers: Any) -> None:
    for server in servers:
        conn.compute.delete_server(server)
    for server in servers:
        conn.compute.wait_for_delete(server, interval=0.1, wait=30)


# --- os-services --------------------------------------------------------------------------------------
def test_services_list_at_2_1(admin: Connection, demo: Connection) -> None:
    services = {(s.host, s.binary): s for s in admin.compute.services()}
    assert {(host, COMPUTE) for host in COMPUTE_HOSTS} <= set(services)
    compute_1 = services[("compute-1", COMPUTE)]
    assert (compute_1.state, compute_1.status, compute_1.availability_zone) == ("up", "enabled", "nova")
    assert services[("conductor-1", "nova-conductor")].availability_zone == "internal"
    raw = compute(admin, "GET", "/os-services?binary=overcast-compute").json()["services"]
    assert {item["host"] for item in raw} == set(COMPUTE_HOSTS)
    # forced_down arrives at 2.11 and must not be in a 2.1 body.
    assert set(raw[0]) == {"binary", "disabled_reason", "host", "id", "state", "status", "updated_at", "zone"}
    with pytest.raises(sdk_exceptions.ForbiddenException):
        list(demo.compute.services())


def test_a_disabled_compute_service_gets_no_new_servers(admin: Connection) -> None:
    reason = {"host": "compute-1", "binary": COMPUTE, "disabled_reason": "maintenance"}
    disabled = compute(admin, "PUT", "/os-services/disable-log-reason", json=reason)
    assert disabled.status_code == 200
    assert disabled.json() == {"service": {"host": "compute-1", "binary": COMPUTE, "status": "disabled",
                                           "disabled_reason": "maintenance"}}  # fmt: skip
    try:
        servers = [boot(admin, f"spread-{index}") for index in range(3)]
        assert {server.compute_host for server in servers} == {"compute-2"}
        hypervisor = next(
            h for h in admin.compute.hypervisors(details=True) if h.name.startswith("compute-1")
        )
        assert hypervisor.status == "disabled"
        assert hypervisor.service_details["disabled_reason"] == "maintenance"
        delete(admin, *servers)
    finally:
        enabled = compute(admin, "PUT", "/os-services/enable", json={"host": "compute-1", "binary": COMPUTE})
    assert enabled.json() == {"service": {"host": "compute-1", "binary": COMPUTE, "status": "enabled"}}
    missing = compute(admin, "PUT", "/os-services/disable", json={"host": "nowhere", "binary": COMPUTE})
    assert missing.status_code == 404
    no_reason = compute(
        admin, "PUT", "/os-services/disable-log-reason", json={"host": "compute-1", "binary": COMPUTE}
    )
    assert no_reason.status_code == 400


def test_deleting_a_service(admin: Connection) -> None:
    scheduler = next(s for s in admin.compute.services() if s.binary == "nova-scheduler")
    # openstacksdk speaks 2.53 or later here, where a service's id is its uuid.
    assert compute(admin, "DELETE", f"/os-services/{scheduler.id}", microversion="2.53").status_code == 204
    assert compute(admin, "DELETE", f"/os-services/{scheduler.id}", microversion="2.53").status_code == 404
    assert compute(admin, "DELETE", f"/os-services/{scheduler.id}").status_code == 400  # an integer at 2.1
    # (its next heartbeat registers the running scheduler again)


# --- os-hypervisors -----------------------------------------------------------------------------------
def test_hypervisors_reflect_compute_nodes(admin: Connection, demo: Connection) -> None:
    server = boot(admin, "counted")
    listed = compute(admin, "GET", "/os-hypervisors").json()["hypervisors"]
    assert len(listed) == 2 and set(listed[0]) == {"id", "hypervisor_hostname", "state", "status"}
    # The usage fields end at 2.88 (the SDK negotiates past it), so the details are read at 2.87.
    detailed = compute(admin, "GET", "/os-hypervisors/detail", microversion="2.87").json()["hypervisors"]
    details = {h["hypervisor_hostname"]: SimpleNamespace(**h) for h in detailed}
    used = [h for h in details.values() if h.running_vms == 1]
    assert len(used) == 1 and used[0].memory_mb_used == 512 and used[0].vcpus_used == 1
    assert used[0].free_ram_mb == used[0].memory_mb - 512
    assert used[0].state == "up" and used[0].hypervisor_type
    # The SDK (2.53 or later) names hypervisors by uuid; 2.1 by the integer id its listing shows.
    old_id = next(h["id"] for h in listed if h["hypervisor_hostname"] == used[0].hypervisor_hostname)
    raw = compute(admin, "GET", f"/os-hypervisors/{old_id}").json()["hypervisor"]
    assert isinstance(json.loads(raw["cpu_info"]), dict)  # a JSON string before 2.28
    assert raw["service"] == {
        "host": server.compute_host,
        "id": raw["service"]["id"],
        "disabled_reason": None,
    }

    stats = compute(admin, "GET", "/os-hypervisors/statistics").json()["hypervisor_statistics"]
    assert stats["count"] == 2 and stats["running_vms"] == 1 and stats["memory_mb_used"] == 512
    assert stats["vcpus"] == sum(h.vcpus for h in details.values())

    servers = compute(admin, "GET", f"/os-hypervisors/{server.compute_host}/servers").json()["hypervisors"]
    assert servers[0]["servers"] == [{"name": server.instance_name, "uuid": server.id}]
    searched = compute(admin, "GET", "/os-hypervisors/compute/search").json()["hypervisors"]
    assert len(searched) == 2
    assert compute(admin, "GET", "/os-hypervisors/nothing-like-it/search").status_code == 404
    assert compute(admin, "GET", "/os-hypervisors/4242").status_code == 404
    assert compute(admin, "GET", f"/os-hypervisors/{old_id}/uptime").status_code == 200
    by_uuid = compute(admin, "GET", f"/os-hypervisors/{used[0].id}/uptime", microversion="2.53")
    assert " load average: " in by_uuid.json()["hypervisor"]["uptime"]
    assert compute(demo, "GET", "/os-hypervisors").status_code == 403
    delete(admin, server)


# --- os-aggregates and os-availability-zone -------------------------------------------------------
def test_aggregates_define_availability_zones(admin: Connection, demo: Connection) -> None:
    rack = admin.compute.create_aggregate(name="rack-1", availability_zone="az1")
    created = compute(admin, "GET", f"/os-aggregates/{rack.id}").json()["aggregate"]
    assert set(created) == {"availability_zone", "created_at", "deleted", "deleted_at", "hosts", "id",
                            "metadata", "name", "updated_at"}  # fmt: skip
    assert (created["hosts"], created["metadata"]) == ([], {"availability_zone": "az1"})
    rack = admin.compute.add_host_to_aggregate(rack, "compute-1")
    assert rack.hosts == ["compute-1"]
    assert compute(admin, "POST", f"/os-aggregates/{rack.id}/action",
                   json={"add_host": {"host": "compute-1"}}).status_code == 409  # fmt: skip
    assert compute(admin, "POST", f"/os-aggregates/{rack.id}/action",
                   json={"add_host": {"host": "no-such-host"}}).status_code == 404  # fmt: skip
    other = admin.compute.create_aggregate(name="rack-2", availability_zone="az2")
    assert compute(admin, "POST", f"/os-aggregates/{other.id}/action",
                   json={"add_host": {"host": "compute-1"}}).status_code == 409  # fmt: skip

    zones = {zone.name: zone for zone in demo.compute.availability_zones()}
    assert set(zones) == {"az1", "nova"}  # az2 has no hosts; internal is hidden from users
    assert zones["az1"].state == {"available": True} and zones["az1"].hosts is None
    detailed = {zone.name: zone for zone in admin.compute.availability_zones(details=True)}
    assert set(detailed["az1"].hosts) == {"compute-1"}
    assert detailed["az1"].hosts["compute-1"][COMPUTE]["active"] is True
    assert "conductor-1" in detailed["internal"].hosts
    assert compute(demo, "GET", "/os-availability-zone/detail").status_code == 403
    compute_1 = next(s for s in admin.compute.services() if s.host == "compute-1" and s.binary == COMPUTE)
    assert compute_1.availability_zone == "az1"

    rack = admin.compute.set_aggregate_metadata(rack, ssd="true")
    assert rack.metadata == {"availability_zone": "az1", "ssd": "true"}
    assert compute(admin, "DELETE", f"/os-aggregates/{rack.id}").status_code == 400  # not empty
    rack = admin.compute.remove_host_from_aggregate(rack, "compute-1")
    assert compute(admin, "POST", f"/os-aggregates/{rack.id}/action",
                   json={"remove_host": {"host": "compute-1"}}).status_code == 404  # fmt: skip
    renamed = admin.compute.update_aggregate(rack, name="rack-one")
    assert renamed.name == "rack-one" and renamed.updated_at is not None
    assert compute(admin, "POST", "/os-aggregates", json={"aggregate": {"name": "rack-2"}}).status_code == 409
    for aggregate in (rack, other):
        assert compute(admin, "DELETE", f"/os-aggregates/{aggregate.id}").status_code == 200
    assert list(admin.compute.aggregates()) == []
    assert compute(demo, "GET", "/os-aggregates").status_code == 403


# --- os-simple-tenant-usage -----------------------------------------------------------------------
def test_usage_counts_launched_servers(admin: Connection, demo: Connection) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    server = boot(demo, "billed")
    delete(demo, server)
    end = datetime.now(UTC) + timedelta(hours=1)
    usage = demo.compute.get_usage(demo.current_project_id, start=start, end=end)
    assert usage.project_id == demo.current_project_id
    servers = {item.instance_id: item for item in usage.server_usages}
    billed = servers[server.id]
    assert billed.state == "terminated" and billed.flavor == "m1.tiny" and billed.memory_mb == 512
    assert 0 < billed.hours < 0.1
    assert usage.total_memory_mb_usage == pytest.approx(
        sum(s.memory_mb * s.hours for s in usage.server_usages)
    )
    assert usage.total_hours == pytest.approx(sum(s.hours for s in usage.server_usages))

    everyone = {u.project_id: u for u in admin.compute.usages(start=start, end=end)}
    assert demo.current_project_id in everyone and not everyone[demo.current_project_id].server_usages
    detailed = {u.project_id: u for u in admin.compute.usages(start=start, end=end, detailed=1)}
    assert server.id in {s.instance_id for s in detailed[demo.current_project_id].server_usages}
    with pytest.raises(sdk_exceptions.ForbiddenException):
        list(demo.compute.usages(start=start, end=end))
    backwards = compute(
        admin, "GET", f"/os-simple-tenant-usage?start={end.isoformat()}&end={start.isoformat()}"
    )
    assert backwards.status_code == 400
    nothing = compute(
        admin, "GET", "/os-simple-tenant-usage/nobody?start=2020-01-01T00:00:00&end=2020-01-02T00:00:00"
    )
    assert nothing.json() == {"tenant_usage": {}}


@pytest.mark.slow
def test_openstack_cli_admin_views(cloud: InProcessCloud) -> None:
    services = cloud.openstack("compute", "service", "list", "-f", "json", user="overcast-admin")
    assert {row["Host"] for row in services if row["Binary"] == COMPUTE} == set(COMPUTE_HOSTS)
    hypervisors = cloud.openstack("hypervisor", "list", "-f", "json", user="overcast-admin")
    assert len(hypervisors) == 2 and {row["State"] for row in hypervisors} == {"up"}
    aggregate = cloud.openstack(
        "aggregate", "create", "--zone", "cli-zone", "cli-rack", "-f", "json", user="overcast-admin"
    )
    added = cloud.openstack(
        "aggregate", "add", "host", "cli-rack", "compute-2", "-f", "json", user="overcast-admin"
    )
    assert added["hosts"] == ["compute-2"]
    zones = cloud.openstack("availability", "zone", "list", "--compute", "-f", "json", user="overcast-admin")
    # An admin's CLI lists the detailed zones, the internal one included (as against Nova).
    assert {row["Zone Name"] for row in zones} == {"cli-zone", "internal", "nova"}
    cloud.openstack(
        "aggregate", "remove", "host", "cli-rack", "compute-2", "-f", "json", user="overcast-admin"
    )
    cloud.openstack("aggregate", "delete", str(aggregate["id"]), user="overcast-admin")
    usage = cloud.openstack(
        "usage", "list", "--start", "2020-01-01", "--end", "2020-01-02", "-f", "json", user="overcast-admin"
    )
    assert usage == []
