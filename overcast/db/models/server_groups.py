"""Server groups (affinity policies and their members) and what the scheduler must remember per instance."""

from __future__ import annotations

import uuid as uuid_lib
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin, utcnow
from overcast.db.types import UTCDateTime


def _new_uuid() -> str:
    return str(uuid_lib.uuid4())


class ServerGroup(Base, TimestampMixin):
    __tablename__ = "server_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False, default=_new_uuid)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # Exactly one of affinity, anti-affinity, soft-affinity, soft-anti-affinity (a list as in API 2.1).
    policies: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    metadata_items: Mapped[dict[str, str]] = mapped_column("metadata", JSON, nullable=False, default=dict)
    # 2.64's rules: {"max_server_per_host": N} for anti-affinity, else {}.
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class ServerGroupMember(Base):
    __tablename__ = "server_group_members"
    __table_args__ = (UniqueConstraint("group_id", "instance_uuid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("server_groups.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Not a foreign key: members outlive nothing, but a soft-deleted instance stays in `instances`.
    instance_uuid: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class RequestSpecRecord(Base):
    """The scheduler hints a server was created with, kept for its placement and any reschedule."""

    __tablename__ = "request_specs"

    instance_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    scheduler_hints: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
