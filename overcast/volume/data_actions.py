"""The volume host's snapshot and backup work: an additional endpoint of the volume manager.

The API starts each operation with compare-and-swaps (the snapshot or backup row's status, and the
volume's: backing-up, restoring-backup, reverting) and casts here; this endpoint does the driver's and
the backup engine's work and ends with compare-and-swaps to the final statuses, in one transaction with
the row's deletion and its quota's release when the operation removed something. `recover` moves what a
dead service left transitional.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, BinaryIO, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.models.volume import Snapshot, Volume
from overcast.db.models.volume_backup import Backup
from overcast.manager import rpc_method
from overcast.volume import group_records, states
from overcast.volume.backup import BackupEngine, BackupSettings, Manifest, build_backup_store
from overcast.volume.backup.engine import file_descriptor, is_hole
from overcast.volume.data_records import (
    BACKUP_AVAILABLE,
    BACKUP_CREATING,
    BACKUP_DELETING,
    BACKUP_ERROR,
    BACKUP_ERROR_DELETING,
    BACKUP_RECOVERY,
    change_backup_status,
    end_restore,
    remove_backup_row,
    remove_snapshot_row,
    settled_status,
)
from overcast.volume.drivers.base import COPY_CHUNK, GiB, VolumeDriver
from overcast.volume.notifications import VolumeNotifier

LOG = logging.getLogger(__name__)

_REASON_LIMIT = 1000


def _reason(exc: BaseException) -> str:
    message = exc.message if isinstance(exc, errors.OvercastError) else f"{type(exc).__name__}: {exc}"
    return message[:_REASON_LIMIT]


def build_engine(cloud: Cloud, settings: BackupSettings | None = None) -> BackupEngine:
    settings = settings or BackupSettings()
    store = build_backup_store(settings, cloud.settings.data_dir)
    return BackupEngine(
        store, chunk_size=settings.chunk_size, compression=settings.compression, workers=settings.workers
    )


class DataActions:
    """Snapshots, reverts, backups and restores on this host's driver."""

    # The volume host's one API version, as VolumeHostAPI sends it (1.1 added the manager's get_capabilities).
    RPC_API_VERSION: ClassVar[str] = "1.1"

    def __init__(
        self,
        cloud: Cloud,
        host: str,
        driver: VolumeDriver,
        engine: BackupEngine | None = None,
        notifier: VolumeNotifier | None = None,
    ) -> None:
        self.cloud = cloud
        self.host = host
        self.driver = driver
        self._engine = engine
        self.notifier = notifier or VolumeNotifier(cloud, f"volume.{host}")

    @property
    def engine(self) -> BackupEngine:
        # Built on first use: a volume host that never backs up needs no backup store.
        if self._engine is None:
            self._engine = build_engine(self.cloud)
        return self._engine

    # --- snapshots ------------------------------------------------------------------------------------
    @rpc_method
    def create_snapshot(self, ctxt: RequestContext, snapshot_id: str) -> None:
        snapshot = self._row(Snapshot, snapshot_id)
        if snapshot is None or snapshot.status != states.SNAPSHOT_CREATING:
            LOG.warning("not creating snapshot %s: it is %s", snapshot_id, snapshot and snapshot.status)
            return
        try:
            self.driver.create_snapshot(snapshot.volume_id, snapshot_id)
        except Exception as exc:
            LOG.exception("creating snapshot %s failed", snapshot_id)
            reason = _reason(exc)
            self._end_snapshot_create(snapshot, states.SNAPSHOT_ERROR, fail_reason=reason)
            return
        if self._end_snapshot_create(snapshot, states.SNAPSHOT_AVAILABLE, progress="100%"):
            self.notifier.current(ctxt, "snapshot", snapshot_id, "create.end")

    def _end_snapshot_create(self, snapshot: Snapshot, new: str, **columns: Any) -> bool:
        """The snapshot's final compare-and-swap; a group snapshot's member also settles the group
        snapshot in the same transaction (the last member to finish decides it)."""

        def write(session: Session) -> bool:
            if not states.change_snapshot_status(
                session, snapshot.id, {states.SNAPSHOT_CREATING}, new, **columns
            ):
                return False
            if snapshot.group_snapshot_id is not None:
                group_records.settle_group_snapshot(session, snapshot.group_snapshot_id)
            return True

        return bool(self._write(write))

    @rpc_method
    def delete_snapshot(self, ctxt: RequestContext, snapshot_id: str) -> None:
        snapshot = self._row(Snapshot, snapshot_id)
        if snapshot is None or snapshot.status != states.SNAPSHOT_DELETING:
            LOG.warning("not deleting snapshot %s: it is %s", snapshot_id, snapshot and snapshot.status)
            return
        try:
            self.driver.delete_snapshot(snapshot_id)
        except Exception as exc:
            LOG.exception("deleting snapshot %s failed", snapshot_id)
            reason = _reason(exc)
            group_snapshot_id = snapshot.group_snapshot_id

            def failed(session: Session) -> None:
                expected = {states.SNAPSHOT_DELETING}
                states.change_snapshot_status(
                    session, snapshot_id, expected, states.SNAPSHOT_ERROR_DELETING, fail_reason=reason
                )
                if group_snapshot_id is not None:
                    group_records.fail_group_snapshot_delete(session, group_snapshot_id)

            self._write(failed)
            return
        deleted = self.notifier.payload("snapshot", snapshot_id)
        self._write(lambda s: self._remove_member_snapshot(s, snapshot))
        self.notifier.send(ctxt, "snapshot.delete.end", deleted, status="deleted")

    @staticmethod
    def _remove_member_snapshot(session: Session, snapshot: Snapshot) -> None:
        """The row and its quota go; a group snapshot's row goes with its last member."""
        if remove_snapshot_row(session, snapshot.id) and snapshot.group_snapshot_id is not None:
            group_records.remove_group_snapshot_if_emptied(session, snapshot.group_snapshot_id)

    def delete_snapshots_of(self, volume_id: str) -> None:
        """The snapshots a cascading volume delete moved to deleting: storage, then row and quota."""
        with self.cloud.db.reader() as session:
            query = select(Snapshot.id).where(
                Snapshot.volume_id == volume_id, Snapshot.status == states.SNAPSHOT_DELETING
            )
            snapshot_ids = list(session.scalars(query))
        for snapshot_id in snapshot_ids:
            self.driver.delete_snapshot(snapshot_id)
            deleted = self.notifier.payload("snapshot", snapshot_id)
            self._remove_snapshot(snapshot_id)
            self.notifier.send(RequestContext.admin(), "snapshot.delete.end", deleted, status="deleted")

    def _remove_snapshot(self, snapshot_id: str) -> None:
        self._write(lambda s: remove_snapshot_row(s, snapshot_id))

    @rpc_method
    def revert_to_snapshot(self, ctxt: RequestContext, volume_id: str, snapshot_id: str) -> None:
        """Write the snapshot's bytes over the volume (its tail, when it grew since, becomes zeros)."""
        volume = self._row(Volume, volume_id)
        if volume is None or volume.status != states.REVERTING:
            LOG.warning("not reverting volume %s: it is %s", volume_id, volume and volume.status)
            return
        try:
            with (
                self.driver.open_snapshot(snapshot_id) as source,
                self.driver.open_volume(volume_id, True) as target,
            ):
                _overwrite(source, target, volume.size * GiB)
        except Exception as exc:
            LOG.exception("reverting volume %s to snapshot %s failed", volume_id, snapshot_id)
            reason = _reason(exc)
            self._write(lambda s: self._end_revert(s, volume_id, snapshot_id, states.ERROR, reason))
            return
        self._write(lambda s: self._end_revert(s, volume_id, snapshot_id, states.AVAILABLE, None))

    @staticmethod
    def _end_revert(
        session: Session, volume_id: str, snapshot_id: str, status: str, reason: str | None
    ) -> None:
        states.change_status(session, volume_id, {states.REVERTING}, status, fail_reason=reason)
        states.change_snapshot_status(
            session, snapshot_id, {states.SNAPSHOT_RESTORING}, states.SNAPSHOT_AVAILABLE
        )

    # --- backups --------------------------------------------------------------------------------------
    @rpc_method
    def create_backup(self, ctxt: RequestContext, backup_id: str) -> None:
        backup = self._row(Backup, backup_id)
        if backup is None or backup.status != BACKUP_CREATING:
            LOG.warning("not creating backup %s: it is %s", backup_id, backup and backup.status)
            return
        volume_id, snapshot_id = backup.volume_id, backup.snapshot_id
        try:
            parent = self._parent_manifest(backup)
            opened = (
                self.driver.open_snapshot(snapshot_id)
                if snapshot_id
                else self.driver.open_volume(volume_id, False)
            )
            with opened as source:
                size = self.driver.volume_size(volume_id) if not snapshot_id else backup.size * GiB
                manifest, location = self.engine.backup(backup_id, volume_id, source, size, parent)
        except Exception as exc:
            LOG.exception("backing up volume %s to backup %s failed", volume_id, backup_id)
            reason = _reason(exc)
            self._write(lambda s: self._end_backup(s, backup, BACKUP_ERROR, fail_reason=reason))
            return
        if not self._write(
            lambda s: self._end_backup(
                s,
                backup,
                BACKUP_AVAILABLE,
                object_count=manifest.object_count,
                manifest_location=location,
                fail_reason=None,
            )
        ):
            # Deleted or reset meanwhile: what was stored belongs to nobody.
            self.engine.delete(backup_id, location)
        else:
            self.notifier.current(ctxt, "backup", backup_id, "create.end")

    def _parent_manifest(self, backup: Backup) -> Manifest | None:
        if backup.parent_id is None:
            return None
        parent = self._row(Backup, backup.parent_id)
        if parent is None or not parent.manifest_location:
            raise errors.Conflict(f"The parent backup {backup.parent_id} has no data.")
        return self.engine.read_manifest(parent.manifest_location)

    @staticmethod
    def _end_backup(session: Session, backup: Backup, status: str, **columns: Any) -> bool:
        """The backup's final status, and its volume (or snapshot) back to where it was."""
        changed = change_backup_status(session, backup.id, {BACKUP_CREATING}, status, **columns)
        if backup.snapshot_id:
            states.change_snapshot_status(
                session, backup.snapshot_id, {states.SNAPSHOT_BACKING_UP}, states.SNAPSHOT_AVAILABLE
            )
        else:
            volume = session.get(Volume, backup.volume_id)
            if volume is not None:
                states.change_status(session, volume.id, {states.BACKING_UP}, settled_status(volume))
        return changed

    @rpc_method
    def restore_backup(self, ctxt: RequestContext, backup_id: str, volume_id: str) -> None:
        """Restore onto an existing volume (the API set it restoring-backup and the backup restoring)."""
        volume = self._row(Volume, volume_id)
        if volume is None or volume.status != states.RESTORING_BACKUP:
            LOG.warning("not restoring onto volume %s: it is %s", volume_id, volume and volume.status)
            self.finish_restore_of_new_volume(backup_id)
            return
        try:
            self.restore_into(backup_id, volume_id, target_is_zeroed=False)
        except Exception as exc:
            LOG.exception("restoring backup %s onto volume %s failed", backup_id, volume_id)
            reason = _reason(exc)
            self._write(lambda s: self._end_restore(s, backup_id, volume_id, states.ERROR_RESTORING, reason))
            return
        self._write(lambda s: self._end_restore(s, backup_id, volume_id, states.AVAILABLE, None))

    def restore_into(self, backup_id: str, volume_id: str, *, target_is_zeroed: bool) -> None:
        """Write the backup's bytes onto the volume (also the manager's create from a backup)."""
        backup = self._row(Backup, backup_id)
        if backup is None or not backup.manifest_location:
            raise errors.Conflict(f"Backup {backup_id} has no data to restore.")
        manifest = self.engine.read_manifest(backup.manifest_location)
        if manifest.size_bytes > self.driver.volume_size(volume_id):
            raise errors.Conflict(f"Volume {volume_id} is smaller than backup {backup_id}.")
        with self.driver.open_volume(volume_id, True) as target:
            self.engine.restore(manifest, target, target_is_zeroed=target_is_zeroed)

    def finish_restore_of_new_volume(self, backup_id: str) -> None:
        """The backup a restore read is free again (whether the restore worked or not)."""
        self._write(lambda s: end_restore(s, backup_id))

    @staticmethod
    def _end_restore(
        session: Session, backup_id: str, volume_id: str, status: str, reason: str | None
    ) -> None:
        states.change_status(session, volume_id, {states.RESTORING_BACKUP}, status, fail_reason=reason)
        end_restore(session, backup_id)

    @rpc_method
    def delete_backup(self, ctxt: RequestContext, backup_id: str) -> None:
        backup = self._row(Backup, backup_id)
        if backup is None or backup.status != BACKUP_DELETING:
            LOG.warning("not deleting backup %s: it is %s", backup_id, backup and backup.status)
            return
        try:
            self.engine.delete(backup_id, backup.manifest_location)
        except Exception as exc:
            LOG.exception("deleting backup %s failed", backup_id)
            reason = _reason(exc)
            self._write(
                lambda s: change_backup_status(
                    s, backup_id, {BACKUP_DELETING}, BACKUP_ERROR_DELETING, fail_reason=reason
                )
            )
            return
        deleted = self.notifier.payload("backup", backup_id)
        self._write(lambda s: remove_backup_row(s, backup_id))
        self.notifier.send(ctxt, "backup.delete.end", deleted, status="deleted")

    # --- crash recovery -------------------------------------------------------------------------------
    def recover(self) -> None:
        """Backups this host left creating, restoring or deleting when it died."""
        with self.cloud.db.reader() as session:
            query = select(Backup).where(Backup.host == self.host, Backup.status.in_(list(BACKUP_RECOVERY)))
            stuck = [(backup.id, backup.status) for backup in session.scalars(query)]
        for backup_id, status in stuck:
            target = BACKUP_RECOVERY[status]
            reason = f"The volume service on host {self.host} stopped while the backup was {status}."
            columns: dict[str, Any] = {"fail_reason": reason} if target.startswith("error") else {}
            self._backup_to(backup_id, status, target, **columns)
            LOG.warning("backup %s was %s when the service stopped: now %s", backup_id, status, target)

    # --- helpers --------------------------------------------------------------------------------------
    def _row(self, model: Any, row_id: str) -> Any:
        with self.cloud.db.reader() as session:
            return session.get(model, row_id)

    def _write(self, work: Callable[[Session], Any]) -> Any:
        return self.cloud.db.write(work)

    def _snapshot_to(self, snapshot_id: str, expected: str, new: str, **columns: Any) -> bool:
        return bool(
            self._write(lambda s: states.change_snapshot_status(s, snapshot_id, {expected}, new, **columns))
        )

    def _backup_to(self, backup_id: str, expected: str, new: str, **columns: Any) -> bool:
        return bool(self._write(lambda s: change_backup_status(s, backup_id, {expected}, new, **columns)))


def _overwrite(source: BinaryIO, target: BinaryIO, size: int) -> None:
    """Make `target`'s first `size` bytes those of `source` (zeros past its end), writing only the
    pieces that differ: a revert then rewrites what changed since the snapshot, not the whole volume,
    and the holes of a sparse volume stay holes."""
    source_fd, target_fd = file_descriptor(source), file_descriptor(target)
    position = 0
    while position < size:
        length = min(COPY_CHUNK, size - position)
        if source_fd is not None and target_fd is not None:
            if is_hole(source_fd, position, length) and is_hole(target_fd, position, length):
                position += length
                continue
            source.seek(position)
        wanted = source.read(length)
        wanted += bytes(length - len(wanted))
        target.seek(position)
        if target.read(length) != wanted:
            target.seek(position)
            target.write(wanted)
        position += length
    target.flush()
