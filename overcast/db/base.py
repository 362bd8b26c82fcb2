"""Declarative base, the shared clock and the timestamp mixin every model uses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from overcast.db.types import UTCDateTime

# Explicit constraint names let Alembic migrations refer to constraints by a name that is the same on every
# backend (SQLite would otherwise leave them anonymous and batch migrations could not drop them).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _system_clock() -> datetime:
    return datetime.now(UTC)


# Tests replace this (monkeypatch overcast.db.base.clock) to control every timestamp the models write.
clock: Callable[[], datetime] = _system_clock


def utcnow() -> datetime:
    """The current time as an aware UTC datetime, read from the injectable `clock`."""
    return clock()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )
