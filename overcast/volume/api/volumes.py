"""Volumes: create (placed on a volume host, quota counted in the same transaction), read, update,
delete, metadata, and the volume actions that are not attachments.

Every status change is a compare-and-swap through overcast.volume.states; the volume host is told
after the transaction that changed the status committed, so it never acts on a change that rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.admission import Admission, admit_everything
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.volume import (
    Snapshot,
    Volume,
    VolumeAttachment,
    VolumeMetadata,
    VolumeType,
    VolumeTypeExtraSpec,
)
from overcast.db.pagination import paginate
from overcast.errors import BadRequest, NotFound
from overcast.image import registry
from overcast.volume import data_records, group_records, policies, quotas, states
from overcast.volume.api import access, scheduling
from overcast.volume.api.records import Record, metadata_of, timestamp, volume_records
from overcast.volume.notifications import VolumeNotifier
from overcast.volume.rpcapi import VolumeHostAPI

GiB = 1024**3
MAX_METADATA_ITEMS = 128
MAX_NAME = 255
# Sort keys Cinder accepts on volume lists, and the model column each names.
SORT_COLUMNS = {
    "id": "id", "name": "name", "size": "size", "status": "status", "created_at": "created_at",
    "updated_at": "updated_at", "availability_zone": "availability_zone", "bootable": "bootable",
    "volume_type": "volume_type_id", "project_id": "project_id", "user_id": "user_id",
}  # fmt: skip
# The filters a volume list honours (GET /resource_filters lists them; `name~` is the like-form of name,
# migration_status an admin's); any other is ignored, as Cinder does for non-admins.
LIST_FILTERS = (
    "id", "name", "status", "availability_zone", "bootable", "size", "volume_type", "volume_type_id",
    "snapshot_id", "source_volid", "group_id", "user_id", "metadata", "migration_status",
)  # fmt: skip


def invalid_volume(message: str) -> BadRequest:
    return BadRequest(f"Invalid volume: {message}")


def check_size(size: Any, *, what: str = "size") -> int:
    if isinstance(size, bool):
        raise BadRequest(f"Invalid input received: {what} {size!r} is not an integer.")
    if isinstance(size, str) and size.strip().lstrip("-").isdigit():
        size = int(size)
    if not isinstance(size, int):
        raise BadRequest(f"Invalid input received: {what} {size!r} is not an integer.")
    if size <= 0 or size > 2**31 - 1:
        raise BadRequest(
            f"Invalid input for field/attribute {what}. Value: {size}. {size} is less than the minimum of 1"
            if size <= 0
            else f"Invalid input for field/attribute {what}. Value: {size}. It is too large."
        )
    return size


def check_metadata(metadata: Any) -> dict[str, str]:
    if not isinstance(metadata, Mapping):
        raise BadRequest("Invalid input received: metadata must be an object of strings.")
    checked: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or len(key) > 255:
            raise BadRequest("Invalid input received: metadata keys must be 1 to 255 characters.")
        if not isinstance(value, str) or len(value) > 255:
            raise BadRequest(
                f"Invalid input received: metadata value of {key} must be a string of at most 255."
            )
        checked[key] = value
    if len(checked) > MAX_METADATA_ITEMS:
        raise BadRequest(f"Invalid input received: more than {MAX_METADATA_ITEMS} metadata items.")
    return checked


def check_text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NAME:
        raise BadRequest(f"Invalid input received: {what} must be a string of at most {MAX_NAME} characters.")
    return value


def strict_bool(value: Any, what: str) -> bool:
    """Cinder's boolean parsing of action bodies (true/false, yes/no, on/off, 1/0)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "on", "1", "y", "t"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "no", "off", "0", "n", "f"}:
        return False
    raise BadRequest(f"Invalid input received: {what} {value!r} is not a boolean.")


@dataclass
class CreateRequest:
    size: int | None
    name: str | None = None
    description: str | None = None
    volume_type: str | None = None
    availability_zone: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    snapshot_id: str | None = None
    source_volid: str | None = None
    image_id: str | None = None
    backup_id: str | None = None
    multiattach: bool = False
    bootable: bool | None = None
    # A generic volume group the new volume joins (3.13): the group's type list must hold its type.
    group_id: str | None = None


@dataclass(frozen=True)
class VolumeSettings:
    default_availability_zone: str = "nova"
    # A volume host that has not reported within this many seconds gets no new volumes.
    service_down_time: float = 60.0


def _joinable_group(session: Session, ctxt: RequestContext, group_id: str, volume_type: VolumeType) -> str:
    """The group a new volume joins: the caller's, available, and made for the volume's type."""
    group = access.get_group(session, ctxt, group_id)
    if not group_records.hold_available(session, group.id):
        raise BadRequest(
            f"Invalid input received: Group {group_id} status must be available, but current status is: "
            f"{group.status}."
        )
    if volume_type.id not in group_records.volume_type_ids(session, group.id):
        raise BadRequest(
            f"Invalid input received: Invalid volume_type provided: {volume_type.id} (requested type must be "
            "supported by this group)."
        )
    return group.id


class Volumes:
    def __init__(
        self,
        db: Database,
        hosts: VolumeHostAPI | None,
        engine: quotas.VolumeQuotaEngine,
        settings: VolumeSettings,
        clock: Callable[[], datetime] = utcnow,
        notifier: VolumeNotifier | None = None,
        *,
        admission: Admission = admit_everything,
    ) -> None:
        self.db = db
        self.hosts = hosts
        self.admission = admission
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.notifier = notifier

    # --- reads ----------------------------------------------------------------------------------------
    def get(self, ctxt: RequestContext, volume_id: str) -> Record:
        with self.db.reader() as session:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.GET, {"project_id": volume.project_id})
            return volume_records(session, [volume])[0]

    def list(
        self,
        ctxt: RequestContext,
        *,
        filters: Mapping[str, Any] | None = None,
        sort: list[tuple[str, str]] | None = None,
        marker: str | None = None,
        limit: int | None = None,
        all_projects: bool = False,
        project_id: str | None = None,
        with_count: bool = False,
    ) -> tuple[list[Record], int | None]:
        policy.enforce(ctxt, policies.GET_ALL, {"project_id": ctxt.project_id})
        stmt = select(Volume)
        # Cinder drops all_tenants for callers who may not use it, rather than refusing the list.
        target = {"project_id": ctxt.project_id}
        all_projects = all_projects and policy.authorize(ctxt, policies.ALL_TENANTS, target)
        if all_projects:
            if project_id:
                stmt = stmt.where(Volume.project_id == project_id)
        else:
            stmt = stmt.where(Volume.project_id == (ctxt.project_id or ""))
        with self.db.reader() as session:
            stmt = self._filtered(session, ctxt, stmt, dict(filters or {}))
            count = session.scalar(select(func.count()).select_from(stmt.subquery())) if with_count else None
            keys = [(SORT_COLUMNS[key], direction) for key, direction in (sort or [("created_at", "desc")])]
            if not any(column == "id" for column, _ in keys):
                keys.append(("id", keys[-1][1] if keys else "desc"))
            page = paginate(stmt, Volume, sort_keys=keys, marker=marker, limit=limit, marker_column="id",
                            session=session)  # fmt: skip
            volumes = list(session.scalars(page))
            return volume_records(session, volumes), count

    @staticmethod
    def _filtered(session: Session, ctxt: RequestContext, stmt: Any, filters: dict[str, Any]) -> Any:
        metadata = filters.pop("metadata", None)
        # Every branch is a key of LIST_FILTERS (or name~); any other falls through: Cinder ignores filters
        # it does not know for non-admins, and so do we.
        for key, value in filters.items():
            if key == "name":
                stmt = stmt.where(Volume.name == value)
            elif key == "name~":
                stmt = stmt.where(Volume.name.contains(value))
            elif key == "status":
                stmt = stmt.where(Volume.status == value)
            elif key == "availability_zone":
                stmt = stmt.where(Volume.availability_zone == value)
            elif key == "bootable":
                stmt = stmt.where(Volume.bootable.is_(strict_bool(value, "bootable")))
            elif key == "size":
                stmt = stmt.where(Volume.size == check_size(value))
            elif key in ("volume_type", "volume_type_id"):
                type_ids = select(VolumeType.id).where((VolumeType.id == value) | (VolumeType.name == value))
                stmt = stmt.where(Volume.volume_type_id.in_(type_ids))
            elif key in ("snapshot_id", "source_volid", "group_id", "user_id", "id"):
                stmt = stmt.where(getattr(Volume, key) == value)
            elif key == "migration_status" and ctxt.is_admin:
                stmt = stmt.where(Volume.migration_status == value)
        if metadata:
            for key, value in check_metadata(metadata).items():
                matching = select(VolumeMetadata.volume_id).where(
                    VolumeMetadata.key == key, VolumeMetadata.value == value
                )
                stmt = stmt.where(Volume.id.in_(matching))
        return stmt

    # --- create ---------------------------------------------------------------------------------------
    def create(self, ctxt: RequestContext, request: CreateRequest) -> Record:
        policy.enforce(ctxt, policies.CREATE, {"project_id": ctxt.project_id})
        if request.image_id:
            policy.enforce(ctxt, policies.CREATE_FROM_IMAGE, {"project_id": ctxt.project_id})
        self.admission(ctxt, "volume")
        sources = [
            s for s in (request.snapshot_id, request.source_volid, request.image_id, request.backup_id) if s
        ]
        if len(sources) > 1:
            raise BadRequest(
                "Invalid input received: only one of snapshot_id, source_volid, imageRef and backup_id may "
                "be given."
            )
        record, host, source = self.db.write(lambda session: self._write_new(session, ctxt, request))
        if host is not None and self.hosts is not None:
            self.hosts.create_volume(ctxt, host, record["id"], source)
        return record

    def _write_new(
        self, session: Session, ctxt: RequestContext, request: CreateRequest
    ) -> tuple[Record, str | None, dict[str, Any]]:
        volume, source = self.write_row(session, ctxt, request)
        return volume_records(session, [volume])[0], volume.host, source

    def write_row(
        self, session: Session, ctxt: RequestContext, request: CreateRequest
    ) -> tuple[Volume, dict[str, Any]]:
        """A new volume's row in the caller's transaction: quota counted and placed (or error when no
        backend fits); the caller casts its host's create_volume with the source after the commit."""
        name = check_text(request.name, "name")
        description = check_text(request.description, "description")
        metadata = check_metadata(request.metadata)
        size, source, inherited_type, bootable, image_metadata = self._source(session, ctxt, request)
        volume_type = (
            access.get_type(session, ctxt, request.volume_type)
            if request.volume_type
            else inherited_type or access.default_type(session, ctxt.project_id)
        )
        group_id = _joinable_group(session, ctxt, request.group_id, volume_type) if request.group_id else None
        zone = request.availability_zone or self.settings.default_availability_zone
        if zone not in scheduling.zones(session):
            raise BadRequest(f"Invalid input received: Availability zone '{zone}' is invalid.")
        extra_specs = dict(
            session.execute(
                select(VolumeTypeExtraSpec.key, VolumeTypeExtraSpec.value).where(
                    VolumeTypeExtraSpec.volume_type_id == volume_type.id
                )
            ).all()
        )
        multiattach = request.multiattach or extra_specs.get("multiattach", "") == "<is> True"
        volume = Volume(
            id=str(uuid.uuid4()), project_id=ctxt.project_id or "", user_id=ctxt.user_id or "", name=name,
            description=description, size=size, status=states.CREATING, attach_status=states.DETACHED,
            bootable=bootable if request.bootable is None else request.bootable, multiattach=multiattach,
            availability_zone=zone, volume_type_id=volume_type.id, snapshot_id=request.snapshot_id,
            source_volid=request.source_volid, image_id=request.image_id, backup_id=request.backup_id,
            image_metadata=image_metadata, use_quota=True, group_id=group_id,
        )  # fmt: skip
        quotas.consume_volume(session, self.engine, volume, volume_type.name)
        parent = self._parent(session, source)
        placement = scheduling.place(
            session, size_gb=size, availability_zone=zone,
            backend_name=parent.backend_name if parent else extra_specs.get(scheduling.BACKEND_NAME_SPEC),
            now=self.clock, down_time=self.settings.service_down_time,
            only_host=parent.host if parent else None,
        )  # fmt: skip
        if placement is None:
            volume.status = states.ERROR
            volume.fail_reason = scheduling.NO_VALID_BACKEND
            if request.backup_id:
                data_records.end_restore(session, request.backup_id)
        else:
            volume.host = placement.host
            volume.backend_name = placement.backend_name
            volume.service_uuid = placement.service_uuid
            volume.scheduled_at = utcnow()
        session.add(volume)
        for key, value in metadata.items():
            session.add(VolumeMetadata(volume_id=volume.id, key=key, value=value))
        session.flush()
        return volume, source

    @staticmethod
    def _parent(session: Session, source: Mapping[str, Any]) -> Volume | None:
        """The volume whose storage a new volume is copied from (a snapshot's volume, or the source
        volume): the new one must be made on the same host."""
        if source.get("source_volid"):
            return session.get(Volume, source["source_volid"])
        if source.get("snapshot_id"):
            snapshot = session.get(Snapshot, source["snapshot_id"])
            return session.get(Volume, snapshot.volume_id) if snapshot else None
        return None

    def _source(
        self, session: Session, ctxt: RequestContext, request: CreateRequest
    ) -> tuple[int, dict[str, Any], VolumeType | None, bool, dict[str, str]]:
        """The size (given, or the source's), the manager's source, the type the source implies, whether
        the new volume is bootable, and the image metadata it carries."""
        size = check_size(request.size) if request.size is not None else None
        if request.snapshot_id:
            snapshot = session.get(Snapshot, request.snapshot_id)
            if snapshot is None or not (ctxt.is_admin or snapshot.project_id == ctxt.project_id):
                raise NotFound(f"Snapshot {request.snapshot_id} could not be found.")
            if snapshot.status != states.SNAPSHOT_AVAILABLE:
                raise BadRequest(
                    "Invalid snapshot: Originating snapshot status must be one of 'available' values"
                )
            parent = session.get(Volume, snapshot.volume_id)
            size = size if size is not None else snapshot.volume_size
            if size < snapshot.volume_size:
                raise BadRequest(
                    f"Invalid input received: Volume size '{size}'GB cannot be smaller than the snapshot "
                    f"size {snapshot.volume_size}GB. They must be >= original snapshot size."
                )
            parent_type = session.get(VolumeType, parent.volume_type_id) if parent else None
            return (
                size,
                {"snapshot_id": snapshot.id},
                parent_type,
                bool(parent and parent.bootable),
                dict(parent.image_metadata if parent else {}),
            )
        if request.source_volid:
            source = access.get_volume(session, ctxt, request.source_volid)
            if source.status not in (states.AVAILABLE, states.IN_USE):
                raise invalid_volume("Source volume status must be available or in-use.")
            size = size if size is not None else source.size
            if size < source.size:
                raise BadRequest(
                    f"Invalid input received: Volume size '{size}'GB cannot be smaller than original volume "
                    f"size {source.size}GB. They must be >= original volume size."
                )
            return (
                size,
                {"source_volid": source.id},
                session.get(VolumeType, source.volume_type_id),
                (source.bootable),
                dict(source.image_metadata),
            )
        if request.image_id:
            image = registry.get_visible(session, ctxt, request.image_id)
            if image.status != "active":
                raise BadRequest("Invalid image identifier or unable to access requested image.")
            needed = max(image.min_disk, -(-(image.virtual_size or image.size or 0) // GiB))
            size = size if size is not None else max(needed, 1)
            if size < needed:
                raise BadRequest(
                    f"Invalid input received: Image minDisk size {needed} is larger than the volume size "
                    f"{size}."
                )
            properties = registry.boot_properties(session, image.id)
            image_metadata = {
                "image_id": image.id, "image_name": image.name or "",
                "checksum": str(properties.get("checksum") or ""),
                "container_format": image.container_format or "", "disk_format": image.disk_format or "",
                "min_disk": str(image.min_disk), "min_ram": str(image.min_ram), "size": str(image.size or 0),
                **{key: str(value) for key, value in image.properties.items()},
            }  # fmt: skip
            return size, {"image_id": image.id}, None, True, image_metadata
        if request.backup_id:
            # The backup goes restoring in this transaction; the volume host restores it into the volume.
            size = data_records.volume_source(session, ctxt, request.backup_id, size)
            return size, {"backup_id": request.backup_id}, None, False, {}
        if size is None:
            raise BadRequest("Invalid input received: size is required.")
        return size, {}, None, False, {}

    # --- update and metadata -----------------------------------------------------------------------------
    def update(self, ctxt: RequestContext, volume_id: str, changes: Mapping[str, Any]) -> Record:
        def write(session: Session) -> Record:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.UPDATE, {"project_id": volume.project_id})
            if "name" in changes:
                volume.name = check_text(changes["name"], "name")
            if "description" in changes:
                volume.description = check_text(changes["description"], "description")
            if "metadata" in changes:
                self._replace_metadata(session, volume.id, check_metadata(changes["metadata"]))
            volume.updated_at = utcnow()
            session.flush()
            return volume_records(session, [volume])[0]

        return self.db.write(write)

    def metadata(self, ctxt: RequestContext, volume_id: str) -> dict[str, str]:
        with self.db.reader() as session:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.METADATA_GET, {"project_id": volume.project_id})
            return metadata_of(session, [volume.id])[volume.id]

    def set_metadata(
        self, ctxt: RequestContext, volume_id: str, metadata: Any, *, replace: bool
    ) -> dict[str, str]:
        """POST .../metadata merges, PUT .../metadata replaces."""
        checked = check_metadata(metadata)

        def write(session: Session) -> dict[str, str]:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.METADATA_UPDATE, {"project_id": volume.project_id})
            current = {} if replace else metadata_of(session, [volume.id])[volume.id]
            merged = {**current, **checked}
            check_metadata(merged)
            self._replace_metadata(session, volume.id, merged)
            return merged

        return self.db.write(write)

    def set_metadata_item(self, ctxt: RequestContext, volume_id: str, key: str, value: Any) -> dict[str, str]:
        checked = check_metadata({key: value})

        def write(session: Session) -> dict[str, str]:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.METADATA_UPDATE, {"project_id": volume.project_id})
            merged = {**metadata_of(session, [volume.id])[volume.id], **checked}
            check_metadata(merged)
            self._replace_metadata(session, volume.id, merged)
            return checked

        return self.db.write(write)

    def delete_metadata_item(self, ctxt: RequestContext, volume_id: str, key: str) -> None:
        def write(session: Session) -> None:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.METADATA_DELETE, {"project_id": volume.project_id})
            row = session.get(VolumeMetadata, (volume.id, key))
            if row is None:
                raise NotFound(f"Volume {volume_id} has no metadata with key {key}.")
            session.delete(row)

        self.db.write(write)

    @staticmethod
    def _replace_metadata(session: Session, volume_id: str, metadata: Mapping[str, str]) -> None:
        session.execute(delete(VolumeMetadata).where(VolumeMetadata.volume_id == volume_id))
        for key, value in metadata.items():
            session.add(VolumeMetadata(volume_id=volume_id, key=key, value=value))
        session.flush()

    # --- delete ---------------------------------------------------------------------------------------
    def delete(
        self, ctxt: RequestContext, volume_id: str, *, cascade: bool = False, force: bool = False
    ) -> None:
        def write(session: Session) -> tuple[str | None, str]:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.FORCE_DELETE if force else policies.DELETE,
                           {"project_id": volume.project_id})  # fmt: skip
            attached = session.scalar(
                select(func.count())
                .select_from(VolumeAttachment)
                .where(VolumeAttachment.volume_id == volume.id)
            )
            # A group's volume goes with the group (delete-volumes) or after leaving it (remove_volumes).
            if attached or volume.group_id is not None:
                raise invalid_volume("Volume status must be available or error or error_restoring or "
                                     "error_extending or error_managing and must not be migrating, attached, "
                                     "belong to a group, have snapshots, awaiting a transfer, or be "
                                     "disassociated from snapshots after volume transfer.")  # fmt: skip
            snapshots = session.scalar(
                select(func.count()).select_from(Snapshot).where(Snapshot.volume_id == volume.id)
            )
            if snapshots and not cascade:
                raise invalid_volume(f"Volume still has {snapshots} dependent snapshots.")
            if snapshots:
                data_records.start_cascade(session, volume.id)
            action = states.ACTIONS["force_delete" if force else "delete"]
            if volume.status not in action.expected or not states.change_status(
                session, volume.id, action.expected, states.DELETING, previous_status=volume.status
            ):
                raise invalid_volume(
                    "Volume status must be available or error or error_restoring or error_extending or "
                    "error_managing and must not be migrating, attached, belong to a group, have snapshots, "
                    "awaiting a transfer, or be disassociated from snapshots after volume transfer."
                )
            if volume.host is None:
                # Never placed: there is no storage to remove, so the row and its quota go now.
                quotas.release_volume(session, volume, self.engine)
                session.delete(volume)
            return volume.host, volume.id

        host, deleted_id = self.db.write(write)
        if host is not None and self.hosts is not None:
            self.hosts.delete_volume(ctxt, host, deleted_id)

    # --- actions --------------------------------------------------------------------------------------
    def extend(self, ctxt: RequestContext, volume_id: str, new_size: Any, *, attached_ok: bool) -> None:
        size = check_size(new_size, what="new_size")

        def write(session: Session) -> tuple[str | None, int]:
            volume = access.get_volume(session, ctxt, volume_id)
            attached = volume.status == states.IN_USE
            policy.enforce(ctxt, policies.EXTEND_ATTACHED if attached else policies.EXTEND,
                           {"project_id": volume.project_id})  # fmt: skip
            action = "extend_attached" if attached and attached_ok else "extend"
            if volume.status not in states.ACTIONS[action].expected:
                wanted = "'available' or 'in-use'" if attached_ok else "'available'"
                raise invalid_volume(f"Volume status must be {wanted} to extend, currently {volume.status}.")
            if size <= volume.size:
                raise invalid_volume(
                    f"New size for extend must be greater than current size. (current: {volume.size}, "
                    f"extended: {size})."
                )
            if volume.host is None:
                raise invalid_volume("Volume has no host to extend it on.")
            type_name = access.get_type(session, RequestContext.admin(), volume.volume_type_id).name
            grown = size - volume.size
            try:
                self.engine.consume(session, volume.project_id,
                                    {"gigabytes": grown, f"gigabytes_{type_name}": grown})  # fmt: skip
            except quotas.QuotaExceeded as exceeded:
                raise quotas.quota_error(exceeded, grown) from None
            if not states.start(session, volume.id, action):
                raise invalid_volume(f"Volume status must be available to extend, currently {volume.status}.")
            return volume.host, size

        host, size = self.db.write(write)
        if host is not None and self.hosts is not None:
            self.hosts.extend_volume(ctxt, host, volume_id, size)

    def reimage(self, ctxt: RequestContext, volume_id: str, image_id: Any, *, reimage_reserved: Any) -> None:
        """os-reimage (3.68): write an image over the volume's data. `reimage_reserved` also takes a volume
        compute has reserved for a server it rebuilds."""
        if not isinstance(image_id, str) or not image_id:
            raise BadRequest("Invalid input for field/attribute image_id: it must be a non-empty string.")
        reserved_ok = strict_bool(reimage_reserved, "reimage_reserved")
        action = "reimage_reserved" if reserved_ok else "reimage"

        def write(session: Session) -> str | None:
            volume = access.get_volume(session, ctxt, volume_id)
            rule = policies.REIMAGE_RESERVED if reserved_ok else policies.REIMAGE
            policy.enforce(ctxt, rule, {"project_id": volume.project_id})
            image = registry.get_visible(session, ctxt, image_id)
            if image.status != "active":
                raise BadRequest("Invalid image identifier or unable to access requested image.")
            needed = max(image.min_disk, -(-(image.virtual_size or image.size or 0) // GiB))
            if needed > volume.size:
                raise BadRequest(
                    f"Invalid input received: Image {image.id} needs {needed} GB, more than the volume's "
                    f"size {volume.size} GB."
                )
            if not states.start(session, volume.id, action):
                wanted = "'available', 'error' or 'reserved'" if reserved_ok else "'available' or 'error'"
                raise invalid_volume(f"Volume status must be {wanted} to reimage, currently {volume.status}.")
            return volume.host

        host = self.db.write(write)
        if host is not None and self.hosts is not None:
            self.hosts.reimage_volume(ctxt, host, volume_id, image_id)

    def reset_status(self, ctxt: RequestContext, volume_id: str, body: Mapping[str, Any]) -> None:
        """os-reset_status (admin): set status, attach_status and migration_status without checks."""
        status = body.get("status")
        attach_status = body.get("attach_status")
        migration_status = body.get("migration_status")
        if status is None and attach_status is None and migration_status is None:
            raise BadRequest("Must specify 'status', 'attach_status' or 'migration_status' for update.")
        if status is not None and status not in states.VOLUME_STATUSES:
            raise BadRequest(f"Invalid input received: Must specify a valid status, got {status!r}.")
        if attach_status is not None and attach_status not in (states.ATTACHED, states.DETACHED):
            raise BadRequest(
                f"Invalid input received: Must specify a valid attach status, got {attach_status!r}."
            )

        def write(session: Session) -> None:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.RESET_STATUS, {"project_id": volume.project_id})
            if status is not None:
                volume.previous_status = volume.status
                volume.status = status
            if attach_status is not None:
                volume.attach_status = attach_status
            if migration_status is not None:
                volume.migration_status = None if migration_status == "none" else str(migration_status)
            volume.updated_at = utcnow()

        self.db.write(write)

    def set_bootable(self, ctxt: RequestContext, volume_id: str, bootable: Any) -> None:
        flag = strict_bool(bootable, "bootable")

        def write(session: Session) -> None:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.SET_BOOTABLE, {"project_id": volume.project_id})
            volume.bootable = flag
            volume.updated_at = utcnow()

        self.db.write(write)

    def image_metadata(self, ctxt: RequestContext, volume_id: str) -> dict[str, str]:
        """os-show_image_metadata: the image properties the volume carries (Cinder's glance metadata)."""
        with self.db.reader() as session:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.IMAGE_METADATA_SHOW, {"project_id": volume.project_id})
            return dict(volume.image_metadata)

    def set_image_metadata(self, ctxt: RequestContext, volume_id: str, metadata: Any) -> dict[str, str]:
        """os-set_image_metadata: merge keys into the volume's image metadata (what boot from volume
        reads as the image's properties)."""
        checked = check_metadata(metadata)

        def write(session: Session) -> dict[str, str]:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.IMAGE_METADATA_SET, {"project_id": volume.project_id})
            volume.image_metadata = {**volume.image_metadata, **checked}
            volume.updated_at = utcnow()
            return dict(volume.image_metadata)

        return self.db.write(write)

    def unset_image_metadata(self, ctxt: RequestContext, volume_id: str, key: Any) -> None:
        if not isinstance(key, str) or not key:
            raise BadRequest("Invalid input received: key must be a non-empty string.")

        def write(session: Session) -> None:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.IMAGE_METADATA_REMOVE, {"project_id": volume.project_id})
            if key not in volume.image_metadata:
                raise NotFound(f"Glance metadata for volume {volume_id} with key {key} could not be found.")
            volume.image_metadata = {k: v for k, v in volume.image_metadata.items() if k != key}
            volume.updated_at = utcnow()

        self.db.write(write)

    def update_readonly(self, ctxt: RequestContext, volume_id: str, readonly: Any) -> None:
        flag = strict_bool(readonly, "readonly")

        def write(session: Session) -> None:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.UPDATE_READONLY, {"project_id": volume.project_id})
            if volume.status not in states.ACTIONS["update_readonly"].expected:
                raise invalid_volume("Volume status must be available to update readonly flag.")
            volume.readonly = flag
            volume.updated_at = utcnow()

        self.db.write(write)

    def retype(self, ctxt: RequestContext, volume_id: str, new_type: Any, policy_name: Any) -> None:
        """os-retype: our backends hold every type's volumes alike, so a retype that keeps the backend
        (the new type names none, or the volume's) changes the type in place; migration_policy
        `on-demand` is accepted but there is nothing to migrate."""
        if not isinstance(new_type, str) or not new_type:
            raise BadRequest("Invalid input received: new_type must be a volume type name or id.")
        if policy_name not in (None, "never", "on-demand"):
            raise BadRequest("Invalid input received: migration_policy must be never or on-demand.")

        def write(session: Session) -> None:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.RETYPE, {"project_id": volume.project_id})
            target = access.get_type(session, ctxt, new_type)
            if target.id == volume.volume_type_id:
                raise invalid_volume("Retype requires a different volume type.")
            if volume.status not in states.ACTIONS["retype"].expected:
                raise invalid_volume(f"Volume status must be available or in-use, currently {volume.status}.")
            backend = session.get(VolumeTypeExtraSpec, (target.id, scheduling.BACKEND_NAME_SPEC))
            if backend is not None and volume.backend_name and backend.value != volume.backend_name:
                raise invalid_volume(
                    "Retype to a type on another backend needs a migration, which Overcast does not do."
                )
            old_name = access.get_type(session, RequestContext.admin(), volume.volume_type_id).name
            try:
                wanted = {f"volumes_{target.name}": 1, f"gigabytes_{target.name}": volume.size}
                self.engine.consume(session, volume.project_id, wanted)
            except quotas.QuotaExceeded as exceeded:
                raise quotas.quota_error(exceeded, volume.size) from None
            self.engine.release(session, volume.project_id,
                                {f"volumes_{old_name}": 1, f"gigabytes_{old_name}": volume.size})  # fmt: skip
            if not states.change_status(session, volume.id, {volume.status}, volume.status,
                                        volume_type_id=target.id):  # fmt: skip
                raise invalid_volume("Volume status changed during retype.")

        self.db.write(write)
        if self.notifier is not None:  # Cinder's volume.retype: the new type is billed from now on
            self.notifier.current(ctxt, "volume", volume_id, "retype")

    def upload_to_image(
        self, ctxt: RequestContext, volume_id: str, body: Mapping[str, Any], images_quota: Any
    ) -> Record:
        """os-volume_upload_image: a queued image in the image service, filled by the volume host."""
        image_name = body.get("image_name")
        if not isinstance(image_name, str) or not image_name:
            raise BadRequest("Invalid input received: image_name must be a non-empty string.")
        force = strict_bool(body.get("force", False), "force")
        disk_format = body.get("disk_format", "raw")
        container_format = body.get("container_format", "bare")
        if disk_format not in ("raw", "qcow2"):
            raise BadRequest(f"Invalid input received: disk_format {disk_format!r} is not one of raw, qcow2.")
        if container_format != "bare":
            raise BadRequest(f"Invalid input received: container_format {container_format!r} is not bare.")
        visibility = body.get("visibility", "private")
        if visibility not in ("private", "public", "shared", "community"):
            raise BadRequest(f"Invalid input received: visibility {visibility!r}.")
        protected = strict_bool(body.get("protected", False), "protected")

        def write(session: Session) -> tuple[Record, str | None]:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.UPLOAD_IMAGE, {"project_id": volume.project_id})
            if volume.status == states.IN_USE and not force:
                raise invalid_volume("Volume status must be available, or in-use with force, to upload.")
            action = "upload_to_image_force" if force else "upload_to_image"
            if images_quota is not None:
                images_quota.consume(session, volume.project_id, {"images": 1})
            image = registry.add_queued(
                session, name=image_name, owner=volume.project_id, min_disk=volume.size,
                properties=uploaded_image_properties(volume),
            )  # fmt: skip
            image.visibility = visibility
            image.protected = protected
            registry.describe_queued(session, image.id, disk_format, container_format)
            if not states.start(session, volume.id, action):
                raise invalid_volume(f"Volume status must be available, currently {volume.status}.")
            return {
                "id": volume.id,
                "updated_at": timestamp(volume.updated_at),
                "status": states.UPLOADING,
                "display_description": volume.description,
                "size": volume.size,
                "volume_type": access.get_type(session, RequestContext.admin(), volume.volume_type_id).name,
                "image_id": image.id,
                "container_format": container_format,
                "disk_format": disk_format,
                "image_name": image_name,
                "protected": protected,
                "visibility": visibility,
            }, volume.host

        record, host = self.db.write(write)
        if host is not None and self.hosts is not None:
            self.hosts.copy_volume_to_image(ctxt, host, volume_id, record["image_id"])
        return record


# The source image's attributes a volume carries that describe that image's data, not the upload's.
NOT_UPLOADED = frozenset({
    "image_id", "image_name", "checksum", "container_format", "disk_format", "min_disk", "min_ram", "size",
})  # fmt: skip


def uploaded_image_properties(volume: Volume) -> dict[str, str]:
    """An uploaded volume's image inherits the properties the volume got from its image (Cinder's)."""
    return {key: value for key, value in volume.image_metadata.items() if key not in NOT_UPLOADED}
