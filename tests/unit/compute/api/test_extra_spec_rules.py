"""Compute API 2.86's extra spec validation: Nova's registered keys and values refused or taken, other
namespaces left alone."""

from __future__ import annotations

import pytest

from overcast import errors
from overcast.compute.api.extra_spec_rules import validate


@pytest.mark.parametrize(
    "specs",
    [
        {"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate", "hw:numa_nodes": "2"},
        {"hw:numa_cpus.0": "0-3,^2", "hw:numa_mem.1": "2048", "hw:mem_page_size": "2MB"},
        {"hw:watchdog_action": "reset", "hw:boot_menu": "yes", "hw_rng:allowed": "True"},
        {"quota:disk_read_bytes_sec": "10240000", "quota:vif_inbound_average": "1000"},
        {"resources:VGPU": "1", "resources1:CUSTOM_FPGA": "2", "resources_big:VCPU": "4"},
        {"trait:HW_CPU_X86_AVX2": "required", "trait2:CUSTOM_RAID": "forbidden"},
        {"pci_passthrough:alias": "gpu:2,nic:1", "group_policy": "isolate", "hide_hypervisor_id": "true"},
        # Namespaces Nova leaves free-form, an operator's own, and keys of no namespace.
        {"aggregate_instance_extra_specs:ssd": "true", "capabilities:cpu_arch": "x86_64"},
        {"acme:tier": "gold", "anything-at-all": "x"},
    ],
)
def test_what_nova_accepts(specs: dict[str, str]) -> None:
    validate(specs)


@pytest.mark.parametrize(
    ("specs", "named"),
    [
        ({"hw:cpu_policy": "greedy"}, "hw:cpu_policy"),
        ({"hw:no_such_key": "1"}, "hw:no_such_key"),
        ({"hw:numa_nodes": "0"}, "hw:numa_nodes"),
        ({"hw:boot_menu": "maybe"}, "hw:boot_menu"),
        ({"quota:cpu_quotas": "1"}, "quota:cpu_quotas"),
        ({"resources:VGPU": "-1"}, "resources:VGPU"),
        ({"trait:HW_CPU_X86_AVX2": "wanted"}, "trait:HW_CPU_X86_AVX2"),
        ({"pci_passthrough:alias": "gpu"}, "pci_passthrough:alias"),
        ({"group_policy": "spread"}, "group_policy"),
        ({"os:secure_boot": "sometimes"}, "os:secure_boot"),
    ],
)
def test_what_nova_refuses(specs: dict[str, str], named: str) -> None:
    with pytest.raises(errors.BadRequest, match=named):
        validate(specs)
