"""Snapshots: create (also of an in-use volume with force), read, update, delete, metadata, the admin
actions, and revert to snapshot (3.40).

Quota (`snapshots`, `gigabytes` and the type's) is counted in the create's transaction and given back
by the volume host in the transaction that deletes the row. The volume host is told after the commit.
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
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.volume import Snapshot, SnapshotMetadata, Volume, VolumeType
from overcast.db.pagination import paginate
from overcast.errors import BadRequest, NotFound, QuotaExceeded
from overcast.volume import policies, quotas, states
from overcast.volume.api import access
from overcast.volume.api.records import Record, timestamp
from overcast.volume.api.volumes import check_metadata, check_text, strict_bool
from overcast.volume.data_records import remove_snapshot_row
from overcast.volume.rpcapi import VolumeHostAPI

SORT_COLUMNS = {
    "id": "id",
    "name": "name",
    "status": "status",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "size": "volume_size",
    "volume_id": "volume_id",
    "project_id": "project_id",
}
DELETABLE = frozenset({states.SNAPSHOT_AVAILABLE, states.SNAPSHOT_ERROR})
# The filters a snapshot list matches exactly; besides them, `metadata` and the like-form `name~`.
EXACT_FILTERS = ("name", "status", "volume_id", "id", "user_id")


def invalid_snapshot(message: str) -> BadRequest:
    return BadRequest(f"Invalid snapshot: {message}")


def get_snapshot(session: Session, ctxt: RequestContext, snapshot_id: str) -> Snapshot:
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None or not (ctxt.is_admin or snapshot.project_id == ctxt.project_id):
        raise NotFound(f"Snapshot {snapshot_id} could not be found.")
    return snapshot


def snapshot_metadata_of(session: Session, snapshot_ids: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {snapshot_id: {} for snapshot_id in snapshot_ids}
    if snapshot_ids:
        for row in session.scalars(
            select(SnapshotMetadata).where(SnapshotMetadata.snapshot_id.in_(snapshot_ids))
        ):
            found[row.snapshot_id][row.key] = row.value
    return found


def snapshot_record(snapshot: Snapshot, metadata: dict[str, str]) -> Record:
    """Cinder's snapshot view; the router drops what the microversion does not show."""
    return {
        "id": snapshot.id,
        "name": snapshot.name,
        "description": snapshot.description,
        "volume_id": snapshot.volume_id,
        "status": snapshot.status,
        "size": snapshot.volume_size,
        "created_at": timestamp(snapshot.created_at),
        "updated_at": timestamp(snapshot.updated_at),
        "metadata": dict(metadata),
        "os-extended-snapshot-attributes:progress": snapshot.progress,
        "os-extended-snapshot-attributes:project_id": snapshot.project_id,
        "group_snapshot_id": snapshot.group_snapshot_id,
        "user_id": snapshot.user_id,
        "consumes_quota": snapshot.use_quota,
    }


def snapshot_records(session: Session, snapshots: list[Snapshot]) -> list[Record]:
    metadata = snapshot_metadata_of(session, [snapshot.id for snapshot in snapshots])
    return [snapshot_record(snapshot, metadata[snapshot.id]) for snapshot in snapshots]


@dataclass
class ListOptions:
    """A snapshot or backup list's filters (by column, `name~`, `metadata`), order, page and count."""

    filters: dict[str, Any] = field(default_factory=dict)
    sort: list[tuple[str, str]] | None = None
    marker: str | None = None
    limit: int | None = None
    all_projects: bool = False
    with_count: bool = False


def scoped_query(
    ctxt: RequestContext,
    model: Any,
    filters: Mapping[str, Any],
    exact: tuple[str, ...],
    all_tenants_rule: str | None,
) -> Any:
    """The caller's project's rows of `model` (every project's, with `all_tenants_rule`, which must pass),
    narrowed by the `exact` filters given and `name~`."""
    stmt = select(model)
    if all_tenants_rule is not None:
        policy.enforce(ctxt, all_tenants_rule, {"project_id": ctxt.project_id})
        if filters.get("project_id"):
            stmt = stmt.where(model.project_id == filters["project_id"])
    else:
        stmt = stmt.where(model.project_id == (ctxt.project_id or ""))
    for key in exact:
        if filters.get(key) is not None:
            stmt = stmt.where(getattr(model, key) == filters[key])
    if filters.get("name~") is not None:
        stmt = stmt.where(model.name.contains(filters["name~"]))
    return stmt


def read_page(
    session: Session, stmt: Any, model: Any, sort_columns: Mapping[str, str], options: ListOptions
) -> tuple[list[Any], int | None]:
    """One page of `stmt` in the requested order (newest first by default), and the total if asked."""
    count = session.scalar(select(func.count()).select_from(stmt.subquery())) if options.with_count else None
    keys = []
    for key, direction in options.sort or [("created_at", "desc")]:
        if key not in sort_columns:
            raise BadRequest(f"Invalid input received: Invalid sort key {key}.")
        keys.append((sort_columns[key], direction))
    page = paginate(
        stmt,
        model,
        sort_keys=keys,
        marker=options.marker,
        limit=options.limit,
        marker_column="id",
        session=session,
    )
    return list(session.scalars(page)), count


def _type_name(session: Session, volume: Volume) -> str:
    volume_type = session.get(VolumeType, volume.volume_type_id)
    return volume_type.name if volume_type is not None else ""


class Snapshots:
    def __init__(
        self,
        db: Database,
        hosts: VolumeHostAPI | None,
        engine: quotas.VolumeQuotaEngine,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.hosts = hosts
        self.engine = engine
        self.clock = clock

    # --- reads ----------------------------------------------------------------------------------------
    def get(self, ctxt: RequestContext, snapshot_id: str) -> Record:
        with self.db.reader() as session:
            snapshot = get_snapshot(session, ctxt, snapshot_id)
            policy.enforce(ctxt, policies.SNAPSHOT_GET, {"project_id": snapshot.project_id})
            return snapshot_records(session, [snapshot])[0]

    def list(
        self, ctxt: RequestContext, options: ListOptions | None = None
    ) -> tuple[list[Record], int | None]:
        options = options or ListOptions()
        policy.enforce(ctxt, policies.SNAPSHOT_GET_ALL, {"project_id": ctxt.project_id})
        filters = options.filters
        stmt = scoped_query(
            ctxt,
            Snapshot,
            filters,
            EXACT_FILTERS,
            policies.SNAPSHOT_ALL_TENANTS if options.all_projects else None,
        )
        if filters.get("metadata"):
            for key, value in check_metadata(filters["metadata"]).items():
                matching = select(SnapshotMetadata.snapshot_id).where(
                    SnapshotMetadata.key == key, SnapshotMetadata.value == value
                )
                stmt = stmt.where(Snapshot.id.in_(matching))
        with self.db.reader() as session:
            rows, count = read_page(session, stmt, Snapshot, SORT_COLUMNS, options)
            return snapshot_records(session, rows), count

    # --- create ---------------------------------------------------------------------------------------
    def create(
        self,
        ctxt: RequestContext,
        volume_id: Any,
        *,
        force: Any = False,
        name: Any = None,
        description: Any = None,
        metadata: Any = None,
    ) -> Record:
        if not isinstance(volume_id, str) or not volume_id:
            raise BadRequest("Invalid input received: volume_id must be a volume's id.")
        forced = strict_bool(force, "force")
        checked_name = check_text(name, "name")
        checked_description = check_text(description, "description")
        checked_metadata = check_metadata(metadata or {})

        def write(session: Session) -> tuple[Record, str | None]:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.SNAPSHOT_CREATE, {"project_id": volume.project_id})
            action = states.ACTIONS["snapshot_force" if forced else "snapshot"]
            # A compare-and-swap onto the same status: the row stays locked in that status until commit.
            if volume.status not in action.expected or not states.change_status(
                session, volume.id, {volume.status}, volume.status
            ):
                raise BadRequest(
                    f"Invalid volume: Volume {volume.id} status must be available"
                    f"{' or in-use' if forced else ''}, but current status is: {volume.status}."
                )
            snapshot = Snapshot(
                id=str(uuid.uuid4()),
                volume_id=volume.id,
                project_id=volume.project_id,
                user_id=ctxt.user_id or "",
                name=checked_name,
                description=checked_description,
                status=states.SNAPSHOT_CREATING if volume.host else states.SNAPSHOT_ERROR,
                progress="0%",
                volume_size=volume.size,
                volume_type_id=volume.volume_type_id,
                use_quota=True,
            )
            try:
                self.engine.consume(
                    session, volume.project_id, quotas.snapshot_deltas(snapshot, _type_name(session, volume))
                )
            except QuotaExceeded as exceeded:
                raise quotas.quota_error(exceeded, volume.size) from None
            session.add(snapshot)
            session.flush()
            for key, value in checked_metadata.items():
                session.add(SnapshotMetadata(snapshot_id=snapshot.id, key=key, value=value))
            session.flush()
            return snapshot_records(session, [snapshot])[0], volume.host

        record, host = self.db.write(write)
        if host is not None and self.hosts is not None:
            self.hosts.create_snapshot(ctxt, host, record["id"])
        return record

    # --- update and metadata -------------------------------------------------------------------------
    def update(self, ctxt: RequestContext, snapshot_id: str, changes: Mapping[str, Any]) -> Record:
        name = check_text(changes.get("name", changes.get("display_name")), "name")
        description = check_text(
            changes.get("description", changes.get("display_description")), "description"
        )

        def write(session: Session) -> Record:
            snapshot = get_snapshot(session, ctxt, snapshot_id)
            policy.enforce(ctxt, policies.SNAPSHOT_UPDATE, {"project_id": snapshot.project_id})
            if "name" in changes or "display_name" in changes:
                snapshot.name = name
            if "description" in changes or "display_description" in changes:
                snapshot.description = description
            snapshot.updated_at = utcnow()
            session.flush()
            return snapshot_records(session, [snapshot])[0]

        return self.db.write(write)

    def metadata(self, ctxt: RequestContext, snapshot_id: str) -> dict[str, str]:
        with self.db.reader() as session:
            snapshot = get_snapshot(session, ctxt, snapshot_id)
            policy.enforce(ctxt, policies.SNAPSHOT_GET, {"project_id": snapshot.project_id})
            return snapshot_metadata_of(session, [snapshot.id])[snapshot.id]

    def set_metadata(
        self, ctxt: RequestContext, snapshot_id: str, metadata: Any, *, replace: bool
    ) -> dict[str, str]:
        """POST .../metadata merges, PUT .../metadata replaces."""
        checked = check_metadata(metadata)

        def write(session: Session) -> dict[str, str]:
            snapshot = get_snapshot(session, ctxt, snapshot_id)
            policy.enforce(ctxt, policies.SNAPSHOT_UPDATE, {"project_id": snapshot.project_id})
            current = {} if replace else snapshot_metadata_of(session, [snapshot.id])[snapshot.id]
            merged = check_metadata({**current, **checked})
            self._replace_metadata(session, snapshot.id, merged)
            return merged

        return self.db.write(write)

    def set_metadata_item(
        self, ctxt: RequestContext, snapshot_id: str, key: str, value: Any
    ) -> dict[str, str]:
        checked = check_metadata({key: value})

        def write(session: Session) -> dict[str, str]:
            snapshot = get_snapshot(session, ctxt, snapshot_id)
            policy.enforce(ctxt, policies.SNAPSHOT_UPDATE, {"project_id": snapshot.project_id})
            merged = check_metadata({**snapshot_metadata_of(session, [snapshot.id])[snapshot.id], **checked})
            self._replace_metadata(session, snapshot.id, merged)
            return checked

        return self.db.write(write)

    def delete_metadata_item(self, ctxt: RequestContext, snapshot_id: str, key: str) -> None:
        def write(session: Session) -> None:
            snapshot = get_snapshot(session, ctxt, snapshot_id)
            policy.enforce(ctxt, policies.SNAPSHOT_UPDATE, {"project_id": snapshot.project_id})
            row = session.get(SnapshotMetadata, (snapshot.id, key))
            if row is None:
                raise NotFound(f"Metadata item was not found for snapshot {snapshot_id} and key {key}.")
            session.delete(row)

        self.db.write(write)

    @staticmethod
    def _replace_metadata(session: Session, snapshot_id: str, metadata: Mapping[str, str]) -> None:
        session.execute(delete(SnapshotMetadata).where(SnapshotMetadata.snapshot_id == snapshot_id))
        for key, value in metadata.items():
            session.add(SnapshotMetadata(snapshot_id=snapshot_id, key=key, value=value))
        session.flush()

    # --- delete and the admin actions ----------------------------------------------------------------
    def delete(self, ctxt: RequestContext, snapshot_id: str, *, force: bool = False) -> None:
        def write(session: Session) -> str | None:
            snapshot = get_snapshot(session, ctxt, snapshot_id)
            rule = policies.SNAPSHOT_FORCE_DELETE if force else policies.SNAPSHOT_DELETE
            policy.enforce(ctxt, rule, {"project_id": snapshot.project_id})
            expected = set(states.SNAPSHOT_STATUSES) - {states.SNAPSHOT_DELETING} if force else DELETABLE
            # A group snapshot's members go with it (DELETE /group_snapshots/{id}).
            if (
                snapshot.group_snapshot_id is not None
                or snapshot.status not in expected
                or not states.change_snapshot_status(session, snapshot.id, expected, states.SNAPSHOT_DELETING)
            ):
                raise invalid_snapshot(
                    "Snapshot status must be available or error and must not be part of a group."
                )
            volume = session.get(Volume, snapshot.volume_id)
            if volume is None or volume.host is None:
                # No storage was ever made: the row and its quota go now.
                remove_snapshot_row(session, snapshot.id)
                return None
            return volume.host

        host = self.db.write(write)
        if host is not None and self.hosts is not None:
            self.hosts.delete_snapshot(ctxt, host, snapshot_id)

    def reset_status(self, ctxt: RequestContext, snapshot_id: str, body: Any) -> None:
        status = body.get("status") if isinstance(body, Mapping) else None
        if status not in states.SNAPSHOT_STATUSES:
            raise BadRequest(f"Invalid input received: Must specify a valid status, got {status!r}.")

        def write(session: Session) -> None:
            snapshot = get_snapshot(session, ctxt, snapshot_id)
            policy.enforce(ctxt, policies.SNAPSHOT_RESET_STATUS, {"project_id": snapshot.project_id})
            snapshot.status = str(status)
            snapshot.updated_at = utcnow()

        self.db.write(write)

    # --- revert (3.40) --------------------------------------------------------------------------------
    def revert(self, ctxt: RequestContext, volume_id: str, snapshot_id: Any) -> None:
        """Revert the volume to its latest snapshot (Cinder allows no other)."""
        if not isinstance(snapshot_id, str) or not snapshot_id:
            raise BadRequest("Invalid input received: snapshot_id must be a snapshot's id.")

        def write(session: Session) -> str:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.REVERT, {"project_id": volume.project_id})
            snapshot = get_snapshot(session, ctxt, snapshot_id)
            if snapshot.volume_id != volume.id:
                raise invalid_snapshot(f"Snapshot {snapshot_id} is not a snapshot of volume {volume_id}.")
            latest = session.scalars(
                select(Snapshot)
                .where(Snapshot.volume_id == volume.id)
                .order_by(Snapshot.created_at.desc(), Snapshot.id.desc())
                .limit(1)
            ).first()
            if latest is None or latest.id != snapshot.id:
                raise BadRequest(
                    f"Specified snapshot {snapshot_id} is not the latest one of volume {volume_id}."
                )
            if snapshot.status != states.SNAPSHOT_AVAILABLE:
                raise invalid_snapshot(
                    f"Snapshot status must be available, but current status is: {snapshot.status}."
                )
            if volume.host is None:
                raise BadRequest(f"Invalid volume: Volume {volume_id} has no volume host.")
            if not states.start(session, volume.id, "revert_to_snapshot"):
                raise BadRequest(
                    "Invalid volume: Volume status must be available, but current status is: "
                    f"{volume.status}."
                )
            states.change_snapshot_status(
                session, snapshot.id, {states.SNAPSHOT_AVAILABLE}, states.SNAPSHOT_RESTORING
            )
            return volume.host

        host = self.db.write(write)
        if self.hosts is not None:
            self.hosts.revert_to_snapshot(ctxt, host, volume_id, snapshot_id)
