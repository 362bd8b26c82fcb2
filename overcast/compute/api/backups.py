"""The createBackup server action: a snapshot typed as a backup, and rotation of the server's older
backups of that type.

Nova rotates once the new backup is uploaded; here the older backups beyond `rotation` are deleted when
the backup is asked for, and the new one is always kept (Nova's rotation of 0 deletes it too once
uploaded), so a failed upload never leaves a server with fewer backups than it asked to keep.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import select

from overcast import errors
from overcast.compute import block_device_mappings
from overcast.compute.api.actions_lifecycle import ServerActionAPI
from overcast.compute.api.lookup import visible_instance
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.image import Image
from overcast.image.api import ImageAPI

BACKUP = "backup"


class BackupAPI:
    def __init__(self, db: Database, actions: ServerActionAPI, images: ImageAPI) -> None:
        self.db = db
        self.actions = actions
        self.images = images

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
        properties = {**(metadata or {}), "image_type": BACKUP, "backup_type": backup_type}
        image_id = self.actions.create_image(ctxt, uuid, name, properties)
        for old in self._older_backups(uuid, backup_type, image_id)[max(rotation - 1, 0) :]:
            with contextlib.suppress(errors.NotFound):  # deleted meanwhile: rotation wanted it gone
                self.images.delete(ctxt, old)
        return image_id

    def _older_backups(self, uuid: str, backup_type: str, newest: str) -> list[str]:
        """The server's earlier backups of this type, newest first."""
        with self.db.reader() as session:
            found = session.scalars(
                select(Image)
                .where(Image.deleted.is_(False), Image.id != newest)
                .order_by(Image.created_at.desc(), Image.id.desc())
            )
            return [
                image.id
                for image in found
                if image.properties.get("instance_uuid") == uuid
                and image.properties.get("image_type") == BACKUP
                and image.properties.get("backup_type") == backup_type
            ]
