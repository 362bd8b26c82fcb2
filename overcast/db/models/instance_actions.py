"""Instance actions (what users asked of a server, with the compute host's events) and instance extras.

`instance_extra` holds what an instance carries beside its row while actions run (Nova keeps the same
in instance_extra and system_metadata): the lock, the guest-posted password, and the bookkeeping of a
resize or a shelve in `system_metadata`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin, utcnow
from overcast.db.types import UTCDateTime


class InstanceAction(Base):
    __tablename__ = "instance_actions"
    __table_args__ = (Index("ix_instance_actions_instance_uuid_request_id", "instance_uuid", "request_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(255), nullable=False)
    instance_uuid: Mapped[str] = mapped_column(String(36), nullable=False)
    request_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    finish_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The last change to the action or one of its events (compute API 2.58 shows and filters on it).
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Nova's wording: None while all is well, "Error" once an event of the action failed.
    message: Mapped[str | None] = mapped_column(String(255), nullable=True)


class InstanceActionEvent(Base):
    __tablename__ = "instance_action_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(
        ForeignKey("instance_actions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    event: Mapped[str] = mapped_column(String(255), nullable=False)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    finish_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    result: Mapped[str | None] = mapped_column(String(255), nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)


class InstanceExtra(Base, TimestampMixin):
    __tablename__ = "instance_extra"

    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("instances.uuid", ondelete="CASCADE"), primary_key=True
    )
    locked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    locked_by: Mapped[str | None] = mapped_column(String(16), nullable=True)  # "owner" or "admin"
    # The encrypted password the guest posted (os-server-password); never the plain admin password.
    password: Mapped[str | None] = mapped_column(Text, nullable=True)
    system_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
