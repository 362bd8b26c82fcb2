"""Flavor extra specs as compute API 2.86 validates them: Nova's registered keys and their values.

A key in a namespace Nova registers (``hw:``, ``quota:``, ``trait:``...) must be one of that namespace's
keys and carry a value of its kind; a key of any other namespace (an operator's own) is accepted as it is,
as are the namespaces Nova leaves free-form (``aggregate_instance_extra_specs:``, ``capabilities:``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from overcast import errors

Check = Callable[[str], bool]

_BOOLEANS = frozenset({"true", "false", "1", "0", "yes", "no", "on", "off", "t", "f", "y", "n"})


def _boolean(value: str) -> bool:
    return value.strip().lower() in _BOOLEANS


def _integer(minimum: int = 0) -> Check:
    def check(value: str) -> bool:
        text = value.strip()
        return bool(re.fullmatch(r"-?[0-9]+", text)) and int(text) >= minimum

    return check


def _one_of(*choices: str) -> Check:
    allowed = frozenset(choices)
    return lambda value: value in allowed


def _pattern(regex: str) -> Check:
    compiled = re.compile(regex)
    return lambda value: compiled.fullmatch(value) is not None


def _any(value: str) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    """One registered key: its name (a regular expression for the numbered and grouped ones) and value."""

    key: re.Pattern[str]
    check: Check
    expects: str


def _rule(key: str, check: Check, expects: str) -> Rule:
    return Rule(re.compile(key), check, expects)


_CPU_SET = r"\^?[0-9]+(-[0-9]+)?(,\^?[0-9]+(-[0-9]+)?)*"
_PAGE_SIZE = r"(small|large|any|[0-9]+([kKmMgG][bB]?)?)"
_QUOTA_KEYS = (
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "disk_read_bytes_sec",
    "disk_read_iops_sec",
    "disk_write_bytes_sec",
    "disk_write_iops_sec",
    "disk_total_bytes_sec",
    "disk_total_iops_sec",
    "vif_inbound_average",
    "vif_inbound_peak",
    "vif_inbound_burst",
    "vif_outbound_average",
    "vif_outbound_peak",
    "vif_outbound_burst",
    "memory_limit",
    "memory_reservation",
    "memory_shares_level",
    "memory_shares_share",
    "cpu_limit",
    "cpu_reservation",
    "cpu_shares_level",
    "cpu_shares_share",
    "disk_io_limit",
    "disk_io_reservation",
    "disk_io_shares_level",
    "disk_io_shares_share",
    "vif_limit",
    "vif_reservation",
    "vif_shares_level",
    "vif_shares_share",
)

# Namespace -> its registered keys (Nova's nova/api/validation/extra_specs/*).
NAMESPACES: dict[str, tuple[Rule, ...]] = {
    "hw": (
        _rule(r"hw:cpu_policy", _one_of("shared", "dedicated", "mixed"), "shared, dedicated or mixed"),
        _rule(r"hw:cpu_thread_policy", _one_of("prefer", "isolate", "require"), "prefer, isolate or require"),
        _rule(r"hw:emulator_threads_policy", _one_of("share", "isolate"), "share or isolate"),
        _rule(r"hw:cpu_dedicated_mask", _pattern(_CPU_SET), "a CPU set"),
        _rule(r"hw:cpu_realtime", _boolean, "a boolean"),
        _rule(r"hw:cpu_realtime_mask", _pattern(_CPU_SET), "a CPU set"),
        _rule(
            r"hw:(cpu_sockets|cpu_cores|cpu_threads|cpu_max_sockets|cpu_max_cores|cpu_max_threads)",
            _integer(1),
            "a positive integer",
        ),
        _rule(r"hw:numa_nodes", _integer(1), "a positive integer"),
        _rule(r"hw:numa_cpus\.[0-9]+", _pattern(_CPU_SET), "a CPU set"),
        _rule(r"hw:numa_mem\.[0-9]+", _integer(0), "an integer (MiB)"),
        _rule(
            r"hw:pci_numa_affinity_policy",
            _one_of("required", "legacy", "preferred", "socket"),
            "required, legacy, preferred or socket",
        ),
        _rule(r"hw:mem_page_size", _pattern(_PAGE_SIZE), "small, large, any or a size"),
        _rule(
            r"hw:watchdog_action",
            _one_of("none", "pause", "poweroff", "reset", "disabled"),
            "none, pause, poweroff, reset or disabled",
        ),
        _rule(
            r"hw:(boot_menu|pmu|mem_encryption|vif_multiqueue_enabled|locked_memory|virtio_packed_ring|"
            r"hide_hypervisor_id|vtpm)",
            _boolean,
            "a boolean",
        ),
        _rule(r"hw:serial_port_count", _integer(0), "an integer"),
        _rule(r"hw:tpm_version", _one_of("1.2", "2.0"), "1.2 or 2.0"),
        _rule(r"hw:tpm_model", _one_of("tpm-tis", "tpm-crb"), "tpm-tis or tpm-crb"),
        _rule(r"hw:maxphysaddr_mode", _one_of("passthrough", "emulate"), "passthrough or emulate"),
        _rule(r"hw:maxphysaddr_bits", _integer(1), "a positive integer"),
        _rule(r"hw:(mem_encryption_model|cpu_model|ephemeral_encryption_format)", _any, "a string"),
        _rule(r"hw:ephemeral_encryption", _boolean, "a boolean"),
        _rule(
            r"hw:viommu_model", _one_of("intel", "smmuv3", "virtio", "auto"), "intel, smmuv3, virtio or auto"
        ),
    ),
    "hw_rng": (
        _rule(r"hw_rng:allowed", _boolean, "a boolean"),
        _rule(r"hw_rng:(rate_bytes|rate_period)", _integer(0), "an integer"),
    ),
    "hw_video": (_rule(r"hw_video:ram_max_mb", _integer(0), "an integer"),),
    "os": (
        _rule(
            r"os:secure_boot", _one_of("required", "disabled", "optional"), "required, disabled or optional"
        ),
        _rule(r"os:monitors", _integer(1), "a positive integer"),
    ),
    "quota": tuple(
        _rule(rf"quota:{key}", _any if "level" in key else _integer(0), "an integer") for key in _QUOTA_KEYS
    ),
    "resources": (_rule(r"resources[0-9]*(_[a-zA-Z0-9_-]+)?:[A-Z0-9_]+", _integer(0), "an integer"),),
    "trait": (
        _rule(
            r"trait[0-9]*(_[a-zA-Z0-9_-]+)?:[A-Z0-9_]+",
            _one_of("required", "forbidden"),
            "required or forbidden",
        ),
    ),
    "pci_passthrough": (
        _rule(
            r"pci_passthrough:alias",
            _pattern(r"[^:,]+:[0-9]+(,[^:,]+:[0-9]+)*"),
            "alias:count[,alias:count...]",
        ),
    ),
    "accel": (_rule(r"accel:device_profile", _any, "a device profile name"),),
    "vmware": (_rule(r"vmware:(hw_version|storage_policy)", _any, "a string"),),
}
# Keys without a namespace that Nova registers.
TOP_LEVEL: dict[str, Rule] = {
    "hide_hypervisor_id": _rule(r"hide_hypervisor_id", _boolean, "a boolean"),
    "group_policy": _rule(r"group_policy", _one_of("none", "isolate"), "none or isolate"),
}
# The grouped request namespaces (resources1:, trait_group:) belong to their base namespace.
_NAMESPACE_OF = re.compile(r"^(resources|trait)([0-9]+|_[a-zA-Z0-9_-]+)?$")


def _namespace(key: str) -> str | None:
    if ":" not in key:
        return None
    prefix = key.split(":", 1)[0]
    grouped = _NAMESPACE_OF.match(prefix)
    return grouped.group(1) if grouped else prefix


def validate(specs: dict[str, str]) -> None:
    """Nova 2.86's 400 for a key of a registered namespace that is not registered, or a bad value."""
    for key, value in specs.items():
        namespace = _namespace(key)
        if namespace is None:
            rule = TOP_LEVEL.get(key)
            rules: tuple[Rule, ...] = (rule,) if rule is not None else ()
            if not rules:
                continue
        elif namespace not in NAMESPACES:
            continue  # an operator's own namespace, or one Nova leaves free-form
        else:
            rules = NAMESPACES[namespace]
        matched = next((rule for rule in rules if rule.key.fullmatch(key)), None)
        if matched is None:
            raise errors.BadRequest(f"Validation failed; extra spec {key} is not a known extra spec.")
        if not matched.check(value):
            raise errors.BadRequest(
                f"Validation failed; '{value}' is not valid for extra spec {key}: expected {matched.expects}."
            )
