"""Image registry tables (Glance's): images, their tags, members (sharing) and data locations."""

from __future__ import annotations

import uuid as uuid_lib
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin
from overcast.db.types import UTCDateTime


def _new_uuid() -> str:
    return str(uuid_lib.uuid4())


class Image(Base, TimestampMixin):
    __tablename__ = "images"
    __table_args__ = (
        Index("ix_images_owner_deleted", "owner", "deleted"),
        Index("ix_images_visibility_deleted", "visibility", "deleted"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=_new_uuid)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="queued")
    visibility: Mapped[str] = mapped_column(String(32), nullable=False, default="shared")
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    protected: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    disk_format: Mapped[str | None] = mapped_column(String(32), nullable=True)
    container_format: Mapped[str | None] = mapped_column(String(32), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    checksum: Mapped[str | None] = mapped_column(String(32), nullable=True)
    os_hash_algo: Mapped[str | None] = mapped_column(String(64), nullable=True)
    os_hash_value: Mapped[str | None] = mapped_column(String(128), nullable=True)
    min_disk: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Every property that is not a core attribute (hw_*, os_distro, owner_specified.*, ...).
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # While an image is `saving`: the host and process receiving its data and when that upload last
    # made progress, so an upload whose process died is recognised
    # (overcast.image.data.ImageData.recover_interrupted_uploads).
    upload_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    upload_process: Mapped[str | None] = mapped_column(String(64), nullable=True)
    upload_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    def __repr__(self) -> str:
        return f"<Image {self.id} {self.status} {self.name!r}>"


class ImageTag(Base):
    __tablename__ = "image_tags"

    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)


class ImageMember(Base, TimestampMixin):
    """A project an image is shared with; it sees the image in lists once it has accepted."""

    __tablename__ = "image_members"

    image_id: Mapped[str] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    member: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")


class ImageLocation(Base, TimestampMixin):
    """Where an image's data lives: one row per store holding a complete copy."""

    __tablename__ = "image_locations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(
        ForeignKey("images.id", ondelete="CASCADE"), nullable=False, index=True
    )
    store: Mapped[str] = mapped_column(String(32), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
