"""Compute tables: flavors, instances and their faults, key pairs, compute nodes."""

from __future__ import annotations

import uuid as uuid_lib
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin, utcnow
from overcast.db.types import UTCDateTime


def _new_uuid() -> str:
    return str(uuid_lib.uuid4())


class Flavor(Base, TimestampMixin):
    __tablename__ = "flavors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The API's flavor id (a string: "1", "m1.tiny" or a uuid); `id` stays internal.
    flavorid: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    vcpus: Mapped[int] = mapped_column(Integer, nullable=False)
    memory_mb: Mapped[int] = mapped_column(Integer, nullable=False)
    root_gb: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    swap: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rxtx_factor: Mapped[float] = mapped_column(Float, nullable=False, default=1.0)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    extra_specs: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)


class Instance(Base, TimestampMixin):
    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_project_id_deleted", "project_id", "deleted"),
        Index("ix_instances_host_deleted", "host", "deleted"),
        Index("ix_instances_vm_state_deleted", "vm_state", "deleted"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False, default=_new_uuid)
    display_name: Mapped[str] = mapped_column(String(255), nullable=False)
    hostname: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    project_id: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    image_ref: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    # The flavor as it was at boot (a flavor may be deleted while instances still use it).
    flavor_id: Mapped[str] = mapped_column(String(255), nullable=False)
    vcpus: Mapped[int] = mapped_column(Integer, nullable=False)
    memory_mb: Mapped[int] = mapped_column(Integer, nullable=False)
    root_gb: Mapped[int] = mapped_column(Integer, nullable=False)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    vm_state: Mapped[str] = mapped_column(String(255), nullable=False)
    task_state: Mapped[str | None] = mapped_column(String(255), nullable=True)
    power_state: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    node: Mapped[str | None] = mapped_column(String(255), nullable=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    key_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    metadata_items: Mapped[dict[str, str]] = mapped_column("metadata", JSON, nullable=False, default=dict)
    security_groups: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    disk_config: Mapped[str] = mapped_column(String(16), nullable=False, default="MANUAL")
    config_drive: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    access_ip_v4: Mapped[str | None] = mapped_column(String(39), nullable=True)
    access_ip_v6: Mapped[str | None] = mapped_column(String(39), nullable=True)
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Compute API 2.19 (the server's description) and 2.3 (the image's kernel and ramdisk at boot).
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    kernel_id: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    ramdisk_id: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    # The passthrough devices this instance holds on its node, as its claim took them:
    # [{kind, vendor_id, product_id, model, count}] (overcast.placement.devices.held_json).
    devices: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    reservation_id: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    launch_index: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # While it builds: the conductor that took the build (its start-up fails the ones a crash left behind)
    # and the last sign of life of a spawn in progress (compute/build_progress.py).
    build_conductor: Mapped[str | None] = mapped_column(String(255), nullable=True)
    build_progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    def __repr__(self) -> str:
        return f"<Instance {self.uuid} {self.vm_state}/{self.task_state} host={self.host!r}>"

    @property
    def instance_name(self) -> str:
        """The hypervisor-side name (Nova's instance_name_template 'instance-%08x')."""
        return f"instance-{self.id:08x}"


class InstanceFault(Base):
    __tablename__ = "instance_faults"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_uuid: Mapped[str] = mapped_column(
        ForeignKey("instances.uuid", ondelete="CASCADE"), nullable=False, index=True
    )
    code: Mapped[int] = mapped_column(Integer, nullable=False)
    message: Mapped[str] = mapped_column(String(255), nullable=False)
    details: Mapped[str] = mapped_column(Text, nullable=False, default="")
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class KeyPair(Base, TimestampMixin):
    __tablename__ = "key_pairs"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str] = mapped_column(String(64), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(255), nullable=False)
    public_key: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False, default="ssh")


class ComputeNode(Base, TimestampMixin):
    """One hypervisor's capacity (reported by its resource tracker) and what is claimed on it."""

    __tablename__ = "compute_nodes"
    __table_args__ = (UniqueConstraint("host", "hypervisor_hostname"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False, default=_new_uuid)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    hypervisor_hostname: Mapped[str] = mapped_column(String(255), nullable=False)
    hypervisor_type: Mapped[str] = mapped_column(String(255), nullable=False)
    hypervisor_version: Mapped[int] = mapped_column(Integer, nullable=False)
    cpu_info: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # Passthrough devices (GPUs, PCI) as the driver reports them, with how many are claimed:
    # [{kind, vendor_id, product_id, model, count, used}].
    devices: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    # Bumped by every write of `devices`: a device claim is a compare-and-swap on it (a JSON column
    # cannot be compared portably), in the same UPDATE that checks vCPUs, RAM and disk.
    device_generation: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    vcpus: Mapped[int] = mapped_column(Integer, nullable=False)
    memory_mb: Mapped[int] = mapped_column(Integer, nullable=False)
    local_gb: Mapped[int] = mapped_column(Integer, nullable=False)
    vcpus_used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    memory_mb_used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    local_gb_used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    running_vms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cpu_allocation_ratio: Mapped[float] = mapped_column(Float, nullable=False, default=16.0)
    ram_allocation_ratio: Mapped[float] = mapped_column(Float, nullable=False, default=1.5)
    disk_allocation_ratio: Mapped[float] = mapped_column(Float, nullable=False, default=1.0)
