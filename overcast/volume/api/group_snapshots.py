"""Group snapshots (3.14): one snapshot of each volume of a group, taken together. The create counts each
member's snapshot quota and holds each volume's status in one transaction, then asks each volume's host
to snapshot it; the host that finishes the last member settles the group snapshot (group_records.py).
A delete moves every member to deleting and the group snapshot's row goes with the last of them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.volume import GroupSnapshot, Snapshot, Volume, VolumeType
from overcast.errors import BadRequest, QuotaExceeded
from overcast.volume import group_records, policies, quotas, states
from overcast.volume.api import access
from overcast.volume.api.records import Record, timestamp
from overcast.volume.api.snapshots import ListOptions, read_page, scoped_query
from overcast.volume.api.volumes import check_text
from overcast.volume.data_records import remove_snapshot_row
from overcast.volume.rpcapi import VolumeHostAPI

SORT_COLUMNS = {key: key for key in ("id", "name", "status", "created_at", "updated_at", "group_id")}
EXACT_FILTERS = ("name", "status", "id", "group_id")
DELETABLE = frozenset({group_records.GROUP_SNAPSHOT_AVAILABLE, group_records.GROUP_SNAPSHOT_ERROR})
SNAPSHOTTABLE = frozenset({states.AVAILABLE, states.IN_USE})


def invalid_group_snapshot(message: str) -> BadRequest:
    return BadRequest(f"Invalid group snapshot: {message}")


def group_snapshot_record(group_snapshot: GroupSnapshot) -> Record:
    return {
        "id": group_snapshot.id,
        "group_id": group_snapshot.group_id,
        "status": group_snapshot.status,
        "created_at": timestamp(group_snapshot.created_at),
        "name": group_snapshot.name,
        "description": group_snapshot.description,
        "group_type_id": group_snapshot.group_type_id,
        "project_id": group_snapshot.project_id,
    }


class GroupSnapshots:
    def __init__(self, db: Database, hosts: VolumeHostAPI | None, engine: quotas.VolumeQuotaEngine) -> None:
        self.db = db
        self.hosts = hosts
        self.engine = engine

    # --- reads ----------------------------------------------------------------------------------------
    def get(self, ctxt: RequestContext, group_snapshot_id: str) -> Record:
        with self.db.reader() as session:
            group_snapshot = access.get_group_snapshot(session, ctxt, group_snapshot_id)
            policy.enforce(ctxt, policies.GROUP_SNAPSHOT_GET, {"project_id": group_snapshot.project_id})
            return group_snapshot_record(group_snapshot)

    def list_all(self, ctxt: RequestContext, options: ListOptions | None = None) -> list[Record]:
        options = options or ListOptions()
        policy.enforce(ctxt, policies.GROUP_SNAPSHOT_GET_ALL, {"project_id": ctxt.project_id})
        all_tenants = policies.GROUP_SNAPSHOT_GET_ALL if options.all_projects and ctxt.is_admin else None
        stmt = scoped_query(ctxt, GroupSnapshot, options.filters, EXACT_FILTERS, all_tenants)
        with self.db.reader() as session:
            rows, _ = read_page(session, stmt, GroupSnapshot, SORT_COLUMNS, options)
            return [group_snapshot_record(row) for row in rows]

    # --- create ---------------------------------------------------------------------------------------
    def create(
        self, ctxt: RequestContext, group_id: Any, *, name: Any = None, description: Any = None
    ) -> Record:
        if not isinstance(group_id, str) or not group_id:
            raise BadRequest("Invalid input received: group_id must be a group's id.")
        checked_name = check_text(name, "name")
        checked_description = check_text(description, "description")

        def write(session: Session) -> tuple[Record, list[tuple[str, str]]]:
            group = access.get_group(session, ctxt, group_id)
            policy.enforce(ctxt, policies.GROUP_SNAPSHOT_CREATE, {"project_id": group.project_id})
            if not group_records.hold_available(session, group.id):
                raise BadRequest(
                    f"Invalid group: Group status must be available, but current status is: {group.status}."
                )
            group_snapshot = GroupSnapshot(
                id=str(uuid.uuid4()), group_id=group.id, project_id=group.project_id,
                user_id=ctxt.user_id or "", name=checked_name, description=checked_description,
                status=group_records.GROUP_SNAPSHOT_CREATING, group_type_id=group.group_type_id,
            )  # fmt: skip
            session.add(group_snapshot)
            session.flush()
            casts: list[tuple[str, str]] = []
            volumes = session.scalars(
                select(Volume).where(Volume.group_id == group.id).order_by(Volume.created_at)
            )
            for volume in volumes:
                snapshot = self._member(session, ctxt, group_snapshot, volume)
                if volume.host is not None:
                    casts.append((volume.host, snapshot.id))
            # Members that could not start (no host) are error already; an empty group is done now.
            group_records.settle_group_snapshot(session, group_snapshot.id)
            session.refresh(group_snapshot)
            return group_snapshot_record(group_snapshot), casts

        record, casts = self.db.write(write)
        if self.hosts is not None:
            for host, snapshot_id in casts:
                self.hosts.create_snapshot(ctxt, host, snapshot_id)
        return record

    def _member(
        self, session: Session, ctxt: RequestContext, group_snapshot: GroupSnapshot, volume: Volume
    ) -> Snapshot:
        # A compare-and-swap onto the same status holds the volume in it until commit (as a snapshot does).
        if volume.status not in SNAPSHOTTABLE or not states.change_status(
            session, volume.id, {volume.status}, volume.status
        ):
            raise BadRequest(
                f"Invalid volume: Volume {volume.id} status must be available or in-use, but current status "
                f"is: {volume.status}."
            )
        snapshot = Snapshot(
            id=str(uuid.uuid4()), volume_id=volume.id, project_id=volume.project_id,
            user_id=ctxt.user_id or "", name=f"snapshot-{group_snapshot.id}",
            description=group_snapshot.description,
            status=states.SNAPSHOT_CREATING if volume.host else states.SNAPSHOT_ERROR, progress="0%",
            volume_size=volume.size, volume_type_id=volume.volume_type_id,
            group_snapshot_id=group_snapshot.id, use_quota=True,
        )  # fmt: skip
        volume_type = session.get(VolumeType, volume.volume_type_id)
        deltas = quotas.snapshot_deltas(snapshot, volume_type.name if volume_type is not None else "")
        try:
            self.engine.consume(session, volume.project_id, deltas)
        except QuotaExceeded as exceeded:
            raise quotas.quota_error(exceeded, volume.size) from None
        session.add(snapshot)
        session.flush()
        return snapshot

    # --- delete and reset -----------------------------------------------------------------------------
    def delete(self, ctxt: RequestContext, group_snapshot_id: str) -> None:
        def write(session: Session) -> list[tuple[str, str]]:
            group_snapshot = access.get_group_snapshot(session, ctxt, group_snapshot_id)
            policy.enforce(ctxt, policies.GROUP_SNAPSHOT_DELETE, {"project_id": group_snapshot.project_id})
            if not group_records.change_group_snapshot_status(
                session, group_snapshot.id, DELETABLE, group_records.GROUP_SNAPSHOT_DELETING
            ):
                raise invalid_group_snapshot(
                    "Group snapshot status must be available or error, but current status is: "
                    f"{group_snapshot.status}"
                )
            casts: list[tuple[str, str]] = []
            members = session.scalars(select(Snapshot).where(Snapshot.group_snapshot_id == group_snapshot.id))
            for snapshot in list(members):
                deletable = {states.SNAPSHOT_AVAILABLE, states.SNAPSHOT_ERROR}
                if not states.change_snapshot_status(
                    session, snapshot.id, deletable, states.SNAPSHOT_DELETING
                ):
                    raise invalid_group_snapshot(
                        f"Snapshot {snapshot.id} of the group snapshot is {snapshot.status}: it must be "
                        "available or error."
                    )
                volume = session.get(Volume, snapshot.volume_id)
                if volume is None or volume.host is None:
                    # No storage was ever made: the row and its quota go now.
                    remove_snapshot_row(session, snapshot.id)
                else:
                    casts.append((volume.host, snapshot.id))
            group_records.remove_group_snapshot_if_emptied(session, group_snapshot.id)
            return casts

        casts = self.db.write(write)
        if self.hosts is not None:
            for host, snapshot_id in casts:
                self.hosts.delete_snapshot(ctxt, host, snapshot_id)

    def reset_status(self, ctxt: RequestContext, group_snapshot_id: str, status: Any) -> None:
        if not isinstance(status, str) or status.lower() not in group_records.GROUP_SNAPSHOT_STATUSES:
            allowed = ", ".join(group_records.GROUP_SNAPSHOT_STATUSES)
            raise BadRequest(
                f"Invalid input received: Group snapshot status {status!r} is not one of {allowed}."
            )
        new = status.lower()

        def write(session: Session) -> None:
            group_snapshot = access.get_group_snapshot(session, ctxt, group_snapshot_id)
            policy.enforce(
                ctxt, policies.GROUP_SNAPSHOT_RESET_STATUS, {"project_id": group_snapshot.project_id}
            )
            if not group_records.change_group_snapshot_status(
                session, group_snapshot.id, {group_snapshot.status}, new
            ):
                raise invalid_group_snapshot("Its status changed while it was being reset: try again.")

        self.db.write(write)
