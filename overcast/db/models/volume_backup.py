"""Volume backups (Cinder's backups, their metadata) and volume transfers.

A backup outlives its volume (Cinder lets a volume with backups be deleted), so `volume_id` is no
foreign key. The chunks and the manifest live in the backup store (overcast.volume.backup); the row
keeps where the manifest is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin
from overcast.db.types import UTCDateTime


class Backup(Base, TimestampMixin):
    __tablename__ = "backups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    volume_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The incremental backup's parent (a backup of the same volume); children block a delete.
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    # The volume service that writes, restores and deletes the backup's data.
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    container: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # creating, available, deleting, restoring, error, error_deleting (Cinder's); changed by compare-and-swap.
    status: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    fail_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # GiB: the volume's size when backed up (what backup_gigabytes counts).
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    object_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Where the backup's manifest is in the backup store (None until the data is written).
    manifest_location: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the backed-up data was read (the snapshot's creation time for a snapshot's backup).
    data_timestamp: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The volume a running restore writes to.
    restore_volume_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    encryption_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class BackupMetadata(Base):
    __tablename__ = "backup_metadata"

    backup_id: Mapped[str] = mapped_column(ForeignKey("backups.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), nullable=False)


class VolumeTransfer(Base, TimestampMixin):
    """An offer of a volume to whoever presents the auth key; the row goes when accepted or deleted."""

    __tablename__ = "volume_transfers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # One open transfer per volume: the volume is awaiting-transfer until it is accepted or deleted.
    volume_id: Mapped[str] = mapped_column(
        ForeignKey("volumes.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The auth key is shown once: only a salted hash of it is kept.
    salt: Mapped[str] = mapped_column(String(64), nullable=False)
    crypt_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    # 3.55: the volume's snapshots stay behind (Cinder's no_snapshots).
    no_snapshots: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    source_project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
