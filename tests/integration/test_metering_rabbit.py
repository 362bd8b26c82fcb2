"""The metering service on a real RabbitMQ loses and double-counts nothing when it is restarted or killed
mid-stream: each event is committed before its message is acknowledged, a redelivery is dropped by its
idempotency key.

The service runs as its own process (`python -m tests.integration.test_metering_rabbit DB BUS TOPIC POOL`)
so the test can SIGKILL it between a commit and an acknowledgement.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import kombu
import pytest
from sqlalchemy import func, select

from overcast.bus import Notifier, get_transport
from overcast.bus.transports.amqp import kombu_url
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.metering import UsageEvent
from overcast.metering.manager import MeteringManager
from overcast.metering.usage import INSTANCE_RUNNING, INSTANCE_STOPPED, UsageReader
from overcast.service import Service
from tests.support.waiting import wait_until

pytestmark = pytest.mark.rabbitmq

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVERS = 400
T0 = datetime(2026, 2, 1, tzinfo=UTC)
# (seconds after the server's creation, event, vm_state); every server lives the same 200 seconds.
LIFE = [(0, "create.end", "active"), (100, "power_off.end", "stopped"), (150, "power_on.end", "active"),
        (200, "delete.end", "deleted")]  # fmt: skip


@pytest.fixture
def topic(rabbitmq_url: str) -> Iterator[str]:
    name = f"metering-test-{os.urandom(6).hex()}"
    yield name
    for process in MeteringProcess.started:  # what a failed test left running
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    MeteringProcess.started.clear()
    with kombu.Connection(kombu_url(rabbitmq_url)) as connection:
        connection.channel().queue_delete(f"{name}.{name}-pool")


class MeteringProcess:
    started: list[subprocess.Popen[str]] = []

    def __init__(self, db_url: str, bus_url: str, topic: str) -> None:
        command = [sys.executable, "-m", "tests.integration.test_metering_rabbit", db_url, bus_url, topic]
        self.process = subprocess.Popen(
            [*command, f"{topic}-pool"], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
        )
        MeteringProcess.started.append(self.process)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def end(self, signum: int) -> None:
        self.process.send_signal(signum)
        self.process.wait(30)
        assert self.process.stdout is not None
        self.process.stdout.close()


def schedule() -> list[tuple[datetime, int, str, str]]:
    return sorted((T0 + timedelta(seconds=server + offset), server, event, state)
                  for server in range(SERVERS) for offset, event, state in LIFE)  # fmt: skip


def publish_lives(bus_url: str, topic: str, parts: list[list[Any]], go_on: list[threading.Event]) -> None:
    """Publishes `parts` one after the other, each after its event is set (the first at once)."""
    transport = get_transport(bus_url)
    now = [T0]
    notifier = Notifier(transport, "compute.rabbit-test", topics=(topic,), clock=lambda: now[0])
    ctxt = RequestContext.admin()
    try:
        for part, ready in zip(parts, [None, *go_on], strict=True):
            if ready is not None:
                assert ready.wait(120)
            for at, server, event, state in part:
                now[0] = at
                payload = {
                    "instance_id": f"server-{server:04d}", "tenant_id": "project-1", "state": state,
                    "flavor": {"flavorid": "1", "name": "m1.tiny", "vcpus": 1, "memory_mb": 512},
                }  # fmt: skip
                notifier.info(ctxt, f"compute.instance.{event}", payload)
                if event == "create.end":  # the same publication sent twice: two message ids
                    notifier.info(ctxt, f"compute.instance.{event}", payload)
    finally:
        transport.close()


def recorded(db: Database) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(UsageEvent)) or 0)


def test_restarts_and_kills_mid_stream_lose_and_double_count_nothing(
    rabbitmq_url: str, topic: str, db_url: str, db: Database
) -> None:
    events = schedule()
    expected_events = len(events)
    part = len(events) // 3
    parts = [events[:part], events[part : 2 * part], events[2 * part :]]
    restarted, killed = threading.Event(), threading.Event()
    first = MeteringProcess(db_url, rabbitmq_url, topic)  # its pool queue exists before anything is sent
    publisher = threading.Thread(target=publish_lives, args=(rabbitmq_url, topic, parts, [restarted, killed]))
    publisher.start()
    wait_until(lambda: recorded(db) >= part // 2, 60, what="some events")
    first.end(signal.SIGTERM)  # a restart, with some of the first part still queued
    second = MeteringProcess(db_url, rabbitmq_url, topic)
    restarted.set()
    wait_until(lambda: recorded(db) >= part + part // 2, 60, what="half the second part")
    second.end(signal.SIGKILL)  # mid-stream: some messages committed but not acknowledged
    killed.set()
    publisher.join(120)
    third = MeteringProcess(db_url, rabbitmq_url, topic)
    try:
        wait_until(lambda: recorded(db) >= expected_events, 120, what="every event", interval=0.2)
        time.sleep(1.0)  # anything redelivered late must still count once
        assert recorded(db) == expected_events
    finally:
        third.end(signal.SIGTERM)

    slices = list(UsageReader(db, lambda: T0 + timedelta(days=1)).slices(T0, T0 + timedelta(days=1)))
    seconds: Counter[str] = Counter()
    for piece in slices:
        seconds[piece.metric] += piece.seconds
        assert piece.quantity == Decimal(1)
    assert seconds == {INSTANCE_RUNNING: 150 * SERVERS, INSTANCE_STOPPED: 50 * SERVERS}
    assert len(slices) == 3 * SERVERS


def serve(db_url: str, bus_url: str, topic: str, pool: str) -> None:
    """The metering service of this test: listens on `topic` with `pool` until SIGTERM."""
    settings = load_settings(data_dir=Path(db_url.removeprefix("sqlite:///")).parent, transport_url=bus_url)
    cloud = Cloud(settings=settings, db=Database(db_url), transport=get_transport(bus_url))
    service = Service(cloud, MeteringManager(cloud, f"metering-{os.getpid()}", topics=(topic,), pool=pool))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    service.start()
    print("ready", flush=True)
    stop.wait()
    service.stop()
    cloud.close()


if __name__ == "__main__":
    serve(*sys.argv[1:5])
