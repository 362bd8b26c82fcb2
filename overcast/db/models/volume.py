"""Block Storage tables (Cinder's): volumes with their metadata and attachments, snapshots, volume types
with extra specs, project access and per-project defaults, QoS specs, generic volume groups with their
group types and group snapshots, and the capacity each volume backend reports.

Rows are deleted outright (no soft delete): a volume's row goes when its volume service has removed the
data, so a listed volume always exists somewhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin, utcnow
from overcast.db.types import UTCDateTime


class VolumeType(Base, TimestampMixin):
    __tablename__ = "volume_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    qos_specs_id: Mapped[str | None] = mapped_column(ForeignKey("qos_specs.id"), nullable=True, index=True)


class VolumeTypeExtraSpec(Base):
    __tablename__ = "volume_type_extra_specs"

    volume_type_id: Mapped[str] = mapped_column(
        ForeignKey("volume_types.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), nullable=False)


class VolumeTypeProject(Base):
    """A project that may use a private volume type."""

    __tablename__ = "volume_type_projects"

    volume_type_id: Mapped[str] = mapped_column(
        ForeignKey("volume_types.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class QosSpecs(Base, TimestampMixin):
    __tablename__ = "qos_specs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    # Cinder's consumers: front-end (the hypervisor throttles), back-end, both.
    consumer: Mapped[str] = mapped_column(String(16), nullable=False, default="back-end")
    # {"read_iops_sec": "500", ...}: values are strings as Cinder keeps and shows them.
    specs: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)


class Volume(Base, TimestampMixin):
    __tablename__ = "volumes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # GiB.
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    # Cinder's strings (overcast.volume.states); every change is a compare-and-swap on this column.
    status: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    # The status an action started from, so reset/rollback can return to it (Cinder's previous_status).
    previous_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attach_status: Mapped[str] = mapped_column(String(16), nullable=False, default="detached")
    migration_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    replication_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    bootable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    readonly: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    multiattach: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    availability_zone: Mapped[str] = mapped_column(String(255), nullable=False)
    volume_type_id: Mapped[str] = mapped_column(ForeignKey("volume_types.id"), nullable=False, index=True)
    # The volume service's host and its backend, set when the volume is placed (None until then).
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    backend_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The service row's uuid of the host (3.48's service_uuid).
    service_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # Where the volume came from (at most one).
    source_volid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    backup_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    image_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The source image's properties (Cinder's volume_image_metadata), which boot from volume reads.
    image_metadata: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)
    consistencygroup_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    group_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    encryption_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The driver's own name for the volume and whatever it needs to find it again.
    provider_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    provider_location: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Why the volume is in an error status, for admins (set with the error status, cleared on success).
    fail_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # False for internal volumes that do not count against the project's quota (3.65 consumes_quota).
    use_quota: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class VolumeMetadata(Base):
    __tablename__ = "volume_metadata"

    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), nullable=False)


class VolumeAdminMetadata(Base):
    """Metadata only admins and the services see (e.g. what a failed operation left behind)."""

    __tablename__ = "volume_admin_metadata"

    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), nullable=False)


class VolumeAttachment(Base, TimestampMixin):
    """One attachment of a volume to a server: a row from reserve until the detach completes."""

    __tablename__ = "volume_attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id"), nullable=False, index=True)
    instance_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    # The compute host the connector came from.
    attached_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    mountpoint: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # reserved, attaching, attached, detaching, error_attaching, error_detaching (Cinder's).
    attach_status: Mapped[str] = mapped_column(String(32), nullable=False, default="reserved")
    attach_mode: Mapped[str] = mapped_column(String(4), nullable=False, default="rw")
    connector: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attach_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    detach_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Snapshot(Base, TimestampMixin):
    __tablename__ = "snapshots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id"), nullable=False, index=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # creating, available, deleting, error, error_deleting, backing-up, restoring, unmanaging (Cinder's).
    status: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    progress: Mapped[str] = mapped_column(String(16), nullable=False, default="0%")
    # GiB, the volume's size when the snapshot was taken.
    volume_size: Mapped[int] = mapped_column(Integer, nullable=False)
    volume_type_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    group_snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    provider_location: Mapped[str | None] = mapped_column(String(255), nullable=True)
    fail_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    use_quota: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class SnapshotMetadata(Base):
    __tablename__ = "snapshot_metadata"

    snapshot_id: Mapped[str] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), nullable=False)


class VolumePool(Base):
    """The capacity one volume backend on one host reports (its manager writes it at start and
    periodically; placement reads it)."""

    __tablename__ = "volume_pools"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    backend_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    # GiB; Cinder's pools report floats.
    total_gb: Mapped[float] = mapped_column(Float, nullable=False)
    free_gb: Mapped[float] = mapped_column(Float, nullable=False)
    # Bytes the backend has handed out for volumes (thin provisioning shows here, not in free_gb).
    allocated_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )


class VolumeDefaultType(Base, TimestampMixin):
    """A project's own default volume type (3.62), used before the cloud's when a create names none."""

    __tablename__ = "volume_default_types"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # No cascade: a type that is some project's default cannot be deleted (Cinder's 400).
    volume_type_id: Mapped[str] = mapped_column(ForeignKey("volume_types.id"), nullable=False, index=True)


class GroupType(Base, TimestampMixin):
    """A generic volume group's type (3.11): its group specs tell the backend how to treat the group."""

    __tablename__ = "group_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class GroupTypeSpec(Base):
    __tablename__ = "group_type_specs"

    group_type_id: Mapped[str] = mapped_column(
        ForeignKey("group_types.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), nullable=False)


class VolumeGroup(Base, TimestampMixin):
    """A generic volume group (3.13): volumes of the group's volume types snapshotted together."""

    __tablename__ = "volume_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # creating, available, updating, deleting, error, error_deleting (Cinder's); compare-and-swap only.
    status: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    availability_zone: Mapped[str] = mapped_column(String(255), nullable=False)
    group_type_id: Mapped[str] = mapped_column(ForeignKey("group_types.id"), nullable=False, index=True)
    # Where the group was made from (3.14), at most one.
    group_snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    source_group_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    replication_status: Mapped[str] = mapped_column(String(32), nullable=False, default="disabled")


class VolumeGroupType(Base):
    """A volume type a group's volumes may have."""

    __tablename__ = "volume_group_types"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("volume_groups.id", ondelete="CASCADE"), primary_key=True
    )
    volume_type_id: Mapped[str] = mapped_column(ForeignKey("volume_types.id"), primary_key=True)


class GroupSnapshot(Base, TimestampMixin):
    """A snapshot of every volume of a group taken together (3.14); its snapshots carry its id."""

    __tablename__ = "group_snapshots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("volume_groups.id"), nullable=False, index=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # creating, available, deleting, error, error_deleting (Cinder's); compare-and-swap only.
    status: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    group_type_id: Mapped[str] = mapped_column(String(36), nullable=False)
