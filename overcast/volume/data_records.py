"""Records both sides of snapshots and backups share: backup statuses and their compare-and-swap, and the
removal of a deleted snapshot's or backup's row with its quota, in one transaction.

The API uses them when there is no storage to remove, the volume host's DataActions after removing it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.models.volume import Snapshot, SnapshotMetadata, Volume
from overcast.db.models.volume_backup import Backup, BackupMetadata
from overcast.errors import BadRequest, NotFound
from overcast.volume import states
from overcast.volume.quotas import VolumeQuotaEngine, release_snapshot

# Backup statuses (Cinder's).
BACKUP_CREATING: Final = "creating"
BACKUP_AVAILABLE: Final = "available"
BACKUP_DELETING: Final = "deleting"
BACKUP_RESTORING: Final = "restoring"
BACKUP_ERROR: Final = "error"
BACKUP_ERROR_DELETING: Final = "error_deleting"
BACKUP_STATUSES = (
    BACKUP_CREATING,
    BACKUP_AVAILABLE,
    BACKUP_DELETING,
    BACKUP_RESTORING,
    BACKUP_ERROR,
    BACKUP_ERROR_DELETING,
)
BACKUP_RECOVERY = {
    BACKUP_CREATING: BACKUP_ERROR,
    BACKUP_RESTORING: BACKUP_AVAILABLE,
    BACKUP_DELETING: BACKUP_ERROR_DELETING,
}


def change_backup_status(
    session: Session, backup_id: str, expected: Collection[str], new: str, **columns: Any
) -> bool:
    """The backup's compare-and-swap, as states.change_status."""
    stmt = (
        update(Backup)
        .where(Backup.id == backup_id, Backup.status.in_(list(expected)))
        .values(status=new, **columns)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(session.execute(stmt), "rowcount", 0) == 1)


def release_backup(session: Session, backup: Backup, engine: VolumeQuotaEngine | None = None) -> None:
    (engine or VolumeQuotaEngine()).release(
        session, backup.project_id, {"backups": 1, "backup_gigabytes": backup.size}
    )


def settled_status(volume: Volume) -> str:
    """Where an operation that only read the volume returns it: where it started from."""
    if volume.previous_status in (states.AVAILABLE, states.IN_USE):
        return volume.previous_status
    return states.IN_USE if volume.attach_status == states.ATTACHED else states.AVAILABLE


def remove_snapshot_row(session: Session, snapshot_id: str) -> bool:
    """Delete a deleting snapshot's row and give its quota back, in one transaction."""
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None or snapshot.status not in (states.SNAPSHOT_DELETING, states.SNAPSHOT_ERROR_DELETING):
        return False
    release_snapshot(session, snapshot)
    session.execute(delete(SnapshotMetadata).where(SnapshotMetadata.snapshot_id == snapshot_id))
    session.execute(delete(Snapshot).where(Snapshot.id == snapshot_id))
    return True


def remove_backup_row(session: Session, backup_id: str) -> bool:
    backup = session.get(Backup, backup_id)
    if backup is None or backup.status not in (BACKUP_DELETING, BACKUP_ERROR_DELETING):
        return False
    release_backup(session, backup)
    session.execute(delete(BackupMetadata).where(BackupMetadata.backup_id == backup_id))
    session.execute(delete(Backup).where(Backup.id == backup_id))
    return True


def get_backup(session: Session, ctxt: RequestContext, backup_id: str) -> Backup:
    backup = session.get(Backup, backup_id)
    if backup is None or not (ctxt.is_admin or backup.project_id == ctxt.project_id):
        raise NotFound(f"Backup {backup_id} could not be found.")
    return backup


def volume_source(session: Session, ctxt: RequestContext, backup_id: str, size: int | None) -> int:
    """For a volume created from a backup (3.47 backup_id, and restore to a new volume), in the create's
    transaction: the backup must be available; it goes restoring until the volume host has restored it.
    Returns the new volume's size (the backup's unless a bigger one is asked for)."""
    backup = get_backup(session, ctxt, backup_id)
    if backup.status != BACKUP_AVAILABLE:
        raise BadRequest(
            f"Invalid backup: Backup status must be available, but current status is: {backup.status}."
        )
    size = backup.size if size is None else size
    if size < backup.size:
        raise BadRequest(
            f"Invalid input received: Volume size '{size}'GB cannot be smaller than the backup size "
            f"{backup.size}GB."
        )
    if not change_backup_status(session, backup.id, {BACKUP_AVAILABLE}, BACKUP_RESTORING):
        raise BadRequest("Invalid backup: Backup status must be available.")
    return size


def start_cascade(session: Session, volume_id: str) -> None:
    """A volume delete with cascade=true: every snapshot of the volume goes deleting with it (each must
    be available or error, as Cinder requires); the volume host removes them before the volume."""
    deletable = {states.SNAPSHOT_AVAILABLE, states.SNAPSHOT_ERROR}
    for snapshot in session.scalars(select(Snapshot).where(Snapshot.volume_id == volume_id)):
        if not states.change_snapshot_status(session, snapshot.id, deletable, states.SNAPSHOT_DELETING):
            raise BadRequest(
                f"Invalid volume: Snapshot {snapshot.id} of the volume is {snapshot.status}: it must be "
                "available or error to delete the volume with its snapshots."
            )


def end_restore(session: Session, backup_id: str) -> bool:
    """The backup a restore read is free again (whether the restore worked or not)."""
    return change_backup_status(
        session, backup_id, {BACKUP_RESTORING}, BACKUP_AVAILABLE, restore_volume_id=None
    )
