"""Service liveness: a service is up while its heartbeats are recent and nobody forced it down."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from overcast.db.engine import Database
    from overcast.db.models.service import ServiceRecord


class ServiceLike(Protocol):
    """The columns of a services-table row that liveness needs.

    Heartbeat columns (`last_seen_up`, `updated_at`, `created_at`) are read with getattr so a row
    without one of them still works.
    """

    @property
    def host(self) -> str: ...

    @property
    def binary(self) -> str: ...

    @property
    def forced_down(self) -> bool: ...


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; Overcast stores UTC everywhere.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def last_heartbeat(record: ServiceLike) -> datetime | None:
    """The most trustworthy sign of life: the heartbeat time, else the last row change, else creation."""
    for column in ("last_seen_up", "updated_at", "created_at"):
        moment: datetime | None = getattr(record, column, None)
        if moment is not None:
            return _aware(moment)
    return None


def service_is_up(record: ServiceLike, now: datetime, down_time: float) -> bool:
    if record.forced_down:
        return False
    heartbeat = last_heartbeat(record)
    if heartbeat is None:
        return False
    return abs((_aware(now) - heartbeat).total_seconds()) <= down_time


def list_services(db: Database) -> list[ServiceRecord]:
    """Every row of the services table, detached from its session so callers may read it freely."""
    from sqlalchemy import select

    from overcast.db.models.service import ServiceRecord

    with db.reader() as session:
        records = list(
            session.scalars(select(ServiceRecord).order_by(ServiceRecord.binary, ServiceRecord.host))
        )
        session.expunge_all()
    return records
