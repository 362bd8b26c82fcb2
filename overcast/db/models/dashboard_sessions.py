"""Dashboard sessions, shared by every dashboard process of the cloud (`overcast service dashboard`
scaled out).

A row is found by the SHA-256 of the session id the browser holds, and its contents (the user's token, the
CSRF token, one-time private keys) are sealed with a key derived from that id: the database, or a backup of
it, lets nobody act as the user. Only `overcast.dashboard.sessions` reads or writes this table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base
from overcast.db.types import UTCDateTime


class DashboardSession(Base):
    __tablename__ = "dashboard_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
    # The token's expiry: the session cannot outlive it, however busy.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
