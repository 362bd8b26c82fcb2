"""Tables of the compute admin APIs (migration 0005): host aggregates and private-flavor access.

An aggregate's availability zone is the metadata item ``availability_zone`` (as in Nova), so zones need no
table of their own: a compute host's zone is the one its aggregates name, or the default zone.
"""

from __future__ import annotations

import uuid as uuid_lib

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin


def _new_uuid() -> str:
    return str(uuid_lib.uuid4())


class Aggregate(Base, TimestampMixin):
    __tablename__ = "aggregates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False, default=_new_uuid)
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)


class AggregateHost(Base, TimestampMixin):
    __tablename__ = "aggregate_hosts"
    __table_args__ = (UniqueConstraint("aggregate_id", "host"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aggregate_id: Mapped[int] = mapped_column(
        ForeignKey("aggregates.id", ondelete="CASCADE"), nullable=False, index=True
    )
    host: Mapped[str] = mapped_column(String(255), nullable=False, index=True)


class AggregateMetadata(Base, TimestampMixin):
    __tablename__ = "aggregate_metadata"
    __table_args__ = (UniqueConstraint("aggregate_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aggregate_id: Mapped[int] = mapped_column(
        ForeignKey("aggregates.id", ondelete="CASCADE"), nullable=False, index=True
    )
    key: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    value: Mapped[str] = mapped_column(String(255), nullable=False)


class FlavorProject(Base, TimestampMixin):
    """A project allowed to see and boot a private flavor (os-flavor-access)."""

    __tablename__ = "flavor_projects"
    __table_args__ = (UniqueConstraint("flavor_id", "project_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flavor_id: Mapped[int] = mapped_column(
        ForeignKey("flavors.id", ondelete="CASCADE"), nullable=False, index=True
    )
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
