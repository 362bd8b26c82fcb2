"""Where server snapshots (createImage, shelve) live: a queued image in the registry whose data the
compute host uploads through the image service's data path (hashed and stored like any upload).

The only module that knows where snapshot images live: create a queued image, store the captured disk,
delete it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from sqlalchemy.orm import Session

from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.models.compute import Instance, PlaceholderImage
from overcast.image.api import ImageAPI

QCOW2_MAGIC = b"QFI\xfb"


def create_snapshot_image(session: Session, instance: Instance, name: str) -> str:
    """A queued private image owned by the server's project; its data arrives with `store_snapshot`."""
    image = PlaceholderImage(
        name=name, status="queued", visibility="private", owner=instance.project_id,
        min_disk=instance.root_gb, min_ram=0, size=0,
    )  # fmt: skip
    session.add(image)
    session.flush()
    return image.id


def store_snapshot(cloud: Cloud, image_id: str, data: BinaryIO, *, api: ImageAPI | None = None) -> None:
    """Store the disk the driver captured as the image's data (hashed, in the image store), activating it.

    The format is what the data is: QEMU's snapshots are qcow2, anything else (the fake driver's) raw.
    """
    header = data.read(len(QCOW2_MAGIC))
    disk_format = "qcow2" if header == QCOW2_MAGIC else "raw"

    def describe(session: Session) -> None:
        image = session.get(PlaceholderImage, image_id)
        if image is not None and image.status == "queued":
            image.disk_format, image.container_format = disk_format, "bare"

    cloud.db.write(describe)

    def chunks() -> Iterator[bytes]:
        yield header
        while chunk := data.read(1 << 20):
            yield chunk

    (api or ImageAPI(cloud)).upload(RequestContext.admin(), image_id, chunks())


def delete_snapshot_image(session: Session, image_id: str) -> None:
    image = session.get(PlaceholderImage, image_id)
    if image is not None:
        session.delete(image)
