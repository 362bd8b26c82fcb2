"""Boot-to-ACTIVE latency, sustained boot rate, and GET /servers/detail latency, on fake hypervisors.

    .venv/bin/python bench/boot.py [--boots 500] [--concurrency 20] [--sustain-seconds 20]
                                   [--detail-rows 1000,10000] [--detail-requests 30]

The whole cloud runs in this process (API over real HTTP on 127.0.0.1, conductor, scheduler and two
fake compute hosts on the in-process bus, SQLite). A boot is timed from sending POST /servers until the
instance row reads ACTIVE. /servers/detail (at the newest microversion) is timed beside a SQLAlchemy Core
fetch of the same rows: the ratio is what the API adds on top of the database (the related rows, views,
JSON, HTTP); issue #16 wants it at most 3x.
"""

from __future__ import annotations

import argparse
import logging
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

# Runnable as `python bench/boot.py` from a checkout, like the other benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overcast.api.assembly import build_api
from overcast.bus import NotificationListener
from overcast.cli.runner import settle_heap
from overcast.cloud import Cloud
from overcast.compute import states
from overcast.compute.manager import ComputeManager
from overcast.conductor.manager import ConductorManager
from overcast.config import load_settings
from overcast.db.base import utcnow
from overcast.db.models.compute import Instance
from overcast.identity.bootstrap import bootstrap
from overcast.identity.catalog import DEFAULT_SERVICES
from overcast.identity.passwords import PasswordHasher
from overcast.quota import UNLIMITED, QuotaEngine
from overcast.scheduler.manager import SchedulerManager
from overcast.service import Service
from overcast.virt.fake import FakeDriver

IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"  # the placeholder image seeded by migration 0003
TARGET_BOOT_P50_MS = 100.0
TARGET_DETAIL_P50_MS = 150.0
TARGET_BOOTS_PER_SECOND = 50.0
# /servers/detail of 1,000 rows at most this many times the Core fetch of its rows (issue #16).
TARGET_FLOOR_RATIO = 3.0
# Nova's osapi max_limit: a listing never returns more than this many servers per page.
MAX_PAGE = 1000
LATEST = {"OpenStack-API-Version": "compute latest"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Bench:
    def __init__(self, data_dir: Path) -> None:
        port = free_port()
        self.settings = load_settings(data_dir=data_dir, listen=f"127.0.0.1:{port}",
                                      transport_url=f"inproc://bench-{uuid.uuid4().hex}")  # fmt: skip
        self.cloud = Cloud.from_settings(self.settings)
        served = tuple(entry for entry in DEFAULT_SERVICES if entry.type in ("identity", "compute"))
        hasher = PasswordHasher(time_cost=1, memory_cost_kib=1024)
        self.credentials = bootstrap(self.settings, self.cloud.db, served, hasher=hasher)
        # Hosts big enough that capacity never limits the benchmark.
        drivers = [FakeDriver(vcpus=4096, memory_mb=4 * 2**20, local_gb=10**6) for _ in range(2)]
        managers = [
            ConductorManager(self.cloud, "conductor"),
            SchedulerManager(self.cloud, "scheduler"),
            *(ComputeManager(self.cloud, f"compute-{i}", driver=d) for i, d in enumerate(drivers)),
        ]
        self.services = [Service(self.cloud, manager) for manager in managers]
        for service in self.services:
            service.start()
        config = uvicorn.Config(build_api(self.cloud), host="127.0.0.1", port=port, log_level="warning",
                                lifespan="off", access_log=False)  # fmt: skip
        self.server = uvicorn.Server(config)
        settle_heap()  # as `overcast service api` does before it serves
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        self.http = httpx.Client(base_url=f"{self.settings.base_url}/compute/v2.1", timeout=60)
        self.project_id = self._login()
        with self.cloud.db.writer() as session:
            QuotaEngine().set_limits(
                session, self.project_id, {"instances": UNLIMITED, "cores": UNLIMITED, "ram": UNLIMITED}
            )

    def _login(self) -> str:
        auth = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "demo", "domain": {"id": "default"}, "password": self.credentials.demo_password}}},
            "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}  # fmt: skip
        response = httpx.post(f"{self.settings.base_url}/identity/v3/auth/tokens", json=auth)
        response.raise_for_status()
        self.http.headers["X-Auth-Token"] = response.headers["X-Subject-Token"]
        return str(response.json()["token"]["project"]["id"])

    def boot_once(self, name: str) -> float:
        body = {"server": {"name": name, "imageRef": IMAGE_ID, "flavorRef": "1"}}
        started = time.perf_counter()
        response = self.http.post("/servers", json=body)
        response.raise_for_status()
        server_id = response.json()["server"]["id"]
        query = select(Instance.vm_state).where(Instance.uuid == server_id)
        while True:
            with self.cloud.db.engine.connect() as connection:
                vm_state = connection.execute(query).scalar_one()
            if vm_state == states.ACTIVE:
                return time.perf_counter() - started
            if vm_state == states.ERROR:
                raise RuntimeError(f"boot of {server_id} ended in ERROR")
            time.sleep(0.0005)

    def fill_to(self, rows: int) -> int:
        """Top the project up to `rows` live instances with direct inserts (booting them adds nothing);
        the number it holds then (more than `rows` when the boots made more)."""
        with self.cloud.db.writer() as session:
            have = len(
                session.scalars(select(Instance.id).where(Instance.project_id == self.project_id)).all()
            )
            now = utcnow()
            for index in range(max(0, rows - have)):
                session.add(Instance(
                    display_name=f"filler-{index}", hostname=f"filler-{index}", project_id=self.project_id,
                    user_id="bench", image_ref=IMAGE_ID, flavor_id="1", vcpus=1, memory_mb=512, root_gb=1,
                    vm_state=states.ACTIVE, task_state=None, power_state=1, host="compute-0",
                    node="compute-0", launched_at=now, metadata_items={"bench": "yes"},
                    security_groups=["default"],
                ))  # fmt: skip
        return max(rows, have)

    def sustained(self, concurrency: int, seconds: float) -> tuple[int, float, str | None]:
        """`concurrency` clients boot back to back until `seconds` pass or the first boot fails.

        A client learns that its server is ACTIVE from the `compute.instance.create.end` notification
        (what metering listens to), so no poller competes with the cloud for the process.
        Returns (servers ACTIVE, boots per second, the first failure or None).
        """
        # One event per server a client waits for: a shared condition's notify_all would wake all the
        # clients for every notification, and they run in the process being measured.
        outcomes: dict[str, str] = {}
        waiting: dict[str, threading.Event] = {}
        arrived = threading.Lock()

        class CreateEvents:
            def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: dict[str, Any],
                     metadata: Any) -> None:  # fmt: skip
                if event_type in ("compute.instance.create.end", "compute.instance.create.error"):
                    with arrived:
                        outcomes[payload["instance_id"]] = event_type.rsplit(".", 1)[1]
                        waiter = waiting.get(payload["instance_id"])
                    if waiter is not None:
                        waiter.set()

            error = info

        listener = NotificationListener(self.cloud.transport, [CreateEvents()], pool="bench")
        listener.start()
        deadline = time.perf_counter() + seconds
        done: list[float] = []
        failure: list[str] = []

        def boot(name: str) -> None:
            body = {"server": {"name": name, "imageRef": IMAGE_ID, "flavorRef": "1"}}
            response = self.http.post("/servers", json=body)
            response.raise_for_status()
            server_id = response.json()["server"]["id"]
            with arrived:  # the notification may have come before the response
                waiter = waiting[server_id] = threading.Event()
                if server_id in outcomes:
                    waiter.set()
            if not waiter.wait(timeout=60):
                raise RuntimeError(f"{server_id} sent no create.end within 60 s")
            with arrived:
                del waiting[server_id]
                outcome = outcomes.pop(server_id)
            if outcome != "end":
                raise RuntimeError(f"boot of {server_id} ended in ERROR")

        def client(number: int) -> None:
            count = 0
            while time.perf_counter() < deadline and not failure:
                try:
                    boot(f"sustained-{number}-{count}")
                except Exception as exc:  # the first failure ends the run: report it, do not hide it
                    failure.append(f"{type(exc).__name__}: {exc}")
                    return
                done.append(time.perf_counter())
                count += 1

        started = time.perf_counter()
        workers = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        listener.stop()
        listener.wait(5)
        elapsed = (max(done) if done else time.perf_counter()) - started
        return len(done), len(done) / elapsed if elapsed > 0 else 0.0, failure[0] if failure else None

    def detail_once(self, rows: int) -> float:
        page = min(rows, MAX_PAGE)
        started = time.perf_counter()
        # At the newest microversion: every field the server view renders (2.63-2.100's included).
        response = self.http.get("/servers/detail", params={"limit": page}, headers=LATEST)
        response.raise_for_status()
        elapsed = time.perf_counter() - started
        if len(response.json()["servers"]) != page:
            raise RuntimeError("servers/detail returned the wrong number of rows")
        return elapsed

    def core_fetch_once(self, rows: int) -> float:
        rows = min(rows, MAX_PAGE)
        table = Instance.__table__
        query = (select(table).where(table.c.project_id == self.project_id, table.c.deleted.is_(False))
                 .order_by(table.c.created_at.desc(), table.c.id.desc()).limit(rows))  # fmt: skip
        started = time.perf_counter()
        with self.cloud.db.engine.connect() as connection:
            fetched = connection.execute(query).fetchall()
        elapsed = time.perf_counter() - started
        assert len(fetched) == rows
        return elapsed

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(10)
        for service in reversed(self.services):
            service.stop()
        self.cloud.close()


def timed(samples: int, run: Callable[[], float]) -> list[float]:
    return [run() * 1000 for _ in range(samples)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boots", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--sustain-seconds", type=float, default=20.0)
    parser.add_argument("--detail-rows", default="1000,10000", help="comma-separated server counts")
    parser.add_argument("--detail-requests", type=int, default=30)
    args = parser.parse_args(argv)
    detail_sizes = sorted(int(size) for size in args.detail_rows.split(","))
    logging.basicConfig(level=logging.WARNING)
    details: list[tuple[int, int, list[float], list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="overcast-bench-") as data_dir:
        bench = Bench(Path(data_dir))
        try:
            bench.boot_once("warm-up")
            boots = timed(args.boots, lambda: bench.boot_once("bench"))
            active, rate, failure = bench.sustained(args.concurrency, args.sustain_seconds)
            for size in detail_sizes:
                held = bench.fill_to(size)
                bench.detail_once(size)
                detail = timed(args.detail_requests, lambda size=size: bench.detail_once(size))
                core = timed(args.detail_requests, lambda size=size: bench.core_fetch_once(size))
                details.append((size, held, detail, core))
        finally:
            bench.stop()

    print(f"{'measurement':<52} {'p50 ms':>9} {'p99 ms':>9} {'target':>10} {'ratio':>7}")
    boot_p50 = statistics.median(boots)
    print(f"{f'boot to ACTIVE (n={args.boots})':<52} {boot_p50:>9.1f} {percentile(boots, 0.99):>9.1f} "
          f"{'< 100':>10} {boot_p50 / TARGET_BOOT_P50_MS:>7.2f}")  # fmt: skip
    for size, held, detail, core in details:
        detail_p50, core_p50 = statistics.median(detail), statistics.median(core)
        page = min(size, MAX_PAGE)
        target = f"< {TARGET_DETAIL_P50_MS:.0f}" if size == 1000 else "-"
        print(
            f"{f'GET /servers/detail ({page} of {held} servers)':<52} {detail_p50:>9.1f} "
            f"{percentile(detail, 0.99):>9.1f} {target:>10} {detail_p50 / TARGET_DETAIL_P50_MS:>7.2f}"
        )
        floor = f"<= {TARGET_FLOOR_RATIO:.0f}x" if size == 1000 else "-"
        print(f"{f'  Core fetch of the same {page} rows (floor)':<52} {core_p50:>9.1f} "
              f"{percentile(core, 0.99):>9.1f} {floor:>10} {detail_p50 / core_p50:>6.1f}x")  # fmt: skip
    print(
        f"sustained boots at concurrency {args.concurrency}: {active} ACTIVE in up to "
        f"{args.sustain_seconds:.0f} s = {rate:.1f} boots/s (target >= {TARGET_BOOTS_PER_SECOND:.0f}, "
        f"ratio {rate / TARGET_BOOTS_PER_SECOND:.2f}); first failure: {failure or 'none'}"
    )
    detail_1000 = next((statistics.median(d) for size, _, d, _ in details if size == 1000), 0.0)
    floor_1000 = next((statistics.median(c) for size, _, _, c in details if size == 1000), 0.0)
    met = boot_p50 < TARGET_BOOT_P50_MS and detail_1000 < TARGET_DETAIL_P50_MS
    met = met and (not floor_1000 or detail_1000 <= TARGET_FLOOR_RATIO * floor_1000)
    met = met and rate >= TARGET_BOOTS_PER_SECOND
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
