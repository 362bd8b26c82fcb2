"""Block device mappings at server create: what we can build from them, and a clear 400 for the rest.

Without a volume service the only disk we can build is the root disk copied from an image onto the host
(Nova's boot from image). `block_device_mapping_v2` saying exactly that — source image, destination local,
boot_index 0 — is the same request as `imageRef`; a mapping that needs a volume, or an extra blank local
disk, is refused with a message that says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from overcast import errors
from overcast.compute.api.lookup import id_from_ref

NEEDS_VOLUME_SERVICE = (
    "Block device mappings with {what} need the block storage (volume) service, which this cloud does not "
    "have yet. Boot from an image instead (source_type 'image', destination_type 'local', boot_index 0)."
)


def _boot_index(mapping: Mapping[str, Any]) -> int | None:
    value = mapping.get("boot_index")
    return None if value is None else int(value)


def _source(mapping: Mapping[str, Any]) -> str:
    source = mapping.get("source_type")
    if source:
        return str(source)
    # Legacy keys name the source by the id they carry.
    if mapping.get("volume_id"):
        return "volume"
    if mapping.get("snapshot_id"):
        return "snapshot"
    if mapping.get("image_id"):
        return "image"
    return "blank"


def _destination(mapping: Mapping[str, Any], source: str) -> str:
    destination = mapping.get("destination_type")
    if destination:
        return str(destination)
    return "local" if source in ("image", "blank") else "volume"


def boot_image(image_ref: str | None, mappings: Sequence[Mapping[str, Any]] | None) -> str:
    """The image the root disk is built from: imageRef, or the mappings' image (they must agree)."""
    image_from_mappings: str | None = None
    roots = 0
    for mapping in mappings or ():
        if mapping.get("no_device"):
            continue  # suppresses a device the image would define; our images define none
        source = _source(mapping)
        destination = _destination(mapping, source)
        if destination == "volume" or source in ("volume", "snapshot"):
            what = "destination_type 'volume'" if destination == "volume" else f"source_type '{source}'"
            raise errors.BadRequest(NEEDS_VOLUME_SERVICE.format(what=what))
        if source == "blank":
            raise errors.BadRequest(
                "Block Device Mapping is Invalid: blank local disks (ephemeral or swap) beyond the "
                "flavor's are not supported."
            )
        index = _boot_index(mapping)
        if index != 0:
            raise errors.BadRequest(
                "Block Device Mapping is Invalid: Mapping image to local is not supported."
            )
        roots += 1
        image_from_mappings = str(mapping.get("uuid") or mapping.get("image_id") or "")
        if not image_from_mappings:
            raise errors.BadRequest("Block Device Mapping is Invalid: Missing device UUID.")
    if roots > 1:
        raise errors.BadRequest(
            "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping "
            "combination is not valid."
        )
    image_ref = image_ref or None
    if image_from_mappings is None:
        if image_ref is None:
            raise errors.BadRequest("Missing imageRef attribute")
        return image_ref
    if image_ref is not None and id_from_ref(image_ref) != image_from_mappings:
        raise errors.BadRequest(
            f"The image of block_device_mapping_v2 ({image_from_mappings}) is not imageRef ({image_ref})."
        )
    return image_from_mappings
