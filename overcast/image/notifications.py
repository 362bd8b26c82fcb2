"""Glance's image notifications (`image.activate`, `image.delete`), with the fields metering bills from."""

from __future__ import annotations

from typing import Any

from overcast.bus import Notifier
from overcast.context import RequestContext
from overcast.db.models.image import Image

PUBLISHER = "image"


def image_payload(image: Image) -> dict[str, Any]:
    return {
        "id": image.id, "name": image.name, "owner": image.owner, "status": image.status,
        "size": image.size, "virtual_size": image.virtual_size, "disk_format": image.disk_format,
        "container_format": image.container_format, "visibility": image.visibility,
        "created_at": image.created_at, "updated_at": image.updated_at, "deleted_at": image.deleted_at,
        "deleted": image.deleted,
    }  # fmt: skip


def notify(notifier: Notifier, ctxt: RequestContext | None, event_type: str, image: Image) -> None:
    notifier.info(ctxt or RequestContext.admin(), event_type, image_payload(image))
