"""Block device mappings at server create: what the server boots from and which volumes it gets.

`block_device_mapping_v2` items (Nova's, with the legacy keys that name their source by the id they
carry) are checked as Nova checks them and become a `BootPlan`: the image of an image-backed root disk
(source image, destination local, boot_index 0: the same request as `imageRef`), and the volumes the
compute host connects before the VM starts: an existing volume (source volume), or one it has the volume
service make from an image, a snapshot or nothing (source image/snapshot/blank, destination volume, with
`volume_size`). A volume at boot_index 0 is the root disk: the server is volume-backed and needs no
imageRef (Nova keeps its image_ref empty).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute.api.lookup import id_from_ref
from overcast.compute.block_device_mappings import ROOT_DEVICE_NAME, next_device_name
from overcast.db.models.block_device_mapping import BlockDeviceMapping

INVALID = "Block Device Mapping is Invalid: {why}"
BAD_BOOT_SEQUENCE = "Boot sequence for the instance and image/block device mapping combination is not valid."


def _invalid(why: str) -> errors.BadRequest:
    return errors.BadRequest(INVALID.format(why=why))


@dataclass(frozen=True)
class VolumeMapping:
    """One volume a new server gets: `uuid` names the volume, image or snapshot of its source."""

    source_type: str  # volume, image, snapshot, blank
    uuid: str | None
    boot_index: int | None
    volume_size: int | None = None
    delete_on_termination: bool = False
    tag: str | None = None
    volume_type: str | None = None

    @property
    def is_root(self) -> bool:
        return self.boot_index == 0


@dataclass(frozen=True)
class BootPlan:
    image_ref: str  # "" for a volume-backed server
    volumes: tuple[VolumeMapping, ...] = ()

    @property
    def volume_backed(self) -> bool:
        return any(volume.is_root for volume in self.volumes)

    def mappings(self, instance_uuid: str) -> list[BlockDeviceMapping]:
        """The rows of one server: the root volume as /dev/vda, the others after it in order."""
        rows: list[BlockDeviceMapping] = []
        used: list[str] = []
        for volume in sorted(self.volumes, key=lambda v: not v.is_root):
            name = ROOT_DEVICE_NAME if volume.is_root else next_device_name(used, root_is_volume=True)
            used.append(name)
            source_id = {volume.source_type: volume.uuid}
            rows.append(BlockDeviceMapping(
                instance_uuid=instance_uuid, source_type=volume.source_type, destination_type="volume",
                boot_index=volume.boot_index, device_name=name,
                delete_on_termination=volume.delete_on_termination, volume_id=source_id.get("volume"),
                image_id=source_id.get("image"), snapshot_id=source_id.get("snapshot"),
                volume_size=volume.volume_size, volume_type=volume.volume_type, tag=volume.tag,
            ))  # fmt: skip
        return rows


def _boot_index(mapping: Mapping[str, Any]) -> int | None:
    value = mapping.get("boot_index")
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid(f"Boot index {value} is invalid.") from None


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


def _source_id(mapping: Mapping[str, Any], source: str) -> str | None:
    found = mapping.get("uuid") or mapping.get(f"{source}_id")
    return str(found) if found else None


def _volume(mapping: Mapping[str, Any], source: str, index: int | None) -> VolumeMapping:
    uuid = _source_id(mapping, source)
    if source != "blank" and not uuid:
        raise _invalid("Missing device UUID.")
    size = mapping.get("volume_size")
    if source in ("image", "blank") and not size:
        what = "Images" if source == "image" else "Blank volumes"
        raise _invalid(f"{what} with destination_type 'volume' need to have a non-zero size specified")
    if source == "blank" and index == 0:
        raise _invalid(BAD_BOOT_SEQUENCE)
    return VolumeMapping(
        source_type=source, uuid=uuid, boot_index=index, volume_size=int(size) if size else None,
        delete_on_termination=bool(mapping.get("delete_on_termination")), tag=mapping.get("tag"),
        volume_type=mapping.get("volume_type"),
    )  # fmt: skip


def boot_plan(image_ref: str | None, mappings: Sequence[Mapping[str, Any]] | None) -> BootPlan:
    """What the server boots from (imageRef, or the mappings' image or root volume) and its volumes."""
    image_from_mappings: str | None = None
    volumes: list[VolumeMapping] = []
    roots = 0
    for mapping in mappings or ():
        if mapping.get("no_device"):
            continue  # suppresses a device the image would define; our images define none
        source = _source(mapping)
        index = _boot_index(mapping)
        if _destination(mapping, source) == "volume":
            volumes.append(_volume(mapping, source, index))
            roots += index == 0
            continue
        if source in ("volume", "snapshot"):
            raise _invalid(f"Mapping {source} to local is not supported.")
        if source == "blank":
            raise _invalid("blank local disks (ephemeral or swap) beyond the flavor's are not supported.")
        if index != 0:
            raise _invalid("Mapping image to local is not supported.")
        roots += 1
        image_from_mappings = _source_id(mapping, source) or ""
        if not image_from_mappings:
            raise _invalid("Missing device UUID.")
    if roots > 1:
        raise _invalid(BAD_BOOT_SEQUENCE)
    _refuse_duplicates(v.uuid for v in volumes if v.source_type == "volume")
    if any(volume.is_root for volume in volumes):
        return BootPlan("", tuple(volumes))  # volume-backed: imageRef, if any, is not what boots
    image_ref = image_ref or None
    if image_from_mappings is None:
        if image_ref is None:
            raise errors.BadRequest("Missing imageRef attribute")
        return BootPlan(image_ref, tuple(volumes))
    if image_ref is not None and id_from_ref(image_ref) != image_from_mappings:
        raise errors.BadRequest(
            f"The image of block_device_mapping_v2 ({image_from_mappings}) is not imageRef ({image_ref})."
        )
    return BootPlan(image_from_mappings, tuple(volumes))


def with_image_mappings(plan: BootPlan, image_properties: Mapping[str, Any]) -> BootPlan:
    """An image made by createImage of a volume-backed server carries its volumes' snapshots in its
    `block_device_mapping` property (bdm_v2): booting it makes the server volume-backed again, with a
    volume from each snapshot (Nova merges the image's mappings the same way)."""
    raw = image_properties.get("block_device_mapping")
    if plan.volume_backed or not raw or str(image_properties.get("bdm_v2", "")).lower() != "true":
        return plan
    try:
        described = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return plan  # not ours to judge: the image boots as an image
    if not isinstance(described, list):
        return plan
    from_image = boot_plan("", [item for item in described if isinstance(item, Mapping)])
    return BootPlan("", (*from_image.volumes, *plan.volumes)) if from_image.volume_backed else plan


def _refuse_duplicates(volume_ids: Iterable[str | None]) -> None:
    seen: set[str] = set()
    for volume_id in volume_ids:
        if volume_id in seen:
            raise _invalid(f"Volume {volume_id} is mapped more than once.")
        seen.add(str(volume_id))


def legacy_mappings(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Legacy (v1) `block_device_mapping` items as v2 ones: each names a volume or a snapshot; the one
    at the root device name (vda) boots the server."""
    mappings = []
    for item in items:
        root = str(item.get("device_name") or "").removeprefix("/dev/") in ("vda", "sda", "xvda", "hda")
        mapping = {
            "source_type": "snapshot" if item.get("snapshot_id") and not item.get("volume_id") else "volume",
            "destination_type": "volume", "uuid": item.get("volume_id") or item.get("snapshot_id"),
            "boot_index": 0 if root else None, "volume_size": item.get("volume_size"),
            "delete_on_termination": item.get("delete_on_termination"),
        }  # fmt: skip
        if item.get("no_device"):
            mapping["no_device"] = True
        mappings.append(mapping)
    return mappings


def check_volumes(plan: BootPlan, count: int, volume_status: Any) -> None:
    """Nova's create-time checks of the mapped volumes: an existing volume goes to one server only, and
    must be available (`volume_status(id)` reads its status; an unknown one is Nova's 400)."""
    existing = [volume.uuid for volume in plan.volumes if volume.source_type == "volume"]
    if existing and count > 1:
        raise errors.BadRequest("Cannot attach one or more volumes to multiple instances")
    for volume_id in existing:
        try:
            status = volume_status(volume_id)
        except errors.NotFound:
            raise _invalid(f"failed to get volume {volume_id}.") from None
        if status != "available":
            raise errors.BadRequest(
                f"Invalid volume: volume {volume_id} status must be available, but it is {status}"
            )


def add_mappings(session: Session, plan: BootPlan, instance_uuids: Iterable[str]) -> None:
    for uuid in instance_uuids:
        session.add_all(plan.mappings(uuid))
