"""Usage periods, read from the usage events: what billing rates.

A resource's events, in time order, each set what it is billed as from that instant on; a period is the
span from one event to the next event that changes the metric, quantity or attributes, or (the resource
still in that state) to now. Periods are computed when read, never stored, so a late or out-of-order event
changes the periods it falls in and nothing has to be rewritten.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import groupby
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, String, and_, func, select, true, type_coerce
from sqlalchemy.orm import Session

from overcast.db.engine import Database
from overcast.db.models.metering import UsageEvent

INSTANCE_RUNNING = "instance.running"
INSTANCE_STOPPED = "instance.stopped"
INSTANCE_SHELVED = "instance.shelved"
VOLUME_GB = "volume.gb"
SNAPSHOT_GB = "snapshot.gb"
BACKUP_GB = "backup.gb"
IMAGE_GB = "image.gb"
FLOATING_IP = "floating_ip"
METRICS = (
    INSTANCE_RUNNING, INSTANCE_STOPPED, INSTANCE_SHELVED,
    VOLUME_GB, SNAPSHOT_GB, BACKUP_GB, IMAGE_GB,
    FLOATING_IP,
)  # fmt: skip
RESOURCE_TYPES = ("instance", "volume", "snapshot", "backup", "image", "floating_ip")


@dataclass(frozen=True)
class UsageSlice:
    project_id: str
    resource_type: str
    resource_id: str
    metric: str
    start: datetime  # aware UTC, inclusive
    end: datetime  # aware UTC, exclusive; clipped to the query window
    quantity: Decimal  # units held during [start, end)
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class BilledState:
    """What one event says the resource is billed as from `at` on (`metric` None: nothing)."""

    at: datetime
    metric: str | None
    quantity: Decimal
    attributes: Mapping[str, str]

    def same_billing(self, other: BilledState) -> bool:
        return (self.metric, self.quantity, dict(self.attributes)) == (
            other.metric, other.quantity, dict(other.attributes),
        )  # fmt: skip


class EventRow(NamedTuple):
    """What periods need of a usage event, read as plain rows (loading ORM objects costs more than SQLite)."""

    id: int
    project_id: str
    resource_type: str
    resource_id: str
    occurred_at: datetime
    metric: str | None
    quantity: str
    attributes: Mapping[str, str]


EVENT_COLUMNS = (
    UsageEvent.id, UsageEvent.project_id, UsageEvent.resource_type, UsageEvent.resource_id,
    UsageEvent.occurred_at, UsageEvent.metric, UsageEvent.quantity,
    # As its JSON text: thousands of events share a few attribute sets, decoded once each.
    type_coerce(UsageEvent.attributes, String),
)  # fmt: skip


@functools.lru_cache(maxsize=4096)
def _attributes(text: str | None) -> Mapping[str, str]:
    decoded = json.loads(text) if text else {}
    # Shared by every event of that text: read it, never change it (UsageSlice.attributes is a Mapping).
    return {str(key): str(value) for key, value in decoded.items()}


def _event_row(row: Any) -> EventRow:
    event_id, project_id, resource_type, resource_id, occurred_at, metric, quantity, attributes = row
    return EventRow(
        event_id,
        project_id,
        resource_type,
        resource_id,
        occurred_at,
        metric,
        quantity,
        _attributes(attributes),
    )


def state_of(event: UsageEvent | EventRow) -> BilledState:
    if isinstance(event, EventRow):
        return BilledState(event.occurred_at, event.metric, Decimal(event.quantity), event.attributes)
    attributes = {str(key): str(value) for key, value in (event.attributes or {}).items()}
    return BilledState(event.occurred_at, event.metric, Decimal(event.quantity), attributes)


def periods(
    states: Iterable[BilledState], start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime, BilledState]]:
    """The billed spans of one resource within [start, end), from its states in time order.

    The state in force at `start` is the last one before it (the caller passes it first). Consecutive
    states that bill the same are one span; zero-length spans are dropped.
    """
    current: BilledState | None = None
    since = start
    for state in states:
        if current is not None and current.same_billing(state):
            continue
        at = max(state.at, start)
        if at >= end:
            break
        if current is not None and current.metric is not None and at > since:
            yield since, at, current
        current, since = state, at
    if current is not None and current.metric is not None and end > since:
        yield since, end, current


def event_order(event: UsageEvent | EventRow) -> tuple[datetime, int]:
    # Events of one instant keep the order they were recorded in.
    return event.occurred_at, event.id


class UsageReader:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def slices(
        self, start: datetime, end: datetime, project_ids: Collection[str] | None = None
    ) -> Iterator[UsageSlice]:
        """Every period overlapping [start, end), clipped to it; an open period ends at min(end, now).

        Ordered by project, resource type, resource id and start.
        """
        end = min(end, self.clock())
        if end <= start:
            return
        with self.db.reader() as session:
            events = [
                *self._in_force_at(session, start, project_ids),
                *self._within(session, start, end, project_ids),
            ]
        events.sort(
            key=lambda event: (event.project_id, event.resource_type, event.resource_id, *event_order(event))
        )
        for (project_id, resource_type, resource_id), group in groupby(
            events, key=lambda event: (event.project_id, event.resource_type, event.resource_id)
        ):
            for since, until, state in periods((state_of(event) for event in group), start, end):
                assert state.metric is not None
                yield UsageSlice(
                    project_id, resource_type, resource_id, state.metric, since, until,
                    state.quantity, state.attributes,
                )  # fmt: skip

    @staticmethod
    def _of_projects(project_ids: Collection[str] | None) -> ColumnElement[bool]:
        return true() if project_ids is None else UsageEvent.project_id.in_(list(project_ids))

    def _in_force_at(
        self, session: Session, start: datetime, project_ids: Collection[str] | None
    ) -> list[EventRow]:
        """Each resource's events at its last instant before `start` (the state it enters the window in)."""
        last = (
            select(
                UsageEvent.resource_type, UsageEvent.resource_id, func.max(UsageEvent.occurred_at).label("at")
            )
            .where(UsageEvent.occurred_at < start, self._of_projects(project_ids))
            .group_by(UsageEvent.resource_type, UsageEvent.resource_id)
            .subquery()
        )
        query = select(*EVENT_COLUMNS).join(
            last,
            and_(
                UsageEvent.resource_type == last.c.resource_type,
                UsageEvent.resource_id == last.c.resource_id,
                UsageEvent.occurred_at == last.c.at,
            ),
        )
        return [_event_row(row) for row in session.execute(query)]

    def _within(
        self, session: Session, start: datetime, end: datetime, project_ids: Collection[str] | None
    ) -> list[EventRow]:
        query = select(*EVENT_COLUMNS).where(
            UsageEvent.occurred_at >= start, UsageEvent.occurred_at < end, self._of_projects(project_ids)
        )
        return [_event_row(row) for row in session.execute(query)]


def latest_events(session: Session, resource_type: str) -> dict[str, UsageEvent]:
    """The latest event of every resource of one type (what the audit compares with the database)."""
    last = (
        select(UsageEvent.resource_id, func.max(UsageEvent.occurred_at).label("at"))
        .where(UsageEvent.resource_type == resource_type)
        .group_by(UsageEvent.resource_id)
        .subquery()
    )
    query = select(UsageEvent).join(
        last,
        and_(
            UsageEvent.resource_type == resource_type,
            UsageEvent.resource_id == last.c.resource_id,
            UsageEvent.occurred_at == last.c.at,
        ),
    )
    latest: dict[str, UsageEvent] = {}
    for event in session.scalars(query):  # several at one instant: the last recorded
        known = latest.get(event.resource_id)
        if known is None or event_order(event) > event_order(known):
            latest[event.resource_id] = event
    return latest
