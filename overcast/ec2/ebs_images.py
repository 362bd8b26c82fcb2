"""EBS-backed AMIs: RegisterImage of a snapshot (BlockDeviceMapping with the root device's SnapshotId),
and the block device mappings DescribeImages shows for such images.

An EBS-backed AMI is what Nova's createImage makes of a volume-backed server: an image without data whose
`block_device_mapping` property (bdm_v2) names a volume snapshot for each device, so that compute boots a
server from it on volumes made from the snapshots (compute/api/block_devices.with_image_mappings)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from overcast import errors
from overcast.ec2 import ids
from overcast.ec2.backends import Backends, Ec2Request
from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter
from overcast.ec2.instance_views import ec2_device_name
from overcast.ec2.params import Params
from overcast.ec2.volumes import AWS_VOLUME_TYPES
from overcast.image.patch import ImageChanges
from overcast.image.registry import ImageRecord

DEFAULT_ROOT_DEVICE = "/dev/sda1"
MAX_SIZE_GIB = 16384


def _snapshot(backends: Backends, request: Ec2Request, snapshot_id: str) -> tuple[str, int]:
    """The UUID and size of a snapshot the caller can see (another project's is NotFound)."""
    uuid = backends.resolve(request.context, [snapshot_id], (ids.SNAPSHOT,))[snapshot_id].uuid
    try:
        record = backends.compute.volumes.snapshots.get(request.context, uuid)
    except errors.NotFound:
        raise ids.not_found(ids.SNAPSHOT, [snapshot_id]) from None
    return uuid, int(record["size"])


def _volume_type(ebs: Params) -> str | None:
    """A type of the cloud by its name; AWS's own names get the cloud's default type, as CreateVolume's."""
    name = ebs.get("VolumeType")
    return None if not name or name in AWS_VOLUME_TYPES else name


def _bdm_item(backends: Backends, request: Ec2Request, item: Params, root: bool) -> dict[str, Any]:
    """One BlockDeviceMapping.N as the bdm_v2 item compute boots from."""
    device = item.required("DeviceName")
    if item.get("VirtualName") is not None:
        raise invalid_value(f"{item.prefix}VirtualName", item.get("VirtualName"),
                            "An EBS-backed image of this cloud maps EBS volumes only.")  # fmt: skip
    ebs = item.struct("Ebs")
    size = ebs.integer("VolumeSize", low=1, high=MAX_SIZE_GIB)
    snapshot_id = ebs.get("SnapshotId")
    mapping: dict[str, Any] = {
        "destination_type": "volume", "device_name": device, "boot_index": 0 if root else None,
        "delete_on_termination": ebs.boolean("DeleteOnTermination", True), "volume_type": _volume_type(ebs),
        "disk_bus": "virtio", "device_type": "disk", "guest_format": None, "no_device": None, "tag": None,
    }  # fmt: skip
    if snapshot_id:
        uuid, snapshot_size = _snapshot(backends, request, snapshot_id)
        if size is not None and size < snapshot_size:
            reason = f"The snapshot {snapshot_id} needs a volume of {snapshot_size} GiB."
            raise invalid_value(f"{ebs.prefix}VolumeSize", size, reason)
        mapping.update(source_type="snapshot", snapshot_id=uuid, volume_size=size or snapshot_size)
        return mapping
    if root:
        raise missing_parameter(f"{ebs.prefix}SnapshotId")
    if size is None:
        raise missing_parameter(f"{ebs.prefix}VolumeSize")
    mapping.update(source_type="blank", snapshot_id=None, volume_size=size)
    return mapping


def register_from_snapshots(
    backends: Backends, request: Ec2Request, name: str, properties: dict[str, str]
) -> str:
    """RegisterImage without ImageLocation: an EBS-backed AMI whose root device (RootDeviceName) is a
    volume made from the snapshot its mapping names. Answers the new AMI's id."""
    params = request.params
    root_device = params.get("RootDeviceName") or DEFAULT_ROOT_DEVICE
    items = [item for item in params.structs("BlockDeviceMapping") if not item.has("NoDevice")]
    if not items:
        raise missing_parameter("BlockDeviceMapping")
    devices = [item.required("DeviceName") for item in items]
    if len(set(devices)) != len(devices):
        raise invalid_value("BlockDeviceMapping", ", ".join(devices), "A device is mapped twice.")
    if root_device not in devices:
        raise Ec2Error("InvalidBlockDeviceMapping",
                       f"The root device {root_device} has no block device mapping.")  # fmt: skip
    described = [_bdm_item(backends, request, item, item.get("DeviceName") == root_device) for item in items]
    root_size = next(m["volume_size"] for m in described if m["boot_index"] == 0)
    created = backends.images.create(request.context, ImageChanges(
        core={"name": name, "visibility": "private", "disk_format": "raw", "container_format": "bare",
              "min_disk": root_size},
        properties={**properties, "block_device_mapping": json.dumps(described), "bdm_v2": "True",
                    "root_device_name": root_device},
    ))  # fmt: skip
    # The volumes hold the data: the image's own is empty, as Nova's snapshot of a volume-backed server.
    backends.images.upload(request.context, created.image.id, [b""])
    return backends.ids.id_of(ids.MACHINE_IMAGE, created.image.id, request.project_id)


def _described(record: ImageRecord) -> list[dict[str, Any]]:
    properties = record.image.properties or {}
    raw = properties.get("block_device_mapping")
    if not raw or str(properties.get("bdm_v2", "")).lower() != "true":
        return []
    try:
        described = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return [item for item in described if isinstance(item, dict)] if isinstance(described, list) else []


def mapping_views(backends: Backends, records: Sequence[ImageRecord]) -> dict[str, list[dict[str, Any]]]:
    """Each EBS-backed image's blockDeviceMapping (by image UUID), its snapshots' ids read at once."""
    described = {record.image.id: _described(record) for record in records}
    snapshots = {str(item["snapshot_id"]): record.image.owner for record in records
                 for item in described[record.image.id] if item.get("snapshot_id")}  # fmt: skip
    snapshot_ids = backends.ids.ids_of(ids.SNAPSHOT, snapshots)
    views: dict[str, list[dict[str, Any]]] = {}
    for uuid, items in described.items():
        views[uuid] = []
        for item in items:
            device = str(item.get("device_name") or "")
            ebs: dict[str, Any] = {
                "volumeSize": item.get("volume_size"),
                "deleteOnTermination": bool(item.get("delete_on_termination")), "encrypted": False,
            }  # fmt: skip
            if item.get("snapshot_id"):
                ebs["snapshotId"] = snapshot_ids[str(item["snapshot_id"])]
            if item.get("volume_type"):
                ebs["volumeType"] = str(item["volume_type"])
            views[uuid].append({
                "deviceName": ec2_device_name(device) if "/vd" in device else device, "ebs": ebs,
            })  # fmt: skip
    return views
