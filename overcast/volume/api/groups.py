"""Generic volume groups (3.13): a project's volumes of the group's volume types, kept together so that
they can be snapshotted together (group_snapshots.py). Creating or updating a group needs no storage
work here (Cinder's generic groups on a backend without group support), so those end in the API's own
transaction; deleting a group with its volumes deletes each volume on its host, and the group's row goes
with the last one. The `groups` quota is counted in the create's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.volume import (
    GroupSnapshot,
    Snapshot,
    Volume,
    VolumeGroup,
    VolumeGroupType,
    VolumeType,
)
from overcast.errors import BadRequest, QuotaExceeded, RequestTooLarge
from overcast.volume import group_records, policies, quotas, states
from overcast.volume.api import access, scheduling
from overcast.volume.api.group_types import visible_group_type
from overcast.volume.api.records import Record, timestamp
from overcast.volume.api.snapshots import ListOptions, read_page, scoped_query
from overcast.volume.api.volumes import CreateRequest, Volumes, VolumeSettings, check_text
from overcast.volume.rpcapi import VolumeHostAPI

SORT_COLUMNS = {key: key for key in ("id", "name", "status", "created_at", "updated_at", "availability_zone")}
EXACT_FILTERS = ("name", "status", "id", "availability_zone")
# What a volume joining or leaving a group may be doing (Cinder's).
JOINABLE = frozenset({states.AVAILABLE, states.IN_USE})
REMOVABLE = frozenset({states.AVAILABLE, states.IN_USE, states.ERROR, states.ERROR_DELETING})
DELETABLE = frozenset({group_records.GROUP_AVAILABLE, group_records.GROUP_ERROR})


def invalid_group(message: str) -> BadRequest:
    return BadRequest(f"Invalid group: {message}")


def group_records_of(session: Session, groups: list[VolumeGroup]) -> list[Record]:
    ids = [group.id for group in groups]
    types: dict[str, list[str]] = {group_id: [] for group_id in ids}
    members: dict[str, list[str]] = {group_id: [] for group_id in ids}
    if ids:
        query = (
            select(VolumeGroupType)
            .where(VolumeGroupType.group_id.in_(ids))
            .order_by(VolumeGroupType.volume_type_id)
        )
        for row in session.scalars(query):
            types[row.group_id].append(row.volume_type_id)
        for volume_id, group_id in session.execute(
            select(Volume.id, Volume.group_id)
            .where(Volume.group_id.in_(ids))
            .order_by(Volume.created_at, Volume.id)
        ):
            members[str(group_id)].append(volume_id)
    return [
        {
            "id": group.id,
            "name": group.name,
            "description": group.description,
            "status": group.status,
            "availability_zone": group.availability_zone,
            "created_at": timestamp(group.created_at),
            "group_type": group.group_type_id,
            "volume_types": types[group.id],
            "group_snapshot_id": group.group_snapshot_id,
            "source_group_id": group.source_group_id,
            "replication_status": group.replication_status,
            "project_id": group.project_id,
            "volumes": members[group.id],
        }
        for group in groups
    ]


def _volume_ids(value: Any, what: str) -> list[str]:
    """Cinder's comma-separated id list ("id1,id2"); empty means none."""
    if value is None:
        return []
    if not isinstance(value, str):
        raise BadRequest(f"Invalid input received: {what} must be a comma-separated string of volume ids.")
    return [item.strip() for item in value.split(",") if item.strip()]


class Groups:
    def __init__(
        self,
        db: Database,
        hosts: VolumeHostAPI | None,
        engine: quotas.VolumeQuotaEngine,
        settings: VolumeSettings,
        volumes: Volumes,
    ) -> None:
        """`volumes` writes the rows of the volumes a group made from a source starts with."""
        self.db = db
        self.volumes = volumes
        self.hosts = hosts
        self.engine = engine
        self.settings = settings

    # --- reads ----------------------------------------------------------------------------------------
    def get(self, ctxt: RequestContext, group_id: str) -> Record:
        with self.db.reader() as session:
            group = access.get_group(session, ctxt, group_id)
            policy.enforce(ctxt, policies.GROUP_GET, {"project_id": group.project_id})
            return group_records_of(session, [group])[0]

    def list_all(self, ctxt: RequestContext, options: ListOptions | None = None) -> list[Record]:
        options = options or ListOptions()
        policy.enforce(ctxt, policies.GROUP_GET_ALL, {"project_id": ctxt.project_id})
        all_tenants = policies.GROUP_GET_ALL if options.all_projects and ctxt.is_admin else None
        stmt = scoped_query(ctxt, VolumeGroup, options.filters, EXACT_FILTERS, all_tenants)
        with self.db.reader() as session:
            rows, _ = read_page(session, stmt, VolumeGroup, SORT_COLUMNS, options)
            return group_records_of(session, rows)

    # --- create ---------------------------------------------------------------------------------------
    def create(self, ctxt: RequestContext, body: Mapping[str, Any]) -> Record:
        policy.enforce(ctxt, policies.GROUP_CREATE, {"project_id": ctxt.project_id})
        name = check_text(body.get("name"), "name")
        description = check_text(body.get("description"), "description")
        group_type_ref = body.get("group_type")
        if not isinstance(group_type_ref, str) or not group_type_ref:
            raise BadRequest("Invalid input received: group_type is required (a group type's name or id).")
        type_refs = body.get("volume_types")
        if (
            not isinstance(type_refs, list)
            or not type_refs
            or not all(isinstance(t, str) and t for t in type_refs)
        ):
            raise BadRequest("Invalid input received: volume_types must be a non-empty list of volume types.")
        zone = body.get("availability_zone") or self.settings.default_availability_zone
        if not isinstance(zone, str):
            raise BadRequest("Invalid input received: availability_zone must be a string.")

        def write(session: Session) -> Record:
            group_type = visible_group_type(session, ctxt, group_type_ref)
            volume_types: list[VolumeType] = []
            for ref in type_refs:
                volume_type = access.get_type(session, ctxt, ref)
                if volume_type not in volume_types:
                    volume_types.append(volume_type)
            if zone not in scheduling.zones(session):
                raise BadRequest(f"Invalid input received: Availability zone '{zone}' is invalid.")
            group = VolumeGroup(
                id=str(uuid.uuid4()), project_id=ctxt.project_id or "", user_id=ctxt.user_id or "", name=name,
                description=description, status=group_records.GROUP_AVAILABLE, availability_zone=zone,
                group_type_id=group_type.id, replication_status="disabled",
            )  # fmt: skip
            self._count_group(session, group)
            session.add(group)
            session.flush()
            for volume_type in volume_types:
                session.add(VolumeGroupType(group_id=group.id, volume_type_id=volume_type.id))
            session.flush()
            return group_records_of(session, [group])[0]

        return self.db.write(write)

    # --- create from a group snapshot or a source group (3.14) ---------------------------------------
    def create_from_source(self, ctxt: RequestContext, body: Mapping[str, Any]) -> Record:
        """A new group of the source's types with one new volume per member: each member snapshot's copy
        (group_snapshot_id) or each source volume's clone (source_group_id). The group is creating until
        the volume hosts have made every volume (group_records.settle_group)."""
        policy.enforce(ctxt, policies.GROUP_CREATE, {"project_id": ctxt.project_id})
        policy.enforce(ctxt, policies.CREATE, {"project_id": ctxt.project_id})
        self.volumes.admission(ctxt, "volume")
        name = check_text(body.get("name"), "name")
        description = check_text(body.get("description"), "description")
        snapshot_id, source_id = body.get("group_snapshot_id"), body.get("source_group_id")
        if bool(snapshot_id) == bool(source_id):
            raise invalid_group("Either group_snapshot_id or source_group_id must be provided, not both.")
        if not isinstance(snapshot_id or source_id, str):
            raise BadRequest("Invalid input received: the source must be given by its id.")

        def write(session: Session) -> tuple[Record, list[tuple[str, str, dict[str, Any]]]]:
            source_group, requests = self._source_members(session, ctxt, snapshot_id, source_id)
            group = VolumeGroup(
                id=str(uuid.uuid4()), project_id=ctxt.project_id or "", user_id=ctxt.user_id or "", name=name,
                description=description, status=group_records.GROUP_CREATING,
                availability_zone=source_group.availability_zone, group_type_id=source_group.group_type_id,
                group_snapshot_id=snapshot_id or None, source_group_id=source_id or None,
                replication_status="disabled",
            )  # fmt: skip
            self._count_group(session, group)
            session.add(group)
            session.flush()
            for type_id in group_records.volume_type_ids(session, source_group.id):
                session.add(VolumeGroupType(group_id=group.id, volume_type_id=type_id))
            casts: list[tuple[str, str, dict[str, Any]]] = []
            for request in requests:
                volume, source = self.volumes.write_row(session, ctxt, request)
                volume.group_id = group.id
                if volume.host is not None:
                    casts.append((volume.host, volume.id, source))
            session.flush()
            # Volumes no backend took are error already; a source with no members is done now.
            group_records.settle_group(session, group.id)
            session.refresh(group)
            return group_records_of(session, [group])[0], casts

        record, casts = self.db.write(write)
        if self.hosts is not None:
            for host, volume_id, source in casts:
                self.hosts.create_volume(ctxt, host, volume_id, source)
        return record

    @staticmethod
    def _source_members(
        session: Session, ctxt: RequestContext, snapshot_id: str | None, source_id: str | None
    ) -> tuple[VolumeGroup, list[CreateRequest]]:
        """The group whose types the new one copies, and one volume request per member of the source."""
        if snapshot_id:
            group_snapshot = access.get_group_snapshot(session, ctxt, snapshot_id)
            if group_snapshot.status != group_records.GROUP_SNAPSHOT_AVAILABLE:
                raise invalid_group(
                    "Group snapshot status must be available, but current status is: "
                    f"{group_snapshot.status}."
                )
            members = session.scalars(
                select(Snapshot)
                .where(Snapshot.group_snapshot_id == snapshot_id)
                .order_by(Snapshot.created_at)
            )
            requests = [
                CreateRequest(size=None, snapshot_id=snapshot.id, volume_type=snapshot.volume_type_id)
                for snapshot in members
            ]
            return access.get_group(session, ctxt, group_snapshot.group_id), requests
        source_group = access.get_group(session, ctxt, str(source_id))
        if source_group.status != group_records.GROUP_AVAILABLE:
            raise invalid_group(
                f"Source group status must be available, but current status is: {source_group.status}."
            )
        volumes = session.scalars(
            select(Volume).where(Volume.group_id == source_group.id).order_by(Volume.created_at)
        )
        requests = [
            CreateRequest(size=None, source_volid=volume.id, volume_type=volume.volume_type_id)
            for volume in volumes
        ]
        return source_group, requests

    def _count_group(self, session: Session, group: VolumeGroup) -> None:
        try:
            self.engine.consume(session, group.project_id, {group_records.GROUPS_QUOTA: 1})
        except QuotaExceeded as exceeded:
            limit = exceeded.details.get("limit")
            raise RequestTooLarge(
                f"GroupLimitExceeded: Maximum number of groups allowed ({limit}) exceeded"
            ) from None

    # --- update ---------------------------------------------------------------------------------------
    def update(self, ctxt: RequestContext, group_id: str, body: Mapping[str, Any]) -> None:
        """Name, description, and volumes joining (add_volumes) or leaving (remove_volumes) the group."""
        name = check_text(body.get("name"), "name")
        description = check_text(body.get("description"), "description")
        adding = _volume_ids(body.get("add_volumes"), "add_volumes")
        removing = _volume_ids(body.get("remove_volumes"), "remove_volumes")
        if name is None and description is None and not adding and not removing:
            raise invalid_group(
                "Name, description, add_volumes, and remove_volumes can not be all empty in the request body."
            )
        both = set(adding) & set(removing)
        if both:
            raise invalid_group(
                f"Volume {sorted(both)[0]} cannot be both added to and removed from the group."
            )

        def write(session: Session) -> None:
            group = access.get_group(session, ctxt, group_id)
            policy.enforce(ctxt, policies.GROUP_UPDATE, {"project_id": group.project_id})
            if not group_records.hold_available(session, group.id):
                raise invalid_group(f"Group status must be available, but current status is: {group.status}.")
            if adding or removing:
                self._join(session, ctxt, group, adding)
                self._leave(session, group, removing)
            if name is not None:
                group.name = name
            if description is not None:
                group.description = description
            group.updated_at = utcnow()

        self.db.write(write)

    @staticmethod
    def _join(session: Session, ctxt: RequestContext, group: VolumeGroup, volume_ids: list[str]) -> None:
        allowed = group_records.volume_type_ids(session, group.id)
        for volume_id in volume_ids:
            volume = session.get(Volume, volume_id)
            if volume is None or volume.project_id != group.project_id:
                raise invalid_group(
                    f"Cannot add volume {volume_id} to group {group.id} because volume cannot be found."
                )
            if volume.group_id == group.id:
                continue
            if volume.group_id is not None:
                raise invalid_group(
                    f"Cannot add volume {volume_id} to group {group.id} because it is already in group "
                    f"{volume.group_id}."
                )
            if volume.volume_type_id not in allowed:
                raise invalid_group(
                    f"Cannot add volume {volume_id} to group {group.id} because volume type "
                    f"{volume.volume_type_id} is not supported by the group."
                )
            # The volume's status is checked and held by a compare-and-swap onto itself.
            if volume.status not in JOINABLE or not states.change_status(
                session, volume.id, {volume.status}, volume.status, group_id=group.id
            ):
                raise invalid_group(
                    f"Cannot add volume {volume_id} to group {group.id} because volume is in an invalid "
                    f"state: {volume.status}. Valid states are: ('available', 'in-use')."
                )

    @staticmethod
    def _leave(session: Session, group: VolumeGroup, volume_ids: list[str]) -> None:
        for volume_id in volume_ids:
            volume = session.get(Volume, volume_id)
            if volume is None or volume.group_id != group.id:
                raise invalid_group(
                    f"Cannot remove volume {volume_id} from group {group.id} because it is not in the group."
                )
            if volume.status not in REMOVABLE or not states.change_status(
                session, volume.id, {volume.status}, volume.status, group_id=None
            ):
                raise invalid_group(
                    f"Cannot remove volume {volume_id} from group {group.id} because volume is in an invalid "
                    f"state: {volume.status}."
                )

    # --- delete and reset -----------------------------------------------------------------------------
    def delete(self, ctxt: RequestContext, group_id: str, *, delete_volumes: bool) -> None:
        def write(session: Session) -> list[tuple[str, str | None]]:
            group = access.get_group(session, ctxt, group_id)
            policy.enforce(ctxt, policies.GROUP_DELETE, {"project_id": group.project_id})
            if group.status not in DELETABLE:
                raise invalid_group(
                    f"Group status must be available or error, but current status is: {group.status}"
                )
            if session.scalar(
                select(func.count()).select_from(GroupSnapshot).where(GroupSnapshot.group_id == group.id)
            ):
                raise invalid_group("Group has existing snapshots.")
            volumes = list(session.scalars(select(Volume).where(Volume.group_id == group.id)))
            if volumes and not delete_volumes:
                raise invalid_group(
                    f"Group {group.id} still contains volumes. The delete-volumes flag is required to delete "
                    "it."
                )
            if not group_records.change_group_status(
                session, group.id, DELETABLE, group_records.GROUP_DELETING
            ):
                raise invalid_group("Group status must be available or error.")
            to_delete: list[tuple[str, str | None]] = []
            for volume in volumes:
                self._start_volume_delete(session, volume)
                to_delete.append((volume.id, volume.host))
            if not any(host for _, host in to_delete):
                # Nothing is left on a volume host: the rows (and quotas) go now.
                group_records.remove_group(session, group, self.engine)
            return to_delete

        for volume_id, host in self.db.write(write):
            if host is not None and self.hosts is not None:
                self.hosts.delete_volume(ctxt, host, volume_id)

    def _start_volume_delete(self, session: Session, volume: Volume) -> None:
        attached = volume.attach_status == states.ATTACHED or volume.status == states.IN_USE
        snapshots = session.scalar(
            select(func.count()).select_from(Snapshot).where(Snapshot.volume_id == volume.id)
        )
        if attached:
            raise invalid_group(f"Volume {volume.id} in the group is attached: detach it first.")
        if snapshots:
            raise invalid_group(
                f"Volume {volume.id} in group {volume.group_id} still has dependent snapshots."
            )
        deletable = states.ACTIONS["delete"].expected
        if volume.status not in deletable or not states.change_status(
            session, volume.id, deletable, states.DELETING, previous_status=volume.status
        ):
            raise invalid_group(
                f"Volume {volume.id} in the group is {volume.status}: it cannot be deleted now."
            )
        if volume.host is None:
            # Never placed: no storage to remove, so the row and its quota go in this transaction.
            quotas.release_volume(session, volume, self.engine)
            session.delete(volume)
            session.flush()

    def reset_status(self, ctxt: RequestContext, group_id: str, status: Any) -> None:
        if not isinstance(status, str) or status.lower() not in group_records.GROUP_STATUSES:
            allowed = ", ".join(group_records.GROUP_STATUSES)
            raise BadRequest(f"Invalid input received: Group status {status!r} is not one of {allowed}.")
        new = status.lower()

        def write(session: Session) -> None:
            group = access.get_group(session, ctxt, group_id)
            policy.enforce(ctxt, policies.GROUP_RESET_STATUS, {"project_id": group.project_id})
            if not group_records.change_group_status(session, group.id, {group.status}, new):
                raise invalid_group("The group's status changed while it was being reset: try again.")

        self.db.write(write)
