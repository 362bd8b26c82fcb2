"""Rows as Cinder represents them. Records carry every attribute; the router drops those the request's
microversion or the caller's role does not show."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.volume import (
    Volume,
    VolumeAttachment,
    VolumeMetadata,
    VolumeType,
    VolumeTypeExtraSpec,
)
from overcast.volume import states

Record = dict[str, Any]


def timestamp(moment: datetime | None) -> str | None:
    """Cinder's spelling: naive UTC with microseconds."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def metadata_of(session: Session, volume_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {volume_id: {} for volume_id in volume_ids}
    if volume_ids:
        query = select(VolumeMetadata).where(VolumeMetadata.volume_id.in_(list(volume_ids)))
        for row in session.scalars(query):
            found[row.volume_id][row.key] = row.value
    return found


def attachments_of(session: Session, volume_ids: Sequence[str]) -> dict[str, list[VolumeAttachment]]:
    found: dict[str, list[VolumeAttachment]] = {volume_id: [] for volume_id in volume_ids}
    if volume_ids:
        query = (
            select(VolumeAttachment)
            .where(VolumeAttachment.volume_id.in_(list(volume_ids)))
            .order_by(VolumeAttachment.created_at, VolumeAttachment.id)
        )
        for row in session.scalars(query):
            found[row.volume_id].append(row)
    return found


def volume_attachment_summary(attachment: VolumeAttachment) -> Record:
    """One entry of a volume's `attachments` list (attached ones only, as Cinder shows)."""
    return {
        "id": attachment.volume_id,
        "attachment_id": attachment.id,
        "volume_id": attachment.volume_id,
        "server_id": attachment.instance_uuid,
        "host_name": attachment.attached_host,
        "device": attachment.mountpoint,
        "attached_at": timestamp(attachment.attach_time),
    }


def volume_records(session: Session, volumes: Sequence[Volume]) -> list[Record]:
    ids = [volume.id for volume in volumes]
    metadata = metadata_of(session, ids)
    attachments = attachments_of(session, ids)
    type_ids = {volume.volume_type_id for volume in volumes}
    type_names = (
        dict(session.execute(select(VolumeType.id, VolumeType.name).where(VolumeType.id.in_(type_ids))).all())
        if type_ids
        else {}
    )
    return [
        volume_record(
            volume, metadata[volume.id], attachments[volume.id], type_names.get(volume.volume_type_id)
        )
        for volume in volumes
    ]


def volume_record(
    volume: Volume,
    metadata: dict[str, str],
    attachments: list[VolumeAttachment],
    type_name: str | None,
) -> Record:
    attached = [a for a in attachments if a.attach_status == states.ATTACHED]
    record: Record = {
        "id": volume.id,
        "name": volume.name,
        "description": volume.description,
        "size": volume.size,
        "status": volume.status,
        "availability_zone": volume.availability_zone,
        "created_at": timestamp(volume.created_at),
        "updated_at": timestamp(volume.updated_at),
        "attachments": [volume_attachment_summary(a) for a in attached],
        "bootable": "true" if volume.bootable else "false",
        "encrypted": False,
        "metadata": dict(metadata),
        "multiattach": volume.multiattach,
        "replication_status": volume.replication_status,
        "snapshot_id": volume.snapshot_id,
        "source_volid": volume.source_volid,
        "user_id": volume.user_id,
        "volume_type": type_name,
        "consistencygroup_id": volume.consistencygroup_id,
        "os-vol-tenant-attr:tenant_id": volume.project_id,
        # Admin-only attributes (the router drops them for others).
        "os-vol-host-attr:host": f"{volume.host}@{volume.backend_name}#{volume.backend_name}"
        if volume.host
        else None,
        "os-vol-mig-status-attr:migstat": volume.migration_status,
        "os-vol-mig-status-attr:name_id": None,
        "migration_status": volume.migration_status,
        # Per microversion (the router drops them below their version).
        "group_id": volume.group_id,
        "provider_id": volume.provider_id,
        "service_uuid": volume.service_uuid,
        "shared_targets": False,
        "cluster_name": None,
        "volume_type_id": volume.volume_type_id,
        "encryption_key_id": volume.encryption_key_id,
        "consumes_quota": volume.use_quota,
    }
    if volume.image_metadata:
        record["volume_image_metadata"] = dict(volume.image_metadata)
    # What the services and compute read, never shown (the router drops underscored keys).
    record["_project_id"] = volume.project_id
    record["_host"] = volume.host
    record["_attach_status"] = volume.attach_status
    record["_readonly"] = volume.readonly
    record["_fail_reason"] = volume.fail_reason
    record["_image_id"] = volume.image_id
    return record


def extra_specs_of(session: Session, type_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {type_id: {} for type_id in type_ids}
    if type_ids:
        query = select(VolumeTypeExtraSpec).where(VolumeTypeExtraSpec.volume_type_id.in_(list(type_ids)))
        for row in session.scalars(query):
            found[row.volume_type_id][row.key] = row.value
    return found


def type_record(volume_type: VolumeType, extra_specs: dict[str, str]) -> Record:
    return {
        "id": volume_type.id,
        "name": volume_type.name,
        "description": volume_type.description,
        "is_public": volume_type.is_public,
        "os-volume-type-access:is_public": volume_type.is_public,
        "extra_specs": dict(extra_specs),
        "qos_specs_id": volume_type.qos_specs_id,
    }


def attachment_record(attachment: VolumeAttachment) -> Record:
    """Cinder's attachment view (3.27+); connection_info only while connected."""
    return {
        "id": attachment.id,
        "volume_id": attachment.volume_id,
        "instance": attachment.instance_uuid,
        "attached_at": timestamp(attachment.attach_time),
        "detached_at": timestamp(attachment.detach_time),
        "status": attachment.attach_status,
        "attach_mode": attachment.attach_mode,
        "connection_info": attachment.connection_info,
        "connector": attachment.connector,
        "host": attachment.attached_host,
        "mountpoint": attachment.mountpoint,
    }
