"""Console tokens (Nova's `console_auth_tokens`): what a console URL's token lets its bearer reach.

Only the token's sha256 is stored, so the database (or a backup of it) hands nobody a console. A row
names the instance, the project that asked, the compute host the instance was on and where the proxy
connects; every API process redeems tokens here, once each, until `expires_at`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base
from overcast.db.types import UTCDateTime


class ConsoleAuthToken(Base):
    __tablename__ = "console_auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    console_type: Mapped[str] = mapped_column(String(32), nullable=False)
    # Hard-deleting an instance row takes its tokens along; a soft delete drops them explicitly.
    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("instances.uuid", ondelete="CASCADE"), nullable=False, index=True
    )
    project_id: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    # What the compute driver said: {"kind": "tcp", "host", "port"} or {"kind": "unix", "path"}.
    connect: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
