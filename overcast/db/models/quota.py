"""Quota tables: per-project and per-user limits, changed defaults, and the per-project usage counters."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin


class QuotaLimit(Base, TimestampMixin):
    """A project's own limit for one resource (absent: the class default applies)."""

    __tablename__ = "quota_limits"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(BigInteger, nullable=False)


class QuotaClassLimit(Base, TimestampMixin):
    """An admin's change to a default limit (os-quota-class-sets/default)."""

    __tablename__ = "quota_class_limits"

    class_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(BigInteger, nullable=False)


class QuotaUsage(Base, TimestampMixin):
    """What a project holds; the row is locked while a request checks and changes it."""

    __tablename__ = "quota_usages"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    in_use: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class QuotaUserLimit(Base, TimestampMixin):
    """A user's own limit inside a project (Nova's per-user quotas; absent: the project's limit applies)."""

    __tablename__ = "quota_user_limits"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(BigInteger, nullable=False)
