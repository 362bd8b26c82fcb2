"""Where server snapshots (createImage, shelve) are registered: the placeholder `images` table for now.

The only module that knows where snapshot images live; the Image service replaces these three functions
(create a queued image, store the captured disk, delete it) with calls to its own API.
"""

from __future__ import annotations

from typing import BinaryIO

from sqlalchemy.orm import Session

from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.compute import Instance, PlaceholderImage


def create_snapshot_image(session: Session, instance: Instance, name: str) -> str:
    """A queued private image owned by the server's project; its data arrives with `store_snapshot`."""
    image = PlaceholderImage(
        name=name, status="queued", visibility="private", owner=instance.project_id,
        min_disk=instance.root_gb, min_ram=0, size=0,
    )  # fmt: skip
    session.add(image)
    session.flush()
    return image.id


def store_snapshot(db: Database, image_id: str, data: BinaryIO) -> None:
    """Receive the disk the driver captured. Without an image store only its size is kept."""
    size = 0
    while chunk := data.read(1 << 20):
        size += len(chunk)

    def write(session: Session) -> None:
        image = session.get(PlaceholderImage, image_id)
        if image is not None:
            image.status, image.size, image.updated_at = "active", size, utcnow()

    db.write(write)


def delete_snapshot_image(session: Session, image_id: str) -> None:
    image = session.get(PlaceholderImage, image_id)
    if image is not None:
        session.delete(image)
