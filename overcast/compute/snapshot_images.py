"""Where server snapshots (createImage, shelve) live: a queued image in the registry whose data the
compute host uploads through the image service's data path (hashed and stored like any upload).

The only module that knows where snapshot images live: create a queued image, store the captured disk,
delete it. A cold move's transfer image (the disk on its way to another host) is one of them too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.models.compute import Instance
from overcast.db.models.image import Image
from overcast.image import registry
from overcast.image.api import ImageAPI

LOG = logging.getLogger(__name__)
QCOW2_MAGIC = b"QFI\xfb"
TRANSFER_IMAGE_TYPE = "resize-transfer"
BACKUP_IMAGE_TYPE = "backup"


# Properties of the server's image that describe that image's own data, not the snapshot's (Nova's
# non-inheritable image properties).
NOT_INHERITED = frozenset({
    "img_signature", "img_signature_hash_method", "img_signature_certificate_uuid", "img_signature_key_type",
    "cinder_encryption_key_id", "cinder_encryption_key_deletion_policy", "os_glance_importing_to_stores",
    "os_glance_failed_import", "os_glance_import_task", "os_glance_stage_host",
})  # fmt: skip


def create_snapshot_image(
    session: Session,
    images: ImageAPI,
    ctxt: RequestContext,
    instance: Instance,
    name: str,
    metadata: Mapping[str, str] | None = None,
) -> str:
    """A queued private image owned by the server's project; its data arrives with `store_snapshot`.

    Like Nova's: it inherits the server's image properties, says where it came from (image_type,
    instance_uuid, base_image_ref, user_id), carries createImage's metadata, and counts against the
    project's image quota in the same transaction as the action that asked for it.
    """
    base = registry.get_any(session, instance.image_ref) if instance.image_ref else None
    inherited = {key: value for key, value in (base.properties if base else {}).items()
                 if key not in NOT_INHERITED}  # fmt: skip
    properties = {
        **inherited, "image_type": "snapshot", "instance_uuid": instance.uuid,
        "base_image_ref": instance.image_ref or "", "user_id": ctxt.user_id or instance.user_id,
        **(metadata or {}),
    }  # fmt: skip
    images.quotas.consume(session, instance.project_id, {"images": 1})
    image = registry.add_queued(
        session, name=name, owner=instance.project_id, min_disk=instance.root_gb,
        min_ram=base.min_ram if base else 0, properties=properties,
    )  # fmt: skip
    return image.id


def create_transfer_image(session: Session, instance: Instance) -> str:
    """A queued, hidden, private image that carries the server's disk to another host during a cold
    move (deleted, like any image, once the destination has it). The cloud owns it, not the server's
    project: a move is the operator's business and must not fail on the project's image quota."""
    image = registry.add_queued(
        session, name=f"{instance.uuid}-resize", owner=None, min_disk=instance.root_gb, os_hidden=True,
        properties={"image_type": TRANSFER_IMAGE_TYPE, "instance_uuid": instance.uuid},
    )  # fmt: skip
    return image.id


def store_snapshot(cloud: Cloud, image_id: str, data: BinaryIO, *, api: ImageAPI) -> None:
    """Store the disk the driver captured as the image's data (hashed, in the image store), activating it.

    The format is what the data is: QEMU's snapshots are qcow2, anything else (the fake driver's) raw.
    """
    header = data.read(len(QCOW2_MAGIC))
    disk_format = "qcow2" if header == QCOW2_MAGIC else "raw"

    cloud.db.write(lambda session: registry.describe_queued(session, image_id, disk_format, "bare"))

    def chunks() -> Iterator[bytes]:
        yield header
        while chunk := data.read(1 << 20):
            yield chunk

    api.upload(RequestContext.admin(), image_id, chunks())


def delete_snapshot_image(images: ImageAPI, image_id: str) -> None:
    """Delete a snapshot the way a user's delete does: its data, its quota, its registry entry."""
    try:
        images.delete(RequestContext.admin(), image_id)
    except errors.NotFound:
        pass  # already deleted by its owner
    except errors.Forbidden as exc:
        LOG.warning("Snapshot image %s was kept: %s", image_id, exc.message)  # its owner protected it


def rotate_backups(
    cloud: Cloud, images: ImageAPI, instance_uuid: str, backup_type: str, rotation: int
) -> list[str]:
    """Nova's rotation, run by the compute host once a new backup is uploaded: the server's backups of
    this type beyond the newest `rotation` are deleted (0 deletes them all, the new one too). The ids
    deleted, oldest last."""
    with cloud.db.reader() as session:
        found = session.scalars(
            select(Image).where(Image.deleted.is_(False)).order_by(Image.created_at.desc(), Image.id.desc())
        )
        backups = [
            image.id
            for image in found
            if image.properties.get("instance_uuid") == instance_uuid
            and image.properties.get("image_type") == BACKUP_IMAGE_TYPE
            and image.properties.get("backup_type") == backup_type
        ]
    excess = backups[rotation:]
    for image_id in excess:
        delete_snapshot_image(images, image_id)
    return excess
