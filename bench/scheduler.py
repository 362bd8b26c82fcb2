"""Scheduler decision speed at 1,000, 10,000 and 50,000 fake hosts, beside a plain linear scan.

    .venv/bin/python bench/scheduler.py [--hosts 1000,10000,50000] [--decisions 300] [--claims 1000]

1. Decisions in memory: the default filter pipeline (every filter enabled, every weigher) over a host
   table of N varied hosts (zones, aggregates, GPU hosts, CPU features), each decision consuming from the
   chosen host. The floor is a plain Python loop over the same hosts that checks up/enabled and
   RAM/vCPU/disk and keeps the one with the most free RAM.
2. Decisions with claims on SQLite: `Scheduler.place` for one instance at a time against a database of
   N compute nodes (host cache loaded once, then kept current by its own claims), each decision
   committed as a compare-and-swap claim (overcast.placement.claims).
Targets at 10,000 hosts: p50 < 2 ms (1); >= 1,000 decisions/s and p50 < 1 ms with claims on SQLite (2).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overcast.compute import states
from overcast.config import load_settings
from overcast.db import Database
from overcast.db.base import utcnow
from overcast.db.models.compute import ComputeNode, Instance
from overcast.db.models.service import ServiceRecord
from overcast.placement.resources import Wanted
from overcast.scheduler.core import Scheduler
from overcast.scheduler.host_state import (
    AggregateInfo,
    Capabilities,
    DeviceInfo,
    HostState,
    HostStateTable,
)
from overcast.scheduler.request_spec import RequestSpec
from overcast.scheduler.selector import HostSelector

NOW = datetime(2026, 3, 1, tzinfo=UTC)
WANTED = Wanted(vcpus=2, memory_mb=4096, disk_gb=40)
GPU = DeviceInfo("gpu", "10de", "20b5", "A100", 2)
CAPABILITIES = [
    Capabilities("x86_64", "Haswell", frozenset({"sse4_2", "avx", "avx2", "aes"}), "fake", 1_000_000),
    Capabilities("x86_64", "Skylake", frozenset({"sse4_2", "avx", "avx2", "avx512f"}), "fake", 1_000_000),
    Capabilities("x86_64", "Haswell", frozenset({"sse4_2", "avx", "avx2"}), "fake", 1_000_000, (GPU,)),
    Capabilities("aarch64", "neoverse", frozenset({"aes"}), "fake", 1_000_000),
]
AGGREGATES = [(), (AggregateInfo("az1", (("availability_zone", "az1"),)),),
              (AggregateInfo("az2", (("availability_zone", "az2"), ("ssd", "true"))),)]  # fmt: skip


def fake_host(rng: random.Random, number: int) -> HostState:
    vcpus = rng.choice((16, 32, 64))
    memory = rng.choice((65536, 131072, 262144))
    return HostState(
        host=f"host-{number:05d}", nodename=f"host-{number:05d}",
        capabilities=rng.choice(CAPABILITIES), vcpus=vcpus, memory_mb=memory, local_gb=2000,
        vcpus_used=rng.randrange(vcpus * 8), memory_mb_used=rng.randrange(memory),
        local_gb_used=rng.randrange(1500), running_vms=rng.randrange(40), io_ops=rng.randrange(3),
        disabled=rng.random() < 0.01, last_seen_up=NOW.timestamp(), aggregates=rng.choice(AGGREGATES),
    )  # fmt: skip


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def linear_scan(hosts: list[HostState], wanted: Wanted, now: float, down_time: float) -> HostState | None:
    best = None
    for host in hosts:
        if host.disabled or host.last_seen_up is None or abs(now - host.last_seen_up) > down_time:
            continue
        if host.free_vcpus < wanted.vcpus or host.free_ram_mb < wanted.memory_mb:
            continue
        if host.free_disk_gb < wanted.disk_gb:
            continue
        if best is None or host.free_ram_mb > best.free_ram_mb:
            best = host
    return best


def bench_memory(count: int, decisions: int) -> tuple[list[float], list[float]]:
    rng = random.Random(count)
    settings = load_settings().scheduler
    table = HostStateTable()
    for number in range(count):
        table.upsert(fake_host(rng, number))
    selector = HostSelector(settings, random.Random(1))
    spec = RequestSpec(
        wanted=WANTED, project_id="p1", flavor_extra_specs={"trait:HW_CPU_X86_AVX2": "required"}
    )
    now, pipeline, scan = NOW.timestamp(), [], []
    for _ in range(decisions):
        started = time.perf_counter()
        chosen = selector.select(table, spec, now, 60.0, 3).indices[0]
        table.consume(chosen, WANTED)
        pipeline.append(time.perf_counter() - started)
        started = time.perf_counter()
        linear_scan(table.hosts, WANTED, now, 60.0)
        scan.append(time.perf_counter() - started)
    return pipeline, scan


def bench_claims(count: int, claims: int, workdir: Path) -> tuple[float, list[float]]:
    db = Database(f"sqlite:///{workdir / f'claims-{count}.db'}")
    db.upgrade()
    now = utcnow()
    with db.writer() as session:
        session.execute(insert(ComputeNode), [
            {"uuid": str(uuid.uuid4()), "host": f"host-{n:05d}", "hypervisor_hostname": f"host-{n:05d}",
             "hypervisor_type": "fake", "hypervisor_version": 1_000_000,
             "cpu_info": {"arch": "x86_64", "features": ["avx2"]}, "devices": [], "vcpus": 32,
             "memory_mb": 131072, "local_gb": 2000, "vcpus_used": 0, "memory_mb_used": 0, "local_gb_used": 0,
             "running_vms": 0, "cpu_allocation_ratio": 16.0, "ram_allocation_ratio": 1.5,
             "disk_allocation_ratio": 1.0, "created_at": now, "updated_at": now}
            for n in range(count)
        ])  # fmt: skip
        session.execute(insert(ServiceRecord), [
            {"uuid": str(uuid.uuid4()), "host": f"host-{n:05d}", "binary": "overcast-compute",
             "topic": "compute", "report_count": 0, "disabled": False, "forced_down": False,
             "last_seen_up": NOW, "version": 0, "created_at": now, "updated_at": now}
            for n in range(count)
        ])  # fmt: skip
        uuids = [str(uuid.uuid4()) for _ in range(claims)]
        session.execute(insert(Instance), [
            {"uuid": u, "display_name": "vm", "hostname": "vm", "project_id": "p1", "user_id": "u1",
             "image_ref": "", "flavor_id": "3", "vcpus": WANTED.vcpus, "memory_mb": WANTED.memory_mb,
             "root_gb": WANTED.disk_gb, "ephemeral_gb": 0, "vm_state": states.BUILDING,
             "task_state": states.SCHEDULING, "power_state": 0, "metadata": {}, "security_groups": [],
             "disk_config": "MANUAL", "config_drive": False, "progress": 0, "reservation_id": "r",
             "launch_index": 0, "deleted": False, "created_at": now, "updated_at": now}
            for u in uuids
        ])  # fmt: skip
    settings = load_settings(data_dir=workdir)
    scheduler = Scheduler(db, settings, lambda: NOW, random.Random(1))
    scheduler.cache.refresh()
    latencies = []
    started_all = time.perf_counter()
    for instance_uuid in uuids:
        started = time.perf_counter()
        placed = scheduler.place([instance_uuid], num_alternates=2)
        latencies.append(time.perf_counter() - started)
        assert placed, "every instance must be placed"
    rate = claims / (time.perf_counter() - started_all)
    db.dispose()
    return rate, latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1000,10000,50000")
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--claims", type=int, default=1000)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.hosts.split(",")]
    ms = 1000.0
    print("1. decisions in memory (all filters + weighers) vs a linear scan of the same hosts")
    header = ("hosts", "dec/s", "p50 ms", "p99 ms", "scan p50", "scan p99", "p50/scan")
    print(
        f"{header[0]:>7} {header[1]:>8} {header[2]:>8} {header[3]:>8} "
        + " ".join(f"{h:>9}" for h in header[4:])
    )
    met = True
    for count in sizes:
        pipeline, scan = bench_memory(count, args.decisions)
        p50, scan_p50 = statistics.median(pipeline), statistics.median(scan)
        print(f"{count:>7} {1 / statistics.mean(pipeline):>8.0f} {p50 * ms:>8.3f} "
              f"{percentile(pipeline, 0.99) * ms:>8.3f} {scan_p50 * ms:>9.3f} "
              f"{percentile(scan, 0.99) * ms:>9.3f} {p50 / scan_p50:>9.2f}")  # fmt: skip
        if count == 10000:
            met &= p50 < 0.002
    print("\n2. decisions with claims (SQLite, one instance per decision, 2 alternates)")
    print(f"{'hosts':>7} {'dec/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    with tempfile.TemporaryDirectory() as workdir:
        for count in sizes:
            rate, latencies = bench_claims(count, args.claims, Path(workdir))
            print(f"{count:>7} {rate:>8.0f} {statistics.median(latencies) * ms:>8.3f} "
                  f"{percentile(latencies, 0.99) * ms:>8.3f}")  # fmt: skip
            if count == 10000:
                met &= rate >= 1000 and statistics.median(latencies) < 0.001
    print(
        "\ntargets at 10,000 hosts (p50 < 2 ms; with claims >= 1,000 decisions/s and p50 < 1 ms):",
        "met" if met else "NOT met",
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
