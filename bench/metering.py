"""Metering ingest: usage events recorded per second from notifications, beside a bare insert loop.

    .venv/bin/python bench/metering.py [--events 20000] [--instances 10000] [--rounds 3]

One table: the ingest rows against the bare insert loop, then the rating rows of `bench/rating.py` (a month of
10,000 instances, from usage events to an invoice; issue #17 wants under 5 s) against one Decimal product
per slice.

The listener path is the metering service's own: each notification body (JSON as the Notifier publishes
it) goes through `NotificationListener.handle` (decode, context) into `UsageRecorder` (translate, then
one idempotent INSERT committed per notification, so a bus that acknowledges after the handler loses
nothing). The floor is a bare loop inserting the same rows with SQLAlchemy Core, one transaction each,
into a fresh database: what SQLite costs before any of our code. A third row redelivers every
notification, which the idempotency keys must drop. Issue #17 wants at least 5,000 events/s.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rating as rating_bench  # bench/rating.py: this script's directory is on sys.path

from overcast.bus import NotificationListener, get_transport
from overcast.bus.transports.inproc import InprocTransport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.metering import UsageEvent
from overcast.metering import events, translate
from overcast.metering.listener import UsageRecorder
from overcast.metering.manager import CONSUMERS, MeteringManager

TARGET_EVENTS_PER_SECOND = 5_000.0
START = datetime(2026, 1, 1, tzinfo=UTC)
# A server's life as compute reports it: the .start of each action is sent too and recorded as nothing.
LIFE = [
    ("create.start", "building"), ("create.end", "active"), ("power_off.start", "active"),
    ("power_off.end", "stopped"), ("power_on.start", "stopped"), ("power_on.end", "active"),
    ("delete.start", "active"), ("delete.end", "deleted"),
]  # fmt: skip


def notification_bodies(count: int) -> list[str]:
    ctxt = RequestContext.admin().to_dict()
    bodies = []
    for n in range(count):
        server, step = divmod(n, len(LIFE))
        event, state = LIFE[step]
        payload = {
            "instance_id": f"00000000-0000-4000-8000-{server:012d}", "tenant_id": f"project-{server % 50}",
            "state": state, "flavor": {"flavorid": "1", "name": "m1.tiny", "vcpus": 1, "memory_mb": 512},
        }  # fmt: skip
        bodies.append(json.dumps({
            "message_id": str(uuid.uuid4()), "publisher_id": "compute.bench", "priority": "INFO",
            "event_type": f"compute.instance.{event}", "payload": payload, "context": ctxt,
            "timestamp": (START + timedelta(seconds=n)).isoformat(),
        }))  # fmt: skip
    return bodies


def fresh_db(directory: Path) -> Database:
    db = Database(f"sqlite:///{directory / uuid.uuid4().hex}.db")
    db.upgrade()
    return db


def listener_run(db: Database, bodies: list[str]) -> tuple[float, int]:
    recorder = UsageRecorder(db, lambda: datetime.now(UTC))
    listener = NotificationListener(InprocTransport(f"inproc://bench-{uuid.uuid4().hex}"), [recorder])
    began = time.perf_counter()
    for body in bodies:
        listener.handle(body)
    return time.perf_counter() - began, recorded(db)


def rows_of(bodies: list[str]) -> list[dict[str, Any]]:
    rows = []
    received = datetime.now(UTC)
    for body in bodies:
        message = json.loads(body)
        at = datetime.fromisoformat(message["timestamp"])
        event = translate.from_notification(
            message["event_type"], message["payload"], message["message_id"], at
        )
        if event is not None:
            rows.append(event.row(received))
    return rows


def bare_insert_run(db: Database, rows: list[dict[str, Any]]) -> tuple[float, int]:
    statement = insert(UsageEvent)
    began = time.perf_counter()
    for row in rows:
        with db.engine.begin() as connection:
            connection.execute(statement, row)
    return time.perf_counter() - began, len(rows)


def batched_run(db: Database, bodies: list[str], batch: int) -> tuple[float, int]:
    """The same translation and idempotent INSERT, `batch` notifications per transaction: what a consumer
    acknowledging a batch after its commit would reach."""
    began = time.perf_counter()
    received = datetime.now(UTC)
    for first in range(0, len(bodies), batch):
        pending = []
        for body in bodies[first : first + batch]:
            message = json.loads(body)
            at = datetime.fromisoformat(message["timestamp"])
            event = translate.from_notification(
                message["event_type"], message["payload"], message["message_id"], at
            )
            if event is not None:
                pending.append(event)
        db.write(functools.partial(events.record, events=pending, received_at=received))
    return time.perf_counter() - began, recorded(db)


def service_run(directory: Path, db: Database, bodies: list[str], expected: int) -> tuple[float, int]:
    """The metering service's consumers on the in-process bus: publish every body, time until recorded."""
    settings = load_settings(data_dir=directory, transport_url=f"inproc://bench-{uuid.uuid4().hex}")
    cloud = Cloud(settings=settings, db=db, transport=get_transport(settings.transport_url))
    manager = MeteringManager(cloud, "bench")
    manager.init_host()
    try:
        began = time.perf_counter()
        for body in bodies:
            cloud.transport.notify("notifications", body)
        while (count := recorded(db)) < expected:
            time.sleep(0.01)
        return time.perf_counter() - began, count
    finally:
        manager.cleanup_host()
        cloud.close()


def recorded(db: Database) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(UsageEvent)) or 0)


def median_of(rounds: int, run: Callable[[], tuple[float, int]]) -> tuple[float, int]:
    results = [run() for _ in range(rounds)]
    return statistics.median(elapsed for elapsed, _ in results), results[0][1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000, help="notifications per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--instances", type=int, default=10_000, help="instances in the rated month")
    args = parser.parse_args()
    bodies = notification_bodies(args.events)
    rows = rows_of(bodies)
    with tempfile.TemporaryDirectory(prefix="bench-metering-") as scratch:
        directory = Path(scratch)
        floor_s, floor_rows = median_of(args.rounds, lambda: bare_insert_run(fresh_db(directory), rows))

        def ingest() -> tuple[float, int]:
            return listener_run(fresh_db(directory), bodies)

        ingest_s, recorded = median_of(args.rounds, ingest)
        assert recorded == len(rows), f"recorded {recorded} events of {len(rows)}"

        def redeliver() -> tuple[float, int]:
            db = fresh_db(directory)
            listener_run(db, bodies)
            return listener_run(db, bodies)

        again_s, after_redelivery = median_of(args.rounds, redeliver)
        assert after_redelivery == len(rows), "a redelivered notification was counted twice"
        service_s, service_rows = median_of(
            args.rounds, lambda: service_run(directory, fresh_db(directory), bodies, len(rows))
        )
        assert service_rows == len(rows)
        batched_s, batched_rows = median_of(
            args.rounds, lambda: batched_run(fresh_db(directory), bodies, 100)
        )
        assert batched_rows == len(rows)

    rated = rating_bench.measure(args.instances, args.rounds)

    per_second = len(rows) / service_s
    print(f"{len(bodies)} notifications ({len(rows)} usage events; .start ones record nothing), a month of "
          f"{rated.instances:,} instances ({rated.slices:,} usage slices, {rated.lines:,} invoice lines); "
          f"SQLite, median of {args.rounds}")  # fmt: skip
    print(f"{'ingest: path':<52} {'seconds':>8} {'per second':>11} {'vs floor':>9}")
    ingest_rows = [
        ("floor: bare insert loop, one row per transaction", floor_s, floor_rows),
        ("listener: notifications -> usage events", ingest_s, len(rows)),
        ("listener, every notification redelivered", again_s, len(bodies)),
        (f"metering service: {CONSUMERS} consumers, group commit", service_s, len(rows)),
        ("batched: 100 notifications per transaction", batched_s, len(rows)),
    ]
    for label, seconds, count in ingest_rows:
        print(f"{label:<52} {seconds:>8.2f} {count / seconds:>11,.0f} {seconds / floor_s:>8.2f}x")
    print(f"{'rating: stage':<52} {'seconds':>8} {'slices/s':>11} {'vs floor':>9}")
    for label, seconds in rated.rows():
        print(
            f"{label:<52} {seconds:>8.2f} {rated.slices / seconds:>11,.0f} {seconds / rated.floor_s:>8.1f}x"
        )
    verdict = "meets" if per_second >= TARGET_EVENTS_PER_SECOND else "MISSES"
    target = f"{TARGET_EVENTS_PER_SECOND:,.0f}/s target"
    print(f"usage events ingested per second by the service: {per_second:,.0f} ({verdict} the {target}); "
          f"notifications consumed per second: {len(bodies) / service_s:,.0f}")  # fmt: skip
    print(rated.verdict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
