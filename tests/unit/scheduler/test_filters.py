"""Every scheduler filter, weigher and preset against an in-memory host table."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from overcast import errors
from overcast.config import SchedulerSettings
from overcast.placement.resources import Wanted
from overcast.scheduler.filters import FILTERS
from overcast.scheduler.host_state import (
    AggregateInfo,
    Capabilities,
    DeviceInfo,
    HostState,
    HostStateTable,
)
from overcast.scheduler.request_spec import RequestSpec
from overcast.scheduler.selector import HostSelector, no_valid_host
from overcast.scheduler.weighers import WEIGHERS

NOW = 1_800_000_000.0
DOWN_TIME = 60.0
SMALL = Wanted(1, 512, 1)
GPU_CAPS = Capabilities(
    cpu_features=frozenset({"avx2"}), devices=(DeviceInfo("gpu", "10de", "20b5", "A100", 2),)
)


def host(name: str, **fields: Any) -> HostState:
    defaults: dict[str, Any] = {"vcpus": 8, "memory_mb": 8192, "local_gb": 100, "ram_allocation_ratio": 1.0,
                                "cpu_allocation_ratio": 1.0, "last_seen_up": NOW}  # fmt: skip
    return HostState(host=name, nodename=name, **(defaults | fields))


def table_of(*hosts: HostState) -> HostStateTable:
    table = HostStateTable()
    for state in hosts:
        table.upsert(state)
    return table


def passing(filter_name: str, table: HostStateTable, spec: RequestSpec, **settings: Any) -> list[str]:
    host_filter = FILTERS[filter_name](SchedulerSettings(**settings), NOW, DOWN_TIME)
    idx = table.all_indices()
    if not host_filter.applies(spec):
        return [table.hosts[i].host for i in idx]
    return [table.hosts[i].host for i in idx[host_filter.passes(table, idx, spec)]]


def spec(**fields: Any) -> RequestSpec:
    return RequestSpec(**({"wanted": SMALL} | fields))


def test_compute_filter_drops_disabled_silent_and_excluded_hosts() -> None:
    table = table_of(host("ok"), host("off", disabled=True), host("silent", last_seen_up=NOW - 600),
                     host("never", last_seen_up=None), host("failed"))  # fmt: skip
    assert passing("ComputeFilter", table, spec(excluded_hosts=frozenset({"failed"}))) == ["ok"]


@pytest.mark.parametrize(
    ("filter_name", "wanted", "fits"),
    [("RamFilter", Wanted(1, 6000, 1), ["big"]), ("CoreFilter", Wanted(6, 1, 1), ["big"]),
     ("DiskFilter", Wanted(1, 1, 150), ["big"])],
)  # fmt: skip
def test_resource_filters_use_free_capacity_times_allocation_ratio(
    filter_name: str, wanted: Wanted, fits: list[str]
) -> None:
    small = host("small", vcpus=4, memory_mb=4096, local_gb=100, vcpus_used=1, memory_mb_used=512)
    big = host("big", vcpus=4, memory_mb=4096, local_gb=100, cpu_allocation_ratio=2.0,
               ram_allocation_ratio=1.5, disk_allocation_ratio=2.0)  # fmt: skip
    assert passing(filter_name, table_of(small, big), spec(wanted=wanted)) == fits


def test_ram_filter_honours_a_configured_ratio_override() -> None:
    table = HostStateTable(ratio_overrides=(None, 2.0, None))
    table.upsert(host("h", memory_mb=4096))
    assert passing("RamFilter", table, spec(wanted=Wanted(1, 8000, 1))) == ["h"]


def test_availability_zone_filter_uses_aggregate_zones_and_the_default_zone() -> None:
    az1 = (AggregateInfo("rack1", (("availability_zone", "az1"),)),)
    table = table_of(host("in-az1", aggregates=az1), host("default"))
    assert passing("AvailabilityZoneFilter", table, spec(availability_zone="az1")) == ["in-az1"]
    assert passing("AvailabilityZoneFilter", table, spec(availability_zone="nova")) == ["default"]
    assert passing("AvailabilityZoneFilter", table, spec()) == ["in-az1", "default"]


def test_image_properties_filter_matches_arch_hypervisor_version_and_minimums() -> None:
    arm = Capabilities(cpu_arch="aarch64", hypervisor_type="QEMU", hypervisor_version=8_002_000)
    table = table_of(
        host("x86"), host("arm", capabilities=arm), host("tiny-arm", capabilities=arm, memory_mb=256)
    )
    assert passing("ImagePropertiesFilter", table, spec(image_properties={"hw_architecture": "arm64"})) == [
        "arm", "tiny-arm"
    ]  # fmt: skip
    wants_qemu8 = {"img_hv_type": "qemu", "img_hv_requested_version": ">=8.1"}
    assert passing("ImagePropertiesFilter", table, spec(image_properties=wants_qemu8)) == ["arm", "tiny-arm"]
    assert passing("ImagePropertiesFilter", table, spec(image_properties={"img_hv_type": "xen"})) == []
    assert passing("ImagePropertiesFilter", table, spec(image_min_ram=1024)) == ["x86", "arm"]


def test_aggregate_instance_extra_specs_filter() -> None:
    ssd = (AggregateInfo("fast", (("ssd", "true"), ("gen", "3"))),)
    table = table_of(host("fast", aggregates=ssd), host("plain"))
    scoped = {"aggregate_instance_extra_specs:ssd": "true"}
    assert passing("AggregateInstanceExtraSpecsFilter", table, spec(flavor_extra_specs=scoped)) == ["fast"]
    assert passing("AggregateInstanceExtraSpecsFilter", table, spec(flavor_extra_specs={"gen": ">= 2"})) == [
        "fast"
    ]  # fmt: skip
    assert (
        passing("AggregateInstanceExtraSpecsFilter", table, spec(flavor_extra_specs={"ssd": "false"})) == []
    )
    # Other scopes belong to other filters.
    other = {"hw:cpu_policy": "dedicated"}
    assert passing("AggregateInstanceExtraSpecsFilter", table, spec(flavor_extra_specs=other)) == [
        "fast",
        "plain",
    ]


def test_aggregate_multi_tenancy_isolation() -> None:
    private = (AggregateInfo("private", (("filter_tenant_id", "p1,p2"),)),)
    table = table_of(host("private", aggregates=private), host("shared"))
    assert passing("AggregateMultiTenancyIsolation", table, spec(project_id="p2")) == ["private", "shared"]
    assert passing("AggregateMultiTenancyIsolation", table, spec(project_id="p3")) == ["shared"]


def test_server_group_filters_and_host_hints() -> None:
    table = table_of(host("a"), host("b"), host("c"))
    anti = spec(group_policy="anti-affinity", group_hosts=("a", "b"))
    assert passing("ServerGroupAntiAffinityFilter", table, anti) == ["c"]
    affinity = spec(group_policy="affinity", group_hosts=("b",))
    assert passing("ServerGroupAffinityFilter", table, affinity) == ["b"]
    # The first member of an affinity group may go anywhere.
    assert passing("ServerGroupAffinityFilter", table, spec(group_policy="affinity")) == ["a", "b", "c"]
    same = spec(scheduler_hints={"same_host": ["uuid-1"]}, same_hosts=("c",))
    assert passing("SameHostFilter", table, same) == ["c"]
    different = spec(scheduler_hints={"different_host": ["uuid-1"]}, different_hosts=("a",))
    assert passing("DifferentHostFilter", table, different) == ["b", "c"]


def test_pci_passthrough_and_vgpu_requests_need_matching_devices() -> None:
    nic = Capabilities(devices=(DeviceInfo("pci", "8086", "1572", "X710", 4),))
    table = table_of(host("gpu", capabilities=GPU_CAPS), host("nic", capabilities=nic), host("plain"))
    aliases = {"a100": {"vendor_id": "10de", "product_id": "20b5"}, "x710": {"product_id": "1572"}}
    assert passing("PciPassthroughFilter", table, spec(flavor_extra_specs={"resources:VGPU": "1"})) == ["gpu"]
    assert passing("PciPassthroughFilter", table, spec(flavor_extra_specs={"resources:VGPU": "3"})) == []
    two_gpus = spec(flavor_extra_specs={"pci_passthrough:alias": "a100:2"})
    assert passing("PciPassthroughFilter", table, two_gpus, pci_aliases=aliases) == ["gpu"]
    nics = spec(flavor_extra_specs={"pci_passthrough:alias": "x710:4"})
    assert passing("PciPassthroughFilter", table, nics, pci_aliases=aliases) == ["nic"]
    unknown = spec(flavor_extra_specs={"pci_passthrough:alias": "h100"})
    assert passing("PciPassthroughFilter", table, unknown, pci_aliases=aliases) == []


def test_cpu_traits_filter_required_and_forbidden() -> None:
    old = Capabilities(cpu_features=frozenset({"sse4_2"}))
    arm = Capabilities(cpu_arch="aarch64", cpu_features=frozenset({"aes"}))
    table = table_of(
        host("avx2", capabilities=GPU_CAPS), host("old", capabilities=old), host("arm", capabilities=arm)
    )
    required = spec(flavor_extra_specs={"trait:HW_CPU_X86_AVX2": "required"})
    assert passing("CpuTraitsFilter", table, required) == ["avx2"]
    arm_image = spec(image_properties={"trait:HW_ARCH_AARCH64": "required"})
    assert passing("CpuTraitsFilter", table, arm_image) == [
        "arm"
    ]  # fmt: skip
    forbidden = spec(flavor_extra_specs={"trait:HW_CPU_X86_SSE42": "forbidden"})
    assert passing("CpuTraitsFilter", table, forbidden) == ["avx2", "arm"]


def test_json_filter_from_operator_rules_and_query_hint() -> None:
    table = table_of(
        host("big", memory_mb=16384),
        host("small", memory_mb=2048),
        host("arm", capabilities=Capabilities(cpu_arch="aarch64")),
    )
    rules = ['[">=", "$free_ram_mb", 4096]']
    assert passing("JsonFilter", table, spec(), json_filter_rules=rules) == ["big", "arm"]
    query = '["and", [">=", "$free_ram_mb", 4096], ["=", "$capabilities.cpu_arch", "x86_64"]]'
    assert passing("JsonFilter", table, spec(scheduler_hints={"query": query})) == ["big"]
    with pytest.raises(errors.BadRequest):
        passing("JsonFilter", table, spec(scheduler_hints={"query": '["nope", 1]'}))


def choose(table: HostStateTable, request: RequestSpec, count: int = 3, **settings: Any) -> list[str]:
    selector = HostSelector(SchedulerSettings(**settings), random.Random(7))
    return [table.hosts[i].host for i in selector.select(table, request, NOW, DOWN_TIME, count).indices]


def test_every_weigher_orders_hosts_by_its_measure() -> None:
    names = ("ram", "cpu", "disk", "io_ops", "build_failure")
    only = {f"{name}_weight_multiplier": 0.0 for name in names}
    a = host(
        "a", memory_mb_used=4000, vcpus_used=1, local_gb_used=90, io_ops=3, failed_builds=0, running_vms=1
    )
    b = host(
        "b", memory_mb_used=1000, vcpus_used=6, local_gb_used=10, io_ops=0, failed_builds=2, running_vms=9
    )
    table = table_of(a, b)
    cases = {"ram_weight_multiplier": ["b", "a"], "cpu_weight_multiplier": ["a", "b"],
             "disk_weight_multiplier": ["b", "a"], "io_ops_weight_multiplier": ["b", "a"],
             "build_failure_weight_multiplier": ["a", "b"]}  # fmt: skip
    for setting, expected in cases.items():
        multiplier = -1.0 if setting == "io_ops_weight_multiplier" else 1.0
        assert choose(table, spec(), **(only | {setting: multiplier})) == expected, setting
    assert choose(table, spec(), **(only | {"num_instances_weight_multiplier": -1.0})) == ["a", "b"]
    # Packing flips the resource weighers: the fullest host (by RAM) wins.
    assert choose(table, spec(), **(only | {"ram_weight_multiplier": 1.0, "strategy": "pack"})) == ["a", "b"]
    assert set(WEIGHERS) >= {"RAMWeigher", "CPUWeigher", "DiskWeigher", "IoOpsWeigher", "NumInstancesWeigher",
                             "BuildFailureWeigher", "ServerGroupSoftAffinityWeigher",
                             "ServerGroupSoftAntiAffinityWeigher"}  # fmt: skip


def test_soft_affinity_and_soft_anti_affinity_weighers() -> None:
    table = table_of(host("a"), host("b"), host("c"))
    members = ("b", "b", "c")
    assert choose(table, spec(group_policy="soft-affinity", group_hosts=members))[0] == "b"
    assert choose(table, spec(group_policy="soft-anti-affinity", group_hosts=members))[0] == "a"


def test_presets_chance_simple_zone_and_filter() -> None:
    az = lambda name: (AggregateInfo(name, (("availability_zone", name),)),)  # noqa: E731
    hosts = [host(f"h{i}", vcpus_used=i, aggregates=az("az1" if i % 2 else "az2")) for i in range(6)]
    table = table_of(*hosts, host("full", memory_mb_used=8192))
    assert choose(table, spec(), count=1, preset="simple") == ["h0"]  # least loaded
    selector = HostSelector(SchedulerSettings(preset="chance"), random.Random(3))
    picks = {
        table.hosts[selector.select(table, spec(), NOW, DOWN_TIME, 1).indices[0]].host for _ in range(60)
    }
    assert picks <= {f"h{i}" for i in range(6)} and len(picks) > 2  # random, never the full host
    zone = HostSelector(SchedulerSettings(preset="zone"), random.Random(5))
    in_az1 = {
        table.hosts[i].host
        for i in zone.select(table, spec(availability_zone="az1"), NOW, DOWN_TIME, 6).indices
    }
    assert in_az1 == {"h1", "h3", "h5"}
    drawn = {table.hosts[i].host for i in zone.select(table, spec(), NOW, DOWN_TIME, 6).indices}
    assert drawn in ({"h1", "h3", "h5"}, {"h0", "h2", "h4"})  # one random zone, all of its hosts
    assert choose(table, spec(), count=2) == ["h0", "h1"]  # filter: most free vCPUs (RAM is equal)
    with pytest.raises(errors.BadRequest):
        HostSelector(SchedulerSettings(preset="nope"))
    with pytest.raises(errors.BadRequest):
        HostSelector(SchedulerSettings(enabled_filters=["NoSuchFilter"]))


def test_no_valid_host_says_which_filter_removed_how_many() -> None:
    table = table_of(*(host(f"h{i}", memory_mb=4096) for i in range(40)), host("off", disabled=True))
    selector = HostSelector(SchedulerSettings(), random.Random(1))
    selection = selector.select(table, spec(wanted=Wanted(1, 8192, 1)), NOW, DOWN_TIME, 1)
    assert selection.indices == []
    message = no_valid_host(selection).message
    assert "ComputeFilter: 1 of 41 hosts rejected (1 disabled, 0 down or excluded)" in message
    assert "RamFilter: 40 of 40 hosts rejected (need 8192 MB, best 4096 MB free)" in message


def test_table_tracks_consumption_and_release() -> None:
    table = table_of(host("h", memory_mb=1024))
    table.consume(0, Wanted(1, 1000, 1))
    assert passing("RamFilter", table, spec(wanted=Wanted(1, 100, 1))) == []
    table.release(0, Wanted(1, 1000, 1))
    assert passing("RamFilter", table, spec(wanted=Wanted(1, 100, 1))) == ["h"]
    table.upsert(replace(table.hosts[0], memory_mb_used=1024))
    assert passing("RamFilter", table, spec(wanted=Wanted(1, 100, 1))) == []


@pytest.mark.parametrize("alternates", [2, 12])  # picked one by one, and by a partition past FEW
def test_equal_weights_go_to_the_lower_table_index(alternates: int) -> None:
    # A new cloud: identical empty hosts, and a few that took instances and weigh less.
    hosts = [host(f"h{i:02d}", memory_mb_used=4096 if i % 7 == 3 else 0) for i in range(40)]
    chosen = choose(table_of(*hosts), spec(), count=1 + alternates)
    empty = [state.host for state in hosts if state.memory_mb_used == 0]
    assert chosen == empty[: 1 + alternates]
