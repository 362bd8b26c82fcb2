"""Usage periods from usage events: every transition, duplicates, out-of-order arrival, clipping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from overcast.db.engine import Database
from overcast.metering import events as usage_events
from overcast.metering.events import NewUsageEvent
from overcast.metering.usage import (
    INSTANCE_RUNNING,
    INSTANCE_SHELVED,
    INSTANCE_STOPPED,
    VOLUME_GB,
    UsageReader,
)
from tests.support.clock import FakeClock

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SMALL = {"flavor_id": "1", "flavor_name": "m1.tiny"}
LARGE = {"flavor_id": "2", "flavor_name": "m1.small"}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def instance_event(
    minutes: float,
    event_type: str,
    metric: str | None,
    flavor: dict[str, str] = SMALL,
    uuid: str = "vm-1",
    message_id: str | None = None,
) -> NewUsageEvent:
    return NewUsageEvent(
        message_id=message_id or f"{uuid}-{event_type}-{minutes}", event_type=event_type,
        occurred_at=at(minutes), project_id="p1", resource_type="instance", resource_id=uuid,
        metric=metric, quantity=Decimal(1), attributes=flavor,
    )  # fmt: skip


def store(db: Database, *new: NewUsageEvent) -> int:
    with db.writer() as session:
        return usage_events.record(session, list(new), at(0))


def spans(
    db: Database, start: float = 0, end: float = 10_000, now: float = 10_000
) -> list[tuple[str, float, float]]:
    reader = UsageReader(db, FakeClock(at(now)))
    return [
        (s.metric, (s.start - T0).total_seconds() / 60, (s.end - T0).total_seconds() / 60)
        for s in reader.slices(at(start), at(end))
    ]


LIFECYCLE = [
    instance_event(0, "compute.instance.create.end", INSTANCE_RUNNING),
    instance_event(60, "compute.instance.power_off.end", INSTANCE_STOPPED),
    instance_event(90, "compute.instance.power_on.end", INSTANCE_RUNNING),
    instance_event(120, "compute.instance.resize.finish.end", INSTANCE_RUNNING, LARGE),
    instance_event(150, "compute.instance.shelve.end", INSTANCE_SHELVED, LARGE),
    instance_event(160, "compute.instance.shelve_offload.end", INSTANCE_SHELVED, LARGE),
    instance_event(200, "compute.instance.unshelve.end", INSTANCE_RUNNING, LARGE),
    instance_event(230, "compute.instance.soft_delete.end", None, LARGE),
    instance_event(240, "compute.instance.restore.end", INSTANCE_RUNNING, LARGE),
    instance_event(300, "compute.instance.delete.end", None, LARGE),
]
EXPECTED = [
    (INSTANCE_RUNNING, 0, 60), (INSTANCE_STOPPED, 60, 90), (INSTANCE_RUNNING, 90, 120),
    (INSTANCE_RUNNING, 120, 150), (INSTANCE_SHELVED, 150, 200), (INSTANCE_RUNNING, 200, 230),
    (INSTANCE_RUNNING, 240, 300),
]  # fmt: skip


def test_every_transition_starts_a_period_and_equal_states_merge(db: Database) -> None:
    assert store(db, *LIFECYCLE) == len(LIFECYCLE)
    assert spans(db) == EXPECTED
    resized = [s for s in UsageReader(db, FakeClock(at(1000))).slices(at(0), at(1000)) if s.start == at(120)]
    assert resized[0].attributes == LARGE and resized[0].seconds == 30 * 60


def test_duplicates_count_once_by_message_id_and_by_natural_key(db: Database) -> None:
    store(db, *LIFECYCLE)
    redelivered = LIFECYCLE[1]
    published_twice = instance_event(
        60, "compute.instance.power_off.end", INSTANCE_STOPPED, message_id="other"
    )
    assert store(db, redelivered, published_twice) == 0
    assert spans(db) == EXPECTED


@pytest.mark.parametrize("order", [list(reversed(range(len(LIFECYCLE)))), [3, 0, 9, 5, 1, 8, 2, 7, 4, 6]])
def test_arrival_order_does_not_matter(db: Database, order: list[int]) -> None:
    for index in order:
        store(db, LIFECYCLE[index])
    assert spans(db) == EXPECTED


def test_a_late_event_changes_the_periods_it_falls_in(db: Database) -> None:
    store(db, LIFECYCLE[0], LIFECYCLE[-1])
    assert spans(db) == [(INSTANCE_RUNNING, 0, 300)]
    store(db, LIFECYCLE[1])
    assert spans(db) == [(INSTANCE_RUNNING, 0, 60), (INSTANCE_STOPPED, 60, 300)]


def test_the_window_clips_and_an_open_period_ends_now(db: Database) -> None:
    store(db, *LIFECYCLE[:3])
    assert spans(db, start=30, end=100, now=1000) == [
        (INSTANCE_RUNNING, 30, 60), (INSTANCE_STOPPED, 60, 90), (INSTANCE_RUNNING, 90, 100),
    ]  # fmt: skip
    assert spans(db, start=70, end=1000, now=95) == [(INSTANCE_STOPPED, 70, 90), (INSTANCE_RUNNING, 90, 95)]
    assert spans(db, start=500, end=600, now=1000) == [(INSTANCE_RUNNING, 500, 600)]
    assert spans(db, start=100, end=200, now=50) == []


def test_slices_are_ordered_and_filtered_by_project(db: Database) -> None:
    volume = NewUsageEvent(
        "v",
        "volume.create.end",
        at(10),
        "p0",
        "volume",
        "vol-1",
        VOLUME_GB,
        Decimal(5),
        {"volume_type": "ssd"},
    )
    store(
        db,
        instance_event(0, "compute.instance.create.end", INSTANCE_RUNNING, uuid="vm-2"),
        *LIFECYCLE[:2],
        volume,
    )
    reader = UsageReader(db, FakeClock(at(120)))
    keys = [(s.project_id, s.resource_id, s.start) for s in reader.slices(at(0), at(120))]
    assert keys == [
        ("p0", "vol-1", at(10)),
        ("p1", "vm-1", at(0)),
        ("p1", "vm-1", at(60)),
        ("p1", "vm-2", at(0)),
    ]
    only = list(reader.slices(at(0), at(120), project_ids=["p0"]))
    assert [(s.metric, s.quantity, s.seconds) for s in only] == [(VOLUME_GB, Decimal(5), 110 * 60)]
