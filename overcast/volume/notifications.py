"""Cinder's notifications (`volume.*`, `snapshot.*`, `backup.*` with `.start`/`.end`), sent by the volume
host as its work ends, with the fields metering bills from (sizes in GiB, the volume type's name).

Each payload is read fresh from the database when sent; a delete's is read before the row goes and sent
with status `deleted`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.models.volume import Snapshot, Volume, VolumeType
from overcast.db.models.volume_backup import Backup


def _type_name(session: Session, type_id: str | None) -> str:
    volume_type = session.get(VolumeType, type_id) if type_id else None
    return volume_type.name if volume_type is not None else ""


def volume_payload(session: Session, volume: Volume) -> dict[str, Any]:
    return {
        "volume_id": volume.id, "tenant_id": volume.project_id, "user_id": volume.user_id,
        "display_name": volume.name, "size": volume.size, "status": volume.status,
        "volume_type": volume.volume_type_id, "volume_type_name": _type_name(session, volume.volume_type_id),
        "availability_zone": volume.availability_zone, "host": volume.host, "created_at": volume.created_at,
        "launched_at": volume.launched_at,
    }  # fmt: skip


def snapshot_payload(session: Session, snapshot: Snapshot) -> dict[str, Any]:
    return {
        "snapshot_id": snapshot.id, "tenant_id": snapshot.project_id, "user_id": snapshot.user_id,
        "volume_id": snapshot.volume_id, "volume_size": snapshot.volume_size, "status": snapshot.status,
        "display_name": snapshot.name, "volume_type_name": _type_name(session, snapshot.volume_type_id),
        "created_at": snapshot.created_at,
    }  # fmt: skip


def backup_payload(session: Session, backup: Backup) -> dict[str, Any]:
    return {
        "backup_id": backup.id, "tenant_id": backup.project_id, "user_id": backup.user_id,
        "volume_id": backup.volume_id, "size": backup.size, "status": backup.status,
        "display_name": backup.name, "availability_zone": backup.availability_zone,
        "created_at": backup.created_at,
    }  # fmt: skip


class VolumeNotifier:
    def __init__(self, cloud: Cloud, publisher_id: str) -> None:
        self.db = cloud.db
        self.notifier = cloud.notifier(publisher_id)

    def payload(self, kind: str, row_id: str) -> dict[str, Any] | None:
        """The payload of a volume, snapshot or backup as the database has it now (None: no such row)."""
        model, build = _KINDS[kind]
        with self.db.reader() as session:
            row = session.get(model, row_id)
            return None if row is None else build(session, row)

    def send(
        self, ctxt: RequestContext, event_type: str, payload: dict[str, Any] | None, **extra: Any
    ) -> None:
        if payload is not None:
            self.notifier.info(ctxt, event_type, {**payload, **extra})

    def current(self, ctxt: RequestContext, kind: str, row_id: str, event: str) -> None:
        """`<kind>.<event>` (e.g. volume.create.end) with the row as it is now."""
        self.send(ctxt, f"{kind}.{event}", self.payload(kind, row_id))


_KINDS: dict[str, tuple[Any, Any]] = {
    "volume": (Volume, volume_payload),
    "snapshot": (Snapshot, snapshot_payload),
    "backup": (Backup, backup_payload),
}
