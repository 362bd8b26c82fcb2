"""Block device mappings (Nova's `block_device_mapping` table): the volumes a server has, or is being given.

One row per disk a server has beyond its image-backed root: a volume attached through os-volume_attachments
(source and destination `volume`), or a boot-from-volume mapping of a create (`image`/`blank`/`volume` →
`volume`). The row is written when the API reserves the volume, so it also stands for an attach in
progress (`attachment_id` set, `connection_info` still empty); the compute host fills `connection_info`
once the volume service exported the volume, and a failed attach deletes the row again.
"""

from __future__ import annotations

import uuid as uuid_lib
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin


def _new_uuid() -> str:
    return str(uuid_lib.uuid4())


class BlockDeviceMapping(Base, TimestampMixin):
    __tablename__ = "block_device_mappings"
    __table_args__ = (
        # One volume once per server, and one server disk per device name: two attaches racing for the
        # same volume or the same name lose on the key instead of both succeeding.
        UniqueConstraint("instance_uuid", "volume_id"),
        UniqueConstraint("instance_uuid", "device_name"),
        Index("ix_block_device_mappings_volume_id", "volume_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False, default=_new_uuid)
    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("instances.uuid", ondelete="CASCADE"), nullable=False, index=True
    )
    source_type: Mapped[str] = mapped_column(String(16), nullable=False)  # volume, image, blank, snapshot
    destination_type: Mapped[str] = mapped_column(String(16), nullable=False)  # volume, local
    boot_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    device_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    delete_on_termination: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    volume_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    attachment_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    image_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    volume_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    volume_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tag: Mapped[str | None] = mapped_column(String(60), nullable=True)
    # What the volume service's initialize_connection returned (Cinder's shape); None until exported.
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    def __repr__(self) -> str:
        return f"<BlockDeviceMapping {self.instance_uuid} {self.device_name} volume={self.volume_id}>"
