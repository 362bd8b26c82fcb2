"""Server tags (compute API 2.26): short strings a user attaches to a server to find it by."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base


class InstanceTag(Base):
    __tablename__ = "instance_tags"

    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("instances.uuid", ondelete="CASCADE"), primary_key=True
    )
    # Nova's limit: 60 characters, no "/" and no ",".
    tag: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)
