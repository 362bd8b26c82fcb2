"""A QEMU VM's diagnostics, as Nova's libvirt driver reports a KVM/QEMU guest (`driver: libvirt`), with
numbers read from the running QEMU and the host rather than from the flavor.

- CPU: `query-cpus-fast` names each vCPU's host thread; its time is that thread's utime + stime in
  /proc/<pid>/task/<tid>/stat (nanoseconds, as libvirt's vcpu cpuTime).
- Memory: the balloon's `actual` (`query-balloon`) when the VM has one, else the QEMU process's
  resident memory (what the guest has touched), at most the flavor's; in MiB.
- Disks: `query-blockstats` per drive (bytes, requests, failed operations as errors).
- NICs: a NIC on a tap has the tap's counters (/sys/class/net/<tap>/statistics, the host's view, as
  libvirt's interfaceStats); a user-mode NIC has no host device, so only its MAC (counters null).

Whatever cannot be read (QEMU stopped, a file gone) is left out or null rather than failing the call:
diagnostics describe the VM as it is, a stopped one included.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overcast.virt.driver import DriverError, InstanceActionInvalid
from overcast.virt.qemu.qmp import QMPConnectionError, QMPError

# Nova's diagnostics `driver` enum: a QEMU/KVM host is what Nova's libvirt driver serves.
DRIVER = "libvirt"
MIB = 1024 * 1024
NIC_FILES = {
    "rx_octets": "rx_bytes", "rx_packets": "rx_packets", "rx_errors": "rx_errors", "rx_drop": "rx_dropped",
    "tx_octets": "tx_bytes", "tx_packets": "tx_packets", "tx_errors": "tx_errors", "tx_drop": "tx_dropped",
}  # fmt: skip

DISK_COUNTERS = ("read_bytes", "read_requests", "write_bytes", "write_requests", "errors_count")

Execute = Callable[[str], Any]


@dataclass(frozen=True)
class HostPaths:
    """Where the host's process and network counters are read (tests point them at a tree of their own)."""

    proc: Path = Path("/proc")
    net: Path = Path("/sys/class/net")


@dataclass
class VMFacts:
    """What the driver knows of the VM without asking QEMU."""

    state: str
    vcpus: int
    memory_mb: int
    uptime: int
    config_drive: bool
    hypervisor: str
    pid: int | None
    vifs: list[dict[str, Any]] = field(default_factory=list)
    cpu_time_ns: int = 0
    # The drives QEMU is started with (root, rescue, config drive): what a stopped VM lists.
    drives: int = 1


def _ticks_ns(ticks: int) -> int:
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def thread_cpu_ns(paths: HostPaths, pid: int, tid: int) -> int | None:
    try:
        fields = (paths.proc / str(pid) / "task" / str(tid) / "stat").read_text().rpartition(")")[2].split()
        return _ticks_ns(int(fields[11]) + int(fields[12]))  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def resident_mib(paths: HostPaths, pid: int) -> int | None:
    try:
        for line in (paths.proc / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except (OSError, IndexError, ValueError):
        return None
    return None


def _query(execute: Execute | None, command: str) -> Any:
    if execute is None:
        return None
    try:
        return execute(command)
    except (DriverError, InstanceActionInvalid, QMPError, QMPConnectionError, OSError):
        return None  # a VM without the device (no balloon), or a QEMU that stopped meanwhile


def cpu_details(facts: VMFacts, execute: Execute | None, paths: HostPaths) -> list[dict[str, Any]]:
    cpus = _query(execute, "query-cpus-fast")
    if isinstance(cpus, list) and cpus and facts.pid is not None:
        details: list[dict[str, Any]] = []
        for cpu in sorted(cpus, key=lambda item: int(item.get("cpu-index", 0))):
            tid = cpu.get("thread-id")
            spent = thread_cpu_ns(paths, facts.pid, int(tid)) if isinstance(tid, int) else None
            details.append(
                {"id": int(cpu.get("cpu-index", len(details))), "time": spent, "utilisation": None}
            )
        return details
    # Not running: no threads to read; what the VM used in all, shared out, as the driver last saw it.
    share = facts.cpu_time_ns // max(facts.vcpus, 1)
    return [{"id": cpu, "time": share, "utilisation": None} for cpu in range(facts.vcpus)]


def memory_details(facts: VMFacts, execute: Execute | None, paths: HostPaths) -> dict[str, Any]:
    balloon = _query(execute, "query-balloon")
    if isinstance(balloon, dict) and isinstance(balloon.get("actual"), int):
        used: int | None = balloon["actual"] // MIB
    elif facts.pid is not None and execute is not None:
        resident = resident_mib(paths, facts.pid)
        used = None if resident is None else min(resident, facts.memory_mb)
    else:
        used = 0
    return {"maximum": facts.memory_mb, "used": used}


def disk_details(facts: VMFacts, execute: Execute | None) -> list[dict[str, Any]]:
    stats = _query(execute, "query-blockstats")
    if not isinstance(stats, list):
        return [{"device": f"disk{index}", **dict.fromkeys(DISK_COUNTERS)} for index in range(facts.drives)]
    details = []
    for drive in stats:
        counters = drive.get("stats") or {}
        details.append({
            "device": drive.get("device") or drive.get("qdev") or drive.get("node-name"),
            "read_bytes": counters.get("rd_bytes"), "read_requests": counters.get("rd_operations"),
            "write_bytes": counters.get("wr_bytes"), "write_requests": counters.get("wr_operations"),
            "errors_count": counters.get("failed_rd_operations", 0) + counters.get("failed_wr_operations", 0),
        })  # fmt: skip
    return details


def nic_details(facts: VMFacts, paths: HostPaths) -> list[dict[str, Any]]:
    details = []
    for vif in facts.vifs:
        nic: dict[str, Any] = {"mac_address": vif.get("address"), "rx_rate": None, "tx_rate": None}
        device = vif.get("device") if vif.get("type") == "tap" else None
        for name, counter in NIC_FILES.items():
            nic[name] = None
            if device:
                with contextlib.suppress(OSError, ValueError):
                    nic[name] = int((paths.net / str(device) / "statistics" / counter).read_text())
        details.append(nic)
    return details


def collect(facts: VMFacts, execute: Execute | None, paths: HostPaths | None = None) -> dict[str, Any]:
    """The diagnostics of a VM; `execute` runs a QMP command on its QEMU (None: QEMU is not running)."""
    paths = paths or HostPaths()
    disks = disk_details(facts, execute)
    nics = nic_details(facts, paths)
    cpus = cpu_details(facts, execute, paths)
    return {
        "state": facts.state,
        "driver": DRIVER,
        "hypervisor": facts.hypervisor,
        "hypervisor_os": "linux",
        "uptime": facts.uptime,
        "config_drive": facts.config_drive,
        "num_cpus": len(cpus) or facts.vcpus,
        "num_disks": len(disks),
        "num_nics": len(nics),
        "cpu_details": cpus,
        "memory_details": memory_details(facts, execute, paths),
        "disk_details": disks,
        "nic_details": nics,
    }
