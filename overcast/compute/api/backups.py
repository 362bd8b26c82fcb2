"""The createBackup server action: a snapshot typed as a backup, which the compute host rotates once it is
uploaded (`ImageActions.backup_instance`: the server's backups of that type beyond `rotation` are deleted;
a rotation of 0 deletes the new one too, as Nova's), so a failed upload never costs an older backup.
"""

from __future__ import annotations

from overcast import errors
from overcast.compute import block_device_mappings
from overcast.compute.api.actions_lifecycle import BackupRotation, ServerActionAPI
from overcast.compute.api.lookup import visible_instance
from overcast.compute.snapshot_images import BACKUP_IMAGE_TYPE
from overcast.context import RequestContext
from overcast.db.engine import Database


class BackupAPI:
    def __init__(self, db: Database, actions: ServerActionAPI) -> None:
        self.db = db
        self.actions = actions

    def backup(
        self,
        ctxt: RequestContext,
        uuid: str,
        name: str,
        backup_type: str,
        rotation: int,
        metadata: dict[str, str] | None = None,
    ) -> str:
        with self.db.reader() as session:
            visible_instance(session, ctxt, uuid)
            mappings = block_device_mappings.of_instance(session, uuid)
        if any(row.boot_index == 0 and row.volume_id for row in mappings):
            raise errors.BadRequest("Backup is not supported for volume-backed instances.")
        properties = {**(metadata or {}), "image_type": BACKUP_IMAGE_TYPE, "backup_type": backup_type}
        return self.actions.create_image(
            ctxt, uuid, name, properties, backup=BackupRotation(backup_type, rotation)
        )
