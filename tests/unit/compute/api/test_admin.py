"""The logic behind the compute admin APIs on a real (SQLite) database: aggregates and zones, services
and hypervisors, usage over a period, quota views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute.api.aggregates import AggregateAPI
from overcast.compute.api.hosts import HostAPI
from overcast.compute.api.quota_views import QUOTA_SET_RESOURCES, QuotaViewAPI
from overcast.compute.api.usage import UsageAPI, hours_in_period
from overcast.db import Database
from overcast.db.models.compute import ComputeNode, Instance
from overcast.db.models.service import ServiceRecord
from overcast.quota import QuotaEngine
from overcast.zones import zone_of_host

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DOWN_TIME = 60.0


def add_service(
    session: Session, host: str, binary: str = "overcast-compute", *, seen: datetime = NOW
) -> None:
    session.add(ServiceRecord(host=host, binary=binary, topic=binary.split("-")[-1], last_seen_up=seen))


def add_node(
    session: Session, host: str, *, vcpus: int = 4, memory_mb: int = 8192, local_gb: int = 100
) -> None:
    session.add(ComputeNode(
        host=host, hypervisor_hostname=f"{host}.example", hypervisor_type="fake", hypervisor_version=1000,
        cpu_info={"arch": "x86_64"}, vcpus=vcpus, memory_mb=memory_mb, local_gb=local_gb,
    ))  # fmt: skip


def add_instance(session: Session, project: str, host: str | None, **fields: object) -> Instance:
    values: dict[str, object] = dict(
        display_name="vm", project_id=project, user_id="u", flavor_id="1", vcpus=1, memory_mb=512, root_gb=1,
        vm_state="active", host=host, node=f"{host}.example" if host else None,
    )  # fmt: skip
    values.update(fields)
    instance = Instance(**values)
    session.add(instance)
    return instance


@pytest.fixture
def hosts(db: Database) -> HostAPI:
    with db.writer() as session:
        for host in ("c1", "c2"):
            add_service(session, host)
            add_node(session, host)
        add_service(session, "ctl", "overcast-conductor")
    return HostAPI(db, lambda: NOW, DOWN_TIME)


# --- aggregates and zones -----------------------------------------------------------------------------
def test_a_host_belongs_to_one_zone_at_most(db: Database, hosts: HostAPI) -> None:
    aggregates = AggregateAPI(db)
    az1 = aggregates.create("rack-1", "az1")
    az2 = aggregates.create("rack-2", "az2")
    plain = aggregates.create("ssd", None)
    aggregates.add_host(str(az1.id), "c1")
    aggregates.add_host(str(plain.id), "c1")  # no zone: any host may join
    with pytest.raises(errors.Conflict):
        aggregates.add_host(str(az2.id), "c1")
    with pytest.raises(errors.Conflict):
        aggregates.add_host(str(az1.id), "c1")
    with pytest.raises(errors.NotFound):
        aggregates.add_host(str(az1.id), "ctl")  # not a compute host
    # Giving the zoneless aggregate another zone would put c1 in two zones.
    with pytest.raises(errors.BadRequest):
        aggregates.set_metadata(str(plain.id), {"availability_zone": "az2"})
    with db.reader() as session:
        assert zone_of_host(session, "c1") == "az1"
        assert zone_of_host(session, "c2") == "nova"
    with pytest.raises(errors.BadRequest):
        aggregates.delete(str(az1.id))
    aggregates.remove_host(str(az1.id), "c1")
    aggregates.delete(str(az1.id))
    with pytest.raises(errors.NotFound):
        aggregates.get(str(az1.id))


def test_aggregate_names_are_unique_and_zones_are_checked(db: Database, hosts: HostAPI) -> None:
    aggregates = AggregateAPI(db)
    first = aggregates.create("one", None)
    with pytest.raises(errors.Conflict):
        aggregates.create("one", None)
    aggregates.create("two", None)
    with pytest.raises(errors.Conflict):
        aggregates.update(str(first.id), "two", None, False)
    for bad_zone in ("internal", "a:b"):
        with pytest.raises(errors.BadRequest):
            aggregates.create("three", bad_zone)
    renamed = aggregates.update(str(first.id), "uno", "az9", True)
    assert (renamed.name, renamed.availability_zone, renamed.metadata) == (
        "uno",
        "az9",
        {"availability_zone": "az9"},
    )
    cleared = aggregates.set_metadata(str(first.id), {"availability_zone": None, "ssd": "true"})
    assert (cleared.availability_zone, cleared.metadata) == (None, {"ssd": "true"})


def test_moving_hosts_with_instances_to_another_zone_is_refused(db: Database, hosts: HostAPI) -> None:
    aggregates = AggregateAPI(db)
    rack = aggregates.create("rack", "az1")
    aggregates.add_host(str(rack.id), "c1")
    with db.writer() as session:
        add_instance(session, "p1", "c1")
    with pytest.raises(errors.BadRequest):
        aggregates.update(str(rack.id), None, "az2", True)


# --- services, hypervisors, zones -----------------------------------------------------------------
def test_services_show_zone_state_and_status(db: Database, hosts: HostAPI) -> None:
    with db.writer() as session:
        add_service(session, "c3", seen=NOW - timedelta(seconds=DOWN_TIME + 1))
    hosts.set_disabled("c2", "overcast-compute", True, "maintenance")
    by_host = {service.host: service for service in hosts.services()}
    assert by_host["ctl"].zone == "internal" and by_host["c1"].zone == "nova"
    assert (by_host["c2"].disabled, by_host["c2"].disabled_reason) == (True, "maintenance")
    assert by_host["c1"].up and not by_host["c3"].up
    hosts.set_disabled("c2", "overcast-compute", False)
    assert hosts.services(host="c2")[0].disabled_reason is None
    with pytest.raises(errors.NotFound):
        hosts.set_disabled("nowhere", "overcast-compute", True)


def test_deleting_a_compute_service_removes_its_node_unless_it_hosts_instances(
    db: Database, hosts: HostAPI
) -> None:
    with db.writer() as session:
        add_instance(session, "p1", "c1")
    c1, c2 = (hosts.services(host=host)[0] for host in ("c1", "c2"))
    with pytest.raises(errors.Conflict):
        hosts.delete_service(str(c1.id))
    hosts.delete_service(str(c2.id))
    assert [hyp.host for hyp in hosts.hypervisors()] == ["c1"]
    with pytest.raises(errors.NotFound):
        hosts.delete_service(str(c2.id))


def test_hypervisors_count_workload_and_servers(db: Database, hosts: HostAPI) -> None:
    with db.writer() as session:
        add_instance(session, "p1", "c1")
        add_instance(session, "p1", "c1", task_state="deleting")
        add_instance(session, "p1", "c1", deleted=True)
    c1 = hosts.hypervisors("c1", with_servers=True)[0]
    assert c1.current_workload == 1 and len(c1.servers) == 2
    assert c1.free_ram_mb == 8192 and c1.service.up
    assert hosts.hypervisor(str(c1.id)).hypervisor_hostname == "c1.example"
    for missing in ("999", "abc"):
        with pytest.raises(errors.NotFound):
            hosts.hypervisor(missing)
    hosts.set_disabled("c2", "overcast-compute", True)
    stats = hosts.statistics()
    assert (stats["count"], stats["vcpus"], stats["current_workload"]) == (1, 4, 1)


def test_zones_are_available_while_one_of_their_services_is_enabled(db: Database, hosts: HostAPI) -> None:
    aggregates = AggregateAPI(db)
    aggregates.add_host(str(aggregates.create("rack", "az1").id), "c2")
    hosts.set_disabled("c2", "overcast-compute", True)
    zones = {zone.name: zone for zone in hosts.availability_zones(with_hosts=True)}
    assert zones["nova"].available and not zones["az1"].available
    assert zones["internal"].hosts == {"ctl": {"overcast-conductor": hosts.services(host="ctl")[0]}}
    assert zones["az1"].hosts is None


# --- usage --------------------------------------------------------------------------------------------
def test_hours_are_clipped_to_the_period() -> None:
    start, stop = NOW - timedelta(hours=10), NOW
    assert hours_in_period(NOW - timedelta(hours=20), None, start, stop) == 10
    assert hours_in_period(NOW - timedelta(hours=4), NOW - timedelta(hours=1), start, stop) == 3


def test_usage_sums_what_ran_in_the_period(db: Database) -> None:
    with db.writer() as session:
        add_instance(session, "p1", "c1", launched_at=NOW - timedelta(hours=5))
        add_instance(session, "p1", "c1", vcpus=2, memory_mb=1024, launched_at=NOW - timedelta(hours=30),
                     terminated_at=NOW - timedelta(hours=2), deleted=True)  # fmt: skip
        add_instance(
            session,
            "p2",
            "c1",
            launched_at=NOW - timedelta(hours=50),
            terminated_at=NOW - timedelta(hours=40),
        )
        add_instance(session, "p2", None)  # never launched
    usage = UsageAPI(db, lambda: NOW)
    (p1,) = usage.tenant_usages(NOW - timedelta(hours=24), NOW + timedelta(days=1))
    assert p1.tenant_id == "p1" and p1.stop == NOW  # the future is not charged
    assert p1.total_hours == pytest.approx(5 + 22)
    assert p1.total_vcpus_usage == pytest.approx(5 + 2 * 22)
    assert p1.total_memory_mb_usage == pytest.approx(512 * 5 + 1024 * 22)
    states = sorted((server.state, server.flavor, server.uptime) for server in p1.server_usages)
    assert states == [("active", "m1.tiny", 5 * 3600), ("terminated", "m1.tiny", 28 * 3600)]
    assert usage.tenant_usages(NOW - timedelta(hours=24), NOW, "p2") == []


# --- quotas -------------------------------------------------------------------------------------------
def test_quota_views_add_the_compute_only_resources(db: Database) -> None:
    quotas = QuotaViewAPI(db, QuotaEngine())
    assert set(quotas.limits("p1")) == set(QUOTA_SET_RESOURCES)
    assert quotas.update("p1", {"injected_files": 2, "instances": 4}, force=False)["injected_files"] == 2
    engine = QuotaEngine()
    with db.writer() as session:
        engine.consume(session, "p1", {"instances": 3})
    with pytest.raises(errors.BadRequest):
        quotas.update("p1", {"instances": 2}, force=False)
    assert quotas.details("p1")["instances"].in_use == 3
    limits = quotas.absolute_limits("p1")
    assert (limits["maxTotalInstances"], limits["totalInstancesUsed"], limits["maxPersonality"]) == (4, 3, 2)
    with pytest.raises(errors.BadRequest):
        quotas.update("p1", {"volumes": 1}, force=False)  # not a compute quota
    quotas.update_class("gold", {"cores": 99})
    assert quotas.class_limits("gold")["cores"] == 99 and quotas.class_limits("default")["cores"] == 20
    quotas.update_class("default", {"cores": 30})
    assert quotas.defaults()["cores"] == 30 and quotas.limits("p2")["cores"] == 30
