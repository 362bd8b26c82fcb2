"""Metering's usage events: append-only rows, one per billable change of a resource's state.

Each event says what the resource is billed as *from its time on* (a metric, a quantity and the attributes
a price depends on) or, with no metric, that it is billed for nothing from then on (deleted, in error,
soft-deleted). Usage periods are the spans between a resource's consecutive events
(`overcast.metering.usage`), so a late or out-of-order event simply takes its place in time.

Quantities are exact decimals kept as their text: SQLite has no exact decimal type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base
from overcast.db.types import UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY.
EVENT_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class UsageEvent(Base):
    __tablename__ = "usage_events"
    __table_args__ = (Index("ix_usage_events_resource_time", "resource_type", "resource_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(EVENT_ID_TYPE, primary_key=True, autoincrement=True)
    # Idempotency: a redelivered message has the same message_id; a publication sent twice (two message
    # ids) has the same natural key (resource, event type, time).
    message_id: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    natural_key: Mapped[str] = mapped_column(String(512), nullable=False, unique=True)
    event_type: Mapped[str] = mapped_column(String(255), nullable=False)
    # "notification", or "audit" for an event the audit synthesized from the database.
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    resource_type: Mapped[str] = mapped_column(String(32), nullable=False)
    resource_id: Mapped[str] = mapped_column(String(64), nullable=False)
    metric: Mapped[str | None] = mapped_column(String(32), nullable=True)
    quantity: Mapped[str] = mapped_column(String(40), nullable=False, default="0")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
