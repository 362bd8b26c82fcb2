"""Move records (Nova's `migrations` table): one row per cold resize or cold migration of a server.

A row is written when the move starts, in the same transaction as the instance's compare-and-swap, and
its `status` then follows Nova's cold-move statuses (see overcast/compute/migrations.py), each change a
compare-and-swap of its own. Rows of a deleted server are soft-deleted with it.
"""

from __future__ import annotations

import uuid as uuidlib
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin
from overcast.db.types import UTCDateTime


def _new_uuid() -> str:
    return str(uuidlib.uuid4())


class Migration(Base, TimestampMixin):
    __tablename__ = "migrations"
    __table_args__ = (
        # The compute services find "the move of this instance now in status X" by these two columns.
        Index("ix_migrations_instance_uuid_status", "instance_uuid", "status"),
        # os-migrations lists newest first and pages by (created_at, id).
        Index("ix_migrations_created_at_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False, default=_new_uuid)
    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("instances.uuid", ondelete="CASCADE"), nullable=False
    )
    source_compute: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    source_node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    dest_compute: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    dest_node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Nova's dest_host is the address other hosts reach the destination compute host at, not its name.
    dest_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The flavors' database ids (flavors.id), as Nova's instance_type ids; None once a flavor is gone.
    old_instance_type_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    new_instance_type_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(255), nullable=False)
    migration_type: Mapped[str] = mapped_column(String(16), nullable=False)
    # Who asked for the move (Nova's user_id/project_id, shown from compute API 2.80).
    project_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
