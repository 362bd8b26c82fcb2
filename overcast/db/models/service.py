"""The service table: one row per (host, binary) daemon, written by its heartbeat."""

from __future__ import annotations

import uuid as uuid_lib
from datetime import datetime

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin
from overcast.db.types import UTCDateTime


def _new_uuid() -> str:
    return str(uuid_lib.uuid4())


class ServiceRecord(Base, TimestampMixin):
    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("host", "binary"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False, default=_new_uuid)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    # The daemon's name, e.g. "overcast-compute".
    binary: Mapped[str] = mapped_column(String(255), nullable=False)
    topic: Mapped[str] = mapped_column(String(255), nullable=False)
    report_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    forced_down: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    last_seen_up: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The service's code version, so newer peers know which RPC/object versions an old one understands.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    def __repr__(self) -> str:
        return f"<ServiceRecord id={self.id} host={self.host!r} binary={self.binary!r}>"
