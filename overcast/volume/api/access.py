"""Looking rows up as the caller may see them: another project's volume does not exist for a non-admin
(404 in Cinder's words), and a private type only for the projects given access."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.models.volume import (
    GroupSnapshot,
    QosSpecs,
    Volume,
    VolumeAttachment,
    VolumeDefaultType,
    VolumeGroup,
    VolumeType,
    VolumeTypeProject,
)
from overcast.errors import NotFound

DEFAULT_TYPE_NAME = "__DEFAULT__"


def get_volume(session: Session, ctxt: RequestContext, volume_id: str) -> Volume:
    volume = session.get(Volume, volume_id)
    if volume is None or not (ctxt.is_admin or volume.project_id == ctxt.project_id):
        raise NotFound(f"Volume {volume_id} could not be found.")
    return volume


def get_attachment(session: Session, ctxt: RequestContext, attachment_id: str) -> VolumeAttachment:
    attachment = session.get(VolumeAttachment, attachment_id)
    if attachment is not None:
        volume = session.get(Volume, attachment.volume_id)
        if volume is not None and (ctxt.is_admin or volume.project_id == ctxt.project_id):
            return attachment
    raise NotFound(f"Volume attachment could not be found with filter: attachment_id = {attachment_id}.")


def get_group(session: Session, ctxt: RequestContext, group_id: str) -> VolumeGroup:
    group = session.get(VolumeGroup, group_id)
    if group is None or not (ctxt.is_admin or group.project_id == ctxt.project_id):
        raise NotFound(f"Group {group_id} could not be found.")
    return group


def get_group_snapshot(session: Session, ctxt: RequestContext, group_snapshot_id: str) -> GroupSnapshot:
    group_snapshot = session.get(GroupSnapshot, group_snapshot_id)
    if group_snapshot is None or not (ctxt.is_admin or group_snapshot.project_id == ctxt.project_id):
        raise NotFound(f"GroupSnapshot {group_snapshot_id} could not be found.")
    return group_snapshot


def type_visible(session: Session, ctxt: RequestContext, volume_type: VolumeType) -> bool:
    if volume_type.is_public or ctxt.is_admin:
        return True
    return session.get(VolumeTypeProject, (volume_type.id, ctxt.project_id or "")) is not None


def visible_types_clause(ctxt: RequestContext):  # type: ignore[no-untyped-def]
    if ctxt.is_admin:
        return VolumeType.id.is_not(None)
    granted = select(VolumeTypeProject.volume_type_id).where(
        VolumeTypeProject.project_id == (ctxt.project_id or "")
    )
    return or_(VolumeType.is_public.is_(True), VolumeType.id.in_(granted))


def get_type(session: Session, ctxt: RequestContext, name_or_id: str) -> VolumeType:
    """A type by id, else by name (Cinder accepts both where a type is named)."""
    volume_type = session.get(VolumeType, name_or_id)
    if volume_type is None:
        volume_type = session.scalars(select(VolumeType).where(VolumeType.name == name_or_id)).first()
        if volume_type is None or not type_visible(session, ctxt, volume_type):
            raise NotFound(f"Volume type with name {name_or_id} could not be found.")
        return volume_type
    if not type_visible(session, ctxt, volume_type):
        raise NotFound(f"Volume type {name_or_id} could not be found.")
    return volume_type


def default_type(session: Session, project_id: str | None = None) -> VolumeType:
    """The type a volume of `project_id` gets when its create names none: the project's own default
    (3.62) if it has one, else the cloud's."""
    if project_id:
        own = session.get(VolumeDefaultType, project_id)
        if own is not None:
            volume_type = session.get(VolumeType, own.volume_type_id)
            if volume_type is not None:
                return volume_type
    volume_type = session.scalars(select(VolumeType).where(VolumeType.name == DEFAULT_TYPE_NAME)).first()
    if volume_type is None:
        raise NotFound(f"Volume type with name {DEFAULT_TYPE_NAME} could not be found.")
    return volume_type


def get_qos_specs(session: Session, qos_id: str) -> QosSpecs:
    specs = session.get(QosSpecs, qos_id)
    if specs is None:
        raise NotFound(f"QoS Specs {qos_id} could not be found.")
    return specs
