"""A cold move's disk on its way to another compute host, through the image service.

The source decides up front: a destination on another host gets the disk as a hidden transfer image
unless `resize_shared_instances_path` says every host reads the others' instances folders (then the
destination copies it in place, as on the same host). The overlay travels alone (no backing reference,
which the image service refuses) when its base is still an active image the destination can fetch;
else flattened. The destination fetches the transfer image (and the base) into its image cache, hash
verified, hands the driver their local paths, and deletes the image and its data whatever happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from overcast import errors
from overcast.cloud import Cloud
from overcast.compute.manager.image_cache import HostImageCache
from overcast.compute.snapshot_images import create_transfer_image, delete_snapshot_image
from overcast.context import RequestContext
from overcast.db.models.compute import Instance
from overcast.virt.driver import ActionNotSupported, ComputeDriver, SnapshotUpload

LOG = logging.getLogger(__name__)
TRANSFER_KEY = "transfer_image_id"


def crosses_hosts(cloud: Cloud, source_host: str, dest_host: str) -> bool:
    return dest_host != source_host and not cloud.settings.resize_shared_instances_path


def export_disk(
    cloud: Cloud,
    cache: HostImageCache,
    driver: ComputeDriver,
    instance: Instance,
    moved: dict[str, Any],
    upload_to: Callable[[str], SnapshotUpload],
) -> dict[str, Any]:
    """Upload the disk the driver set aside as a transfer image; returns the migration data naming it."""
    images = cache.image_api
    base_id = moved.get("base_image_id")
    standalone = not base_id or not _fetchable(cache, str(base_id))
    image_id: str = cloud.db.write(lambda session: create_transfer_image(session, instance))
    try:
        driver.export_migration_disk(
            RequestContext.admin(), instance.uuid, upload_to(image_id), standalone=standalone
        )
    except ActionNotSupported:
        delete_snapshot_image(images, image_id)
        return moved  # nothing to send: the destination's driver needs no disk from here
    except BaseException:
        delete_snapshot_image(images, image_id)
        raise
    LOG.info("Disk of %s exported as image %s (standalone: %s)", instance.uuid, image_id, standalone)
    return {**moved, TRANSFER_KEY: image_id, "base_image_id": None if standalone else base_id}


def _fetchable(cache: HostImageCache, image_id: str) -> bool:
    try:
        return cache.image_api.get(RequestContext.admin(), image_id).image.status == "active"
    except errors.OvercastError:
        return False


def local_files(cache: HostImageCache, driver: ComputeDriver, data: dict[str, Any]) -> dict[str, Any]:
    """The migration data with the local files of the transfer image and its base, fetched here."""
    image_id = data.get(TRANSFER_KEY)
    if not image_id:
        return data
    admin = RequestContext.admin()
    local = {**data, "disk_path": str(cache.fetch(admin, str(image_id)))}
    base_id = data.get("base_image_id")
    if base_id and driver.needs_image_files:
        local["base_path"] = str(cache.fetch(admin, str(base_id)))
    return local


def discard(cache: HostImageCache, data: dict[str, Any] | None) -> None:
    """Delete the transfer image (and its data) and this host's copy of it; never fails the caller."""
    image_id = (data or {}).get(TRANSFER_KEY)
    if not image_id:
        return
    try:
        delete_snapshot_image(cache.image_api, str(image_id))
        cache.path_for(str(image_id)).unlink(missing_ok=True)
    except Exception:
        LOG.exception("Could not delete the transfer image %s", image_id)
