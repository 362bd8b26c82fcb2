"""Metering end to end: servers driven through the real API with openstacksdk, the fake driver and an
injected clock; the usage the metering service records matches the clock to the second.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openstack.connection import Connection
from sqlalchemy import select

from overcast.context import RequestContext
from overcast.db.models.metering import UsageEvent
from overcast.metering.rpcapi import MeteringAPI
from overcast.metering.usage import (
    INSTANCE_RUNNING,
    INSTANCE_SHELVED,
    INSTANCE_STOPPED,
    UsageReader,
    UsageSlice,
)
from overcast.virt.driver import PowerState
from tests.support.clock import FakeClock, cloud_clock
from tests.support.cloud import InProcessCloud, move_clock
from tests.support.compute_api import INTERVAL, WAIT_SECONDS, settled, tiny_server
from tests.support.metering import metered_cloud, recorded
from tests.support.waiting import wait_until

SMALL = "2"  # m1.small
T0 = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)


class LossyNotifications:
    """The bus as a flaky network treats notifications: drops or doubles the ones a test names."""

    def __init__(self, cloud: InProcessCloud) -> None:
        self.transport = cloud.cloud.transport
        self.send = self.transport.notify
        self.drop: set[str] = set()
        self.double: set[str] = set()

    def notify(self, topic: str, body: str) -> None:
        message = json.loads(body)
        if message["event_type"] in self.drop:
            self.drop.discard(message["event_type"])
            return
        self.send(topic, body)
        if message["event_type"] in self.double:
            self.double.discard(message["event_type"])
            self.send(topic, body)  # redelivered: the same message
            self.send(topic, json.dumps({**message, "message_id": "published-twice"}))


@pytest.fixture(scope="module")
def clock() -> Iterator[FakeClock]:
    with cloud_clock(T0) as clock:
        yield clock


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[InProcessCloud]:
    running = metered_cloud(tmp_path_factory.mktemp("metering"), clock, reclaim_instance_interval=3600)
    yield running
    running.stop()


@pytest.fixture
def lossy(cloud: InProcessCloud, monkeypatch: pytest.MonkeyPatch) -> LossyNotifications:
    bus = LossyNotifications(cloud)
    monkeypatch.setattr(cloud.cloud.transport, "notify", bus.notify)
    return bus


def advance_to(cloud: InProcessCloud, clock: FakeClock, at: timedelta) -> None:
    move_clock(cloud, clock, T0 + at)


def usage(cloud: InProcessCloud, clock: FakeClock, server_id: str) -> list[tuple[str, str, float, float]]:
    reader = UsageReader(cloud.cloud.db, clock)
    return [
        (s.metric, s.attributes["flavor_name"], *hours(s))
        for s in reader.slices(T0 - HOUR, T0 + 100 * HOUR)
        if s.resource_id == server_id
    ]


def hours(piece: UsageSlice) -> tuple[float, float]:
    return (piece.start - T0) / HOUR, (piece.end - T0) / HOUR


def wait_for_usage(cloud: InProcessCloud, clock: FakeClock, server_id: str, expected: list[Any]) -> None:
    wait_until(lambda: usage(cloud, clock, server_id) == expected, 60, what=f"usage {expected}")


def test_a_servers_life_is_billed_to_the_second(
    cloud: InProcessCloud, clock: FakeClock, demo: Connection
) -> None:
    server = tiny_server(demo, "metered")
    recorded(cloud, server.id, "create.end")
    advance_to(cloud, clock, HOUR)
    demo.compute.stop_server(server)
    settled(demo, server.id, "SHUTOFF")
    recorded(cloud, server.id, "power_off.end")
    advance_to(cloud, clock, 1.5 * HOUR)
    demo.compute.start_server(server)
    settled(demo, server.id, "ACTIVE")
    recorded(cloud, server.id, "power_on.end")
    advance_to(cloud, clock, 2 * HOUR)
    demo.compute.resize_server(server, SMALL)
    settled(demo, server.id, "VERIFY_RESIZE")
    recorded(cloud, server.id, "finish_resize.end")
    advance_to(cloud, clock, 2.25 * HOUR)
    demo.compute.confirm_server_resize(server)
    settled(demo, server.id, "ACTIVE")
    recorded(cloud, server.id, "resize.confirm.end")
    advance_to(cloud, clock, 3 * HOUR)
    demo.compute.shelve_server(server)
    settled(demo, server.id, "SHELVED_OFFLOADED")
    recorded(cloud, server.id, "shelve_offload.end")
    advance_to(cloud, clock, 4 * HOUR)
    demo.compute.unshelve_server(server)
    settled(demo, server.id, "ACTIVE")
    recorded(cloud, server.id, "unshelve.end")
    advance_to(cloud, clock, 5 * HOUR)
    demo.compute.delete_server(server)  # soft: reclaim_instance_interval is set
    settled(demo, server.id, "SOFT_DELETED")
    recorded(cloud, server.id, "soft_delete.end")
    advance_to(cloud, clock, 5.5 * HOUR)
    demo.compute.restore_server(server)
    settled(demo, server.id, "ACTIVE")
    recorded(cloud, server.id, "restore.end")
    advance_to(cloud, clock, 6 * HOUR)
    demo.compute.delete_server(server, force=True)
    demo.compute.wait_for_delete(server, interval=INTERVAL, wait=WAIT_SECONDS)
    recorded(cloud, server.id, "delete.end")
    advance_to(cloud, clock, 7 * HOUR)

    wait_for_usage(cloud, clock, server.id, [
        (INSTANCE_RUNNING, "m1.tiny", 0, 1), (INSTANCE_STOPPED, "m1.tiny", 1, 1.5),
        (INSTANCE_RUNNING, "m1.tiny", 1.5, 2), (INSTANCE_RUNNING, "m1.small", 2, 3),
        (INSTANCE_SHELVED, "m1.small", 3, 4), (INSTANCE_RUNNING, "m1.small", 4, 5),
        (INSTANCE_RUNNING, "m1.small", 5.5, 6),
    ])  # fmt: skip


def test_a_duplicated_notification_counts_once_and_the_audit_heals_a_lost_one(
    cloud: InProcessCloud, clock: FakeClock, demo: Connection, lossy: LossyNotifications
) -> None:
    advance_to(cloud, clock, 10 * HOUR)
    lossy.double.add("compute.instance.create.end")
    server = tiny_server(demo, "flaky")
    advance_to(cloud, clock, 11 * HOUR)
    lossy.drop.add("compute.instance.power_off.end")
    demo.compute.stop_server(server)
    settled(demo, server.id, "SHUTOFF")
    advance_to(cloud, clock, 12 * HOUR)
    wait_for_usage(cloud, clock, server.id, [(INSTANCE_RUNNING, "m1.tiny", 10, 12)])
    assert not lossy.drop and not lossy.double
    with cloud.cloud.db.reader() as session:
        recorded = session.scalars(
            select(UsageEvent.event_type).where(UsageEvent.resource_id == server.id).order_by(UsageEvent.id)
        ).all()
    assert recorded == ["compute.instance.create.end"]  # sent three times, recorded once

    audit = MeteringAPI(cloud.cloud.transport).audit_now(RequestContext.admin())

    healed = [entry for entry in audit["healed"] if entry["resource_id"] == server.id]
    assert healed == [{
        "resource_type": "instance", "resource_id": server.id, "metric": INSTANCE_STOPPED,
        "occurred_at": (T0 + 11 * HOUR).isoformat(),
    }]  # fmt: skip
    assert usage(cloud, clock, server.id) == [
        (INSTANCE_RUNNING, "m1.tiny", 10, 11), (INSTANCE_STOPPED, "m1.tiny", 11, 12),
    ]  # fmt: skip
    again = MeteringAPI(cloud.cloud.transport).audit_now(RequestContext.admin())
    assert [entry for entry in again["healed"] if entry["resource_id"] == server.id] == []


def test_a_guest_that_shuts_itself_down_is_billed_as_stopped_from_then(
    cloud: InProcessCloud, clock: FakeClock, demo: Connection, admin: Connection
) -> None:
    advance_to(cloud, clock, 20 * HOUR)
    server = tiny_server(demo, "self-stopping")
    advance_to(cloud, clock, 21 * HOUR)
    host = admin.compute.get_server(server.id).compute_host
    cloud.drivers[host].crash(server.id, PowerState.SHUTDOWN)
    settled(demo, server.id, "SHUTOFF")
    advance_to(cloud, clock, 22 * HOUR)
    expected = [(INSTANCE_RUNNING, "m1.tiny", 20, 21), (INSTANCE_STOPPED, "m1.tiny", 21, 22)]
    wait_for_usage(cloud, clock, server.id, expected)
