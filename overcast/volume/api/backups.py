"""Backups: create (full or incremental, of an available volume, of an in-use one with force, or of a
snapshot), read, update (3.9), restore to a new or an existing volume, delete, and the admin actions.

Quota (`backups`, `backup_gigabytes`) is counted in the create's transaction and given back by the
volume host in the transaction that deletes the row. The volume goes backing-up (or the snapshot) and
the backup restoring by compare-and-swap before the volume host is told, after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.volume import Snapshot, Volume
from overcast.db.models.volume_backup import Backup, BackupMetadata
from overcast.errors import BadRequest, QuotaExceeded, RequestTooLarge
from overcast.volume import policies, quotas, states
from overcast.volume.api import access
from overcast.volume.api.records import Record, timestamp
from overcast.volume.api.snapshots import ListOptions, get_snapshot, read_page, scoped_query
from overcast.volume.api.volumes import check_metadata, check_text, strict_bool
from overcast.volume.backup import BackupSettings
from overcast.volume.data_records import (
    BACKUP_AVAILABLE,
    BACKUP_CREATING,
    BACKUP_DELETING,
    BACKUP_ERROR,
    BACKUP_RESTORING,
    change_backup_status,
    get_backup,
    remove_backup_row,
)
from overcast.volume.rpcapi import VolumeHostAPI

SORT_COLUMNS = {
    "id": "id",
    "name": "name",
    "status": "status",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "size": "size",
    "volume_id": "volume_id",
    "project_id": "project_id",
    "data_timestamp": "data_timestamp",
}
DELETABLE = frozenset({BACKUP_AVAILABLE, BACKUP_ERROR})
RESETTABLE = frozenset({BACKUP_AVAILABLE, BACKUP_ERROR})
# The filters a backup list matches exactly (and the like-form `name~`).
EXACT_FILTERS = ("name", "status", "volume_id", "id", "snapshot_id", "parent_id")


def invalid_backup(message: str) -> BadRequest:
    return BadRequest(f"Invalid backup: {message}")


def backup_record(backup: Backup, metadata: dict[str, str], dependents: int) -> Record:
    """Cinder's detailed backup view; the router drops what the microversion or role does not show."""
    return {
        "id": backup.id,
        "name": backup.name,
        "description": backup.description,
        "status": backup.status,
        "size": backup.size,
        "volume_id": backup.volume_id,
        "snapshot_id": backup.snapshot_id,
        "container": backup.container,
        "availability_zone": backup.availability_zone,
        "created_at": timestamp(backup.created_at),
        "updated_at": timestamp(backup.updated_at),
        "data_timestamp": timestamp(backup.data_timestamp),
        "fail_reason": backup.fail_reason,
        "object_count": backup.object_count,
        "is_incremental": backup.parent_id is not None,
        "has_dependent_backups": dependents > 0,
        "os-backup-project-attr:project_id": backup.project_id,
        "user_id": backup.user_id,
        "metadata": dict(metadata),
        "encryption_key_id": backup.encryption_key_id,
    }


def backup_records(session: Session, backups: list[Backup]) -> list[Record]:
    ids = [backup.id for backup in backups]
    metadata: dict[str, dict[str, str]] = {backup_id: {} for backup_id in ids}
    dependents: dict[str, int] = {}
    if ids:
        for row in session.scalars(select(BackupMetadata).where(BackupMetadata.backup_id.in_(ids))):
            metadata[row.backup_id][row.key] = row.value
        counted = (
            select(Backup.parent_id, func.count()).where(Backup.parent_id.in_(ids)).group_by(Backup.parent_id)
        )
        dependents = {str(parent): int(count) for parent, count in session.execute(counted).all()}
    return [backup_record(backup, metadata[backup.id], dependents.get(backup.id, 0)) for backup in backups]


@dataclass
class BackupRequest:
    volume_id: Any
    name: Any = None
    description: Any = None
    container: Any = None
    incremental: Any = False
    force: Any = False
    snapshot_id: Any = None
    metadata: Any = None
    availability_zone: Any = None


class Backups:
    def __init__(
        self,
        db: Database,
        hosts: VolumeHostAPI | None,
        engine: quotas.VolumeQuotaEngine,
        settings: BackupSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.hosts = hosts
        self.engine = engine
        self.settings = settings or BackupSettings()
        self.clock = clock

    # --- reads ----------------------------------------------------------------------------------------
    def get(self, ctxt: RequestContext, backup_id: str) -> Record:
        with self.db.reader() as session:
            backup = get_backup(session, ctxt, backup_id)
            policy.enforce(ctxt, policies.BACKUP_GET, {"project_id": backup.project_id})
            return backup_records(session, [backup])[0]

    def list(
        self, ctxt: RequestContext, options: ListOptions | None = None
    ) -> tuple[list[Record], int | None]:
        options = options or ListOptions()
        policy.enforce(ctxt, policies.BACKUP_GET_ALL, {"project_id": ctxt.project_id})
        stmt = scoped_query(
            ctxt,
            Backup,
            options.filters,
            EXACT_FILTERS,
            policies.BACKUP_ALL_TENANTS if options.all_projects else None,
        )
        with self.db.reader() as session:
            rows, count = read_page(session, stmt, Backup, SORT_COLUMNS, options)
            return backup_records(session, rows), count

    # --- create ---------------------------------------------------------------------------------------
    def create(self, ctxt: RequestContext, request: BackupRequest) -> Record:
        if not isinstance(request.volume_id, str) or not request.volume_id:
            raise BadRequest("Invalid input received: volume_id must be a volume's id.")
        incremental = strict_bool(request.incremental, "incremental")
        force = strict_bool(request.force, "force")
        name = check_text(request.name, "name")
        description = check_text(request.description, "description")
        container = check_text(request.container, "container") or self.settings.swift_container
        metadata = check_metadata(request.metadata or {})
        zone = check_text(request.availability_zone, "availability_zone")
        if request.snapshot_id is not None and not isinstance(request.snapshot_id, str):
            raise BadRequest("Invalid input received: snapshot_id must be a snapshot's id.")

        def write(session: Session) -> tuple[Record, str]:
            volume = access.get_volume(session, ctxt, request.volume_id)
            policy.enforce(ctxt, policies.BACKUP_CREATE, {"project_id": volume.project_id})
            if volume.host is None:
                raise BadRequest(f"Invalid volume: Volume {volume.id} has no volume host to back it up.")
            snapshot = self._lock_source(session, ctxt, volume, request.snapshot_id, force)
            parent_id = self._parent(session, volume.id) if incremental else None
            backup = Backup(
                id=str(uuid.uuid4()),
                project_id=volume.project_id,
                user_id=ctxt.user_id or "",
                volume_id=volume.id,
                snapshot_id=snapshot.id if snapshot else None,
                parent_id=parent_id,
                host=volume.host,
                availability_zone=zone or volume.availability_zone,
                name=name,
                description=description,
                container=container,
                status=BACKUP_CREATING,
                size=snapshot.volume_size if snapshot else volume.size,
                object_count=0,
                data_timestamp=snapshot.created_at if snapshot else self.clock(),
            )
            self._consume(session, backup)
            session.add(backup)
            session.flush()
            for key, value in metadata.items():
                session.add(BackupMetadata(backup_id=backup.id, key=key, value=value))
            session.flush()
            return backup_records(session, [backup])[0], volume.host

        record, host = self.db.write(write)
        if self.hosts is not None:
            self.hosts.create_backup(ctxt, host, record["id"])
        return record

    @staticmethod
    def _lock_source(
        session: Session, ctxt: RequestContext, volume: Volume, snapshot_id: str | None, force: bool
    ) -> Snapshot | None:
        """Move the volume to backing-up (or the snapshot, for a snapshot's backup) by compare-and-swap."""
        if snapshot_id:
            snapshot = get_snapshot(session, ctxt, snapshot_id)
            if snapshot.volume_id != volume.id:
                raise BadRequest(
                    f"Invalid snapshot: Snapshot {snapshot_id} is not a snapshot of volume {volume.id}."
                )
            if not states.change_snapshot_status(
                session, snapshot.id, {states.SNAPSHOT_AVAILABLE}, states.SNAPSHOT_BACKING_UP
            ):
                raise BadRequest(
                    "Invalid snapshot: Snapshot to be backed up must be available, but the current status "
                    f'is "{snapshot.status}".'
                )
            return snapshot
        if volume.status == states.IN_USE and not force:
            raise BadRequest("Invalid volume: Backing up an in-use volume must use the force flag.")
        if not states.start(session, volume.id, "backup_force" if force else "backup"):
            raise BadRequest(
                "Invalid volume: Volume to be backed up must be available or in-use, but the current "
                f'status is "{volume.status}".'
            )
        return None

    @staticmethod
    def _parent(session: Session, volume_id: str) -> str:
        """An incremental backup's parent: the volume's latest available backup (Cinder's rule)."""
        latest = session.scalars(
            select(Backup)
            .where(Backup.volume_id == volume_id, Backup.status == BACKUP_AVAILABLE)
            .order_by(Backup.data_timestamp.desc(), Backup.created_at.desc(), Backup.id.desc())
            .limit(1)
        ).first()
        if latest is None:
            raise invalid_backup("No backups available to do an incremental backup.")
        return latest.id

    def _consume(self, session: Session, backup: Backup) -> None:
        try:
            self.engine.consume(session, backup.project_id, {"backups": 1, "backup_gigabytes": backup.size})
        except QuotaExceeded as exceeded:
            resource = exceeded.details.get("resource")
            limit, used = exceeded.details.get("limit"), exceeded.details.get("used")
            if resource == "backups":
                raise RequestTooLarge(f"Maximum number of backups allowed ({limit}) exceeded.") from None
            raise RequestTooLarge(
                "Requested backup exceeds allowed Backup gigabytes quota. "
                f"Requested {backup.size}G, quota is {limit}G and {used}G has been consumed."
            ) from None

    # --- update ---------------------------------------------------------------------------------------
    def update(self, ctxt: RequestContext, backup_id: str, changes: Mapping[str, Any]) -> Record:
        name = check_text(changes.get("name"), "name")
        description = check_text(changes.get("description"), "description")
        metadata = check_metadata(changes["metadata"]) if changes.get("metadata") is not None else None

        def write(session: Session) -> Record:
            backup = get_backup(session, ctxt, backup_id)
            policy.enforce(ctxt, policies.BACKUP_UPDATE, {"project_id": backup.project_id})
            if "name" in changes:
                backup.name = name
            if "description" in changes:
                backup.description = description
            if metadata is not None:
                session.execute(delete(BackupMetadata).where(BackupMetadata.backup_id == backup.id))
                for key, value in metadata.items():
                    session.add(BackupMetadata(backup_id=backup.id, key=key, value=value))
            backup.updated_at = utcnow()
            session.flush()
            return backup_records(session, [backup])[0]

        return self.db.write(write)

    # --- delete and the admin actions ----------------------------------------------------------------
    def delete(self, ctxt: RequestContext, backup_id: str, *, force: bool = False) -> None:
        def write(session: Session) -> str | None:
            backup = get_backup(session, ctxt, backup_id)
            rule = policies.BACKUP_FORCE_DELETE if force else policies.BACKUP_DELETE
            policy.enforce(ctxt, rule, {"project_id": backup.project_id})
            children = session.scalar(
                select(func.count()).select_from(Backup).where(Backup.parent_id == backup.id)
            )
            if children:
                raise invalid_backup("Incremental backups exist for this backup.")
            expected = (
                {BACKUP_AVAILABLE, BACKUP_ERROR, BACKUP_CREATING, BACKUP_RESTORING} if force else DELETABLE
            )
            if backup.status not in expected or not change_backup_status(
                session, backup.id, expected, BACKUP_DELETING
            ):
                raise invalid_backup("Backup status must be available or error.")
            if backup.host is None:
                remove_backup_row(session, backup.id)
                return None
            return backup.host

        host = self.db.write(write)
        if host is not None and self.hosts is not None:
            self.hosts.delete_backup(ctxt, host, backup_id)

    def reset_status(self, ctxt: RequestContext, backup_id: str, body: Any) -> None:
        status = body.get("status") if isinstance(body, Mapping) else None
        if status not in RESETTABLE:
            raise BadRequest(f"Invalid input received: Backup status {status!r} must be available or error.")

        def write(session: Session) -> None:
            backup = get_backup(session, ctxt, backup_id)
            policy.enforce(ctxt, policies.BACKUP_RESET_STATUS, {"project_id": backup.project_id})
            backup.status = str(status)
            backup.updated_at = utcnow()

        self.db.write(write)

    # --- restore --------------------------------------------------------------------------------------
    def restore_to_volume(self, ctxt: RequestContext, backup_id: str, volume_id: str) -> Record:
        """Restore onto an existing volume of at least the backup's size."""

        def write(session: Session) -> tuple[Record, str]:
            backup = get_backup(session, ctxt, backup_id)
            policy.enforce(ctxt, policies.BACKUP_RESTORE, {"project_id": backup.project_id})
            volume = access.get_volume(session, ctxt, volume_id)
            if backup.status != BACKUP_AVAILABLE:
                raise invalid_backup(
                    f"Backup status must be available, but current status is: {backup.status}."
                )
            if volume.size < backup.size:
                raise BadRequest(
                    f"Invalid volume: volume size {volume.size} is too small to restore backup of size "
                    f"{backup.size}."
                )
            if volume.host is None:
                raise BadRequest(f"Invalid volume: Volume {volume.id} has no volume host.")
            if not states.start(session, volume.id, "restore_backup"):
                raise BadRequest(
                    f"Invalid volume: Volume to be restored to must be available, but the current status is "
                    f'"{volume.status}".'
                )
            if not change_backup_status(
                session, backup.id, {BACKUP_AVAILABLE}, BACKUP_RESTORING, restore_volume_id=volume.id
            ):
                raise invalid_backup("Backup status must be available.")
            return {"backup_id": backup.id, "volume_id": volume.id, "volume_name": volume.name}, volume.host

        record, host = self.db.write(write)
        if self.hosts is not None:
            self.hosts.restore_backup(ctxt, host, backup_id, volume_id)
        return record

    def restore_policy(self, ctxt: RequestContext, backup_id: str) -> Record:
        """Check the restore rule and return the backup (a restore to a new volume creates it next)."""
        with self.db.reader() as session:
            backup = get_backup(session, ctxt, backup_id)
            policy.enforce(ctxt, policies.BACKUP_RESTORE, {"project_id": backup.project_id})
            if backup.status != BACKUP_AVAILABLE:
                raise invalid_backup(
                    f"Backup status must be available, but current status is: {backup.status}."
                )
            return backup_records(session, [backup])[0]
