"""The QEMU driver's diagnostics from QMP (a fake QEMU of ours) and a host tree laid out as /proc and /sys."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overcast.virt.qemu.diagnostics import HostPaths, VMFacts, collect
from overcast.virt.qemu.qmp import QMPClient
from tests.support.qmp_server import FakeQMPServer
from tests.support.waiting import WAIT_SECONDS

PID = 4242
TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
TAP = {"id": "port-1", "type": "tap", "device": "ovt-port1", "address": "fa:16:3e:00:00:01"}
USER_NIC = {"id": "user-0", "address": "fa:16:3e:00:00:02"}


@pytest.fixture
def host(tmp_path: Path) -> HostPaths:
    paths = HostPaths(proc=tmp_path / "proc", net=tmp_path / "net")
    for tid, (utime, stime) in {PID + 1: (100, 50), PID + 2: (7, 3)}.items():
        task = paths.proc / str(PID) / "task" / str(tid)
        task.mkdir(parents=True)
        # The command name may hold spaces and parentheses: fields are counted after its last ')'.
        task.joinpath("stat").write_text(
            f"{tid} (qemu (x) y) S 1 " + " ".join(["0"] * 9) + f" {utime} {stime} 0 0\n"
        )
    (paths.proc / str(PID) / "status").write_text("Name:\tqemu\nVmRSS:\t  307200 kB\n")
    statistics = paths.net / "ovt-port1" / "statistics"
    statistics.mkdir(parents=True)
    for name, value in {"rx_bytes": 1000, "rx_packets": 10, "rx_errors": 0, "rx_dropped": 1, "tx_bytes": 2000,
                        "tx_packets": 20, "tx_errors": 2, "tx_dropped": 0}.items():  # fmt: skip
        statistics.joinpath(name).write_text(f"{value}\n")
    return paths


@pytest.fixture
def qemu(tmp_path: Path) -> Iterator[FakeQMPServer]:
    server = FakeQMPServer(tmp_path / "qmp.sock")
    server.handlers["query-cpus-fast"] = lambda args: {"return": [
        {"cpu-index": 1, "thread-id": PID + 2, "qom-path": "/machine/unattached/device[1]"},
        {"cpu-index": 0, "thread-id": PID + 1, "qom-path": "/machine/unattached/device[0]"},
    ]}  # fmt: skip
    server.handlers["query-blockstats"] = lambda args: {"return": [
        {"device": "disk0", "stats": {
            "rd_bytes": 4096, "wr_bytes": 512, "rd_operations": 8, "wr_operations": 1,
            "failed_rd_operations": 1, "failed_wr_operations": 0,
        }},
        {"device": "disk1", "stats": {"rd_bytes": 0, "wr_bytes": 0, "rd_operations": 0, "wr_operations": 0}},
    ]}  # fmt: skip
    server.handlers["query-balloon"] = lambda args: {
        "error": {"class": "DeviceNotActive", "desc": "No balloon device has been activated"}
    }
    yield server
    server.close()


@pytest.fixture
def client(qemu: FakeQMPServer) -> Iterator[QMPClient]:
    qmp = QMPClient(qemu.path, timeout=WAIT_SECONDS)
    qmp.connect()
    yield qmp
    qmp.close()


def facts(**overrides: Any) -> VMFacts:
    values: dict[str, Any] = {
        "state": "running", "vcpus": 2, "memory_mb": 512, "uptime": 30, "config_drive": True,
        "hypervisor": "kvm", "pid": PID, "vifs": [TAP, USER_NIC], "cpu_time_ns": 10**9, "drives": 2,
    }  # fmt: skip
    values.update(overrides)
    return VMFacts(**values)


def test_a_running_vm_reports_what_qemu_and_the_host_measure(host: HostPaths, client: QMPClient) -> None:
    report = collect(facts(), lambda command: client.execute(command), host)
    assert (report["driver"], report["hypervisor"], report["state"], report["uptime"]) == (
        "libvirt",
        "kvm",
        "running",
        30,
    )
    assert report["cpu_details"] == [
        {"id": 0, "time": 150 * TICK_NS, "utilisation": None},
        {"id": 1, "time": 10 * TICK_NS, "utilisation": None},
    ]
    # No balloon: the memory the guest touched (QEMU's resident set), at most the flavor's.
    assert report["memory_details"] == {"maximum": 512, "used": 300}
    assert report["disk_details"][0] == {
        "device": "disk0", "read_bytes": 4096, "read_requests": 8, "write_bytes": 512, "write_requests": 1,
        "errors_count": 1,
    }  # fmt: skip
    assert (report["num_cpus"], report["num_disks"], report["num_nics"]) == (2, 2, 2)
    tap, user = report["nic_details"]
    assert (tap["mac_address"], tap["rx_octets"], tap["tx_octets"], tap["tx_errors"], tap["rx_drop"]) == (
        "fa:16:3e:00:00:01",
        1000,
        2000,
        2,
        1,
    )
    # A user-mode NIC has no host device to count on.
    assert user["mac_address"] == "fa:16:3e:00:00:02" and user["rx_octets"] is None


def test_the_balloon_says_how_much_memory_the_guest_has(
    host: HostPaths, qemu: FakeQMPServer, client: QMPClient
) -> None:
    qemu.handlers["query-balloon"] = lambda args: {"return": {"actual": 256 * 1024 * 1024}}
    report = collect(facts(), lambda command: client.execute(command), host)
    assert report["memory_details"] == {"maximum": 512, "used": 256}


def test_a_stopped_vm_lists_its_devices_without_counters(host: HostPaths) -> None:
    report = collect(facts(state="shutdown", pid=None, uptime=0), None, host)
    assert report["memory_details"] == {"maximum": 512, "used": 0}
    assert [cpu["time"] for cpu in report["cpu_details"]] == [5 * 10**8, 5 * 10**8]
    assert [disk["device"] for disk in report["disk_details"]] == ["disk0", "disk1"]
    assert report["disk_details"][0]["read_bytes"] is None
    assert report["nic_details"][0]["rx_octets"] == 1000  # the tap outlives the VM's process


def test_a_qemu_that_goes_away_mid_call_still_gives_a_report(host: HostPaths, qemu: FakeQMPServer) -> None:
    qmp = QMPClient(qemu.path, timeout=2)
    qmp.connect()
    qemu.disconnect()
    try:
        report = collect(facts(), lambda command: qmp.execute(command, timeout=2), host)
    finally:
        qmp.close()
    assert report["num_cpus"] == 2 and report["disk_details"][0]["read_bytes"] is None
