"""EBS on the volume service: CreateVolume, DescribeVolumes, AttachVolume, DetachVolume, DeleteVolume,
CreateSnapshot, DescribeSnapshots, DeleteSnapshot.

Volumes and snapshots are the volume service's (its policy, quotas and states; `VolumeAPI` in-process);
attaching goes through compute's os-volume_attachments, as Nova's EC2 API did. A guest names its virtio
disks itself: the `Device` an attach asks for (`/dev/sdf`) is checked, and the device shown is the one
the server got (`/dev/sdb` for its vdb, as DescribeInstances names its block devices).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from overcast import errors
from overcast.compute import policies as compute_policies
from overcast.ec2 import client_tokens, ids
from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Handler, Response, listing_recorder
from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter
from overcast.ec2.filtering import FilterTable
from overcast.ec2.instance_views import ec2_device_name
from overcast.ec2.pagination import PageRules, page
from overcast.ec2.params import filters_of
from overcast.ec2.tags import set_tags, tag_set, tag_specifications, tags_of
from overcast.volume import policies as volume_policies
from overcast.volume.api.records import Record
from overcast.volume.api.snapshots import ListOptions

# AWS's volume types; a volume asked for with one of them gets the cloud's default type.
AWS_VOLUME_TYPES = frozenset({"standard", "gp2", "gp3", "io1", "io2", "st1", "sc1"})
MAX_SIZE_GIB = 16384
# The names AWS takes for a data volume's device (a guest's own names, vdX, are taken too).
_DEVICE = re.compile(r"/dev/(sd[b-z]|xvd[b-z]|vd[b-z])[a-z]?[0-9]{0,2}")
# Cinder's states in EBS's words (creating, available, in-use, deleting, deleted, error).
_VOLUME_STATES = {
    "creating": "creating", "downloading": "creating", "restoring-backup": "creating",
    "available": "available", "reserved": "available", "attaching": "in-use", "in-use": "in-use",
    "detaching": "in-use", "deleting": "deleting", "extending": "available", "uploading": "available",
    "retyping": "available", "backing-up": "available", "maintenance": "available",
}  # fmt: skip
_SNAPSHOT_STATES = {"creating": "pending", "available": "completed", "deleting": "pending",
                    "backing-up": "completed", "restoring": "completed"}  # fmt: skip


def _time(text: str | None) -> datetime | None:
    """A Cinder timestamp (naive UTC) as the aware datetime the XML renders in AWS's format."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


def _volume_state(record: Record) -> str:
    status = str(record["status"])
    if status in _VOLUME_STATES:
        state = _VOLUME_STATES[status]
        # A volume that is being extended or retyped keeps showing whether it is attached.
        return "in-use" if state == "available" and record["attachments"] else state
    return "error"


def _attachment_view(record: Record, volume_id: str, instance_ids: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "attachTime": _time(attachment.get("attached_at")),
            "device": ec2_device_name(attachment.get("device")),
            "instanceId": instance_ids.get(str(attachment["server_id"]), ""),
            "status": "detaching" if record["status"] == "detaching" else "attached",
            "volumeId": volume_id,
            "deleteOnTermination": False,
        }
        for attachment in record["attachments"]
    ]


def _volume_views(backends: Backends, records: Sequence[Record]) -> list[dict[str, Any]]:
    """EBS's view of each volume, its id, its attachments' instance ids and its tags read in one batch."""
    volume_ids = backends.ids.ids_of(ids.VOLUME, {str(r["id"]): r["_project_id"] for r in records})
    servers = {str(a["server_id"]): r["_project_id"] for r in records for a in r["attachments"]}
    instance_ids = backends.ids.ids_of(ids.INSTANCE, servers)
    snapshots = {str(r["snapshot_id"]): r["_project_id"] for r in records if r.get("snapshot_id")}
    snapshot_ids = backends.ids.ids_of(ids.SNAPSHOT, snapshots)
    with backends.db.reader() as session:
        tags = tags_of(session, list(volume_ids.values()))
    views = []
    for record in records:
        volume_id = volume_ids[str(record["id"])]
        views.append({
            "volumeId": volume_id,
            "size": record["size"],
            "snapshotId": snapshot_ids.get(str(record.get("snapshot_id")), ""),
            "availabilityZone": record["availability_zone"],
            "status": _volume_state(record),
            "createTime": _time(record["created_at"]),
            "attachmentSet": _attachment_view(record, volume_id, instance_ids),
            "tagSet": tag_set(tags.get(volume_id, {})) or None,
            "volumeType": record["volume_type"],
            "encrypted": False,
            "multiAttachEnabled": bool(record["multiattach"]),
        })  # fmt: skip
    return views


record_volumes = listing_recorder(
    ids.VOLUME,
    lambda backends, request: backends.compute.volumes.volumes.list(request.context)[0],
    owner="_project_id",
)
record_snapshots = listing_recorder(
    ids.SNAPSHOT,
    lambda backends, request: backends.compute.volumes.snapshots.list(request.context, ListOptions())[0],
    owner="os-extended-snapshot-attributes:project_id",
)


def volume_uuid(backends: Backends, request: Ec2Request, ec2_id: str) -> str:
    return backends.resolve(request.context, [ec2_id], (ids.VOLUME,))[ec2_id].uuid


def _volume(backends: Backends, request: Ec2Request, ec2_id: str) -> Record:
    return backends.compute.volumes.get(request.context, volume_uuid(backends, request, ec2_id))


# --- volumes ----------------------------------------------------------------------------------------
def create_volume(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    size = params.integer("Size", low=1, high=MAX_SIZE_GIB)
    snapshot = params.get("SnapshotId")
    if size is None and not snapshot:
        raise missing_parameter("Size")
    if params.boolean("Encrypted"):
        raise invalid_value("Encrypted", "true", "This cloud has no encrypted volumes.")
    tags = tag_specifications(params, "volume")
    snapshot_uuid = None
    if snapshot:
        snapshot_uuid = backends.resolve(request.context, [snapshot], (ids.SNAPSHOT,))[snapshot].uuid
        backends.compute.volumes.snapshots.get(request.context, snapshot_uuid)  # another project's: NotFound
    volume_type, zone = params.get("VolumeType"), params.get("AvailabilityZone")

    def create() -> str:
        record = backends.compute.volumes.create(
            request.context, size, snapshot_id=snapshot_uuid, availability_zone=zone,
            volume_type=None if volume_type in AWS_VOLUME_TYPES else volume_type,
            multiattach=params.boolean("MultiAttachEnabled"),
        )  # fmt: skip
        return str(record["id"])

    def answer(uuid: str, first: bool) -> Response:
        view = _volume_views(backends, [backends.compute.volumes.get(request.context, uuid)])[0]
        if first and tags:
            set_tags(backends, request.project_id, [view["volumeId"]], tags)
            view["tagSet"] = tag_set(tags)
        view.pop("attachmentSet")
        return view

    return client_tokens.idempotent(backends, request, create, answer)


VOLUME_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "attachment.attach-time": lambda v: [a["attachTime"].isoformat() for a in v["attachmentSet"]],
    "attachment.delete-on-termination": lambda v: [a["deleteOnTermination"] for a in v["attachmentSet"]],
    "attachment.device": lambda v: [a["device"] for a in v["attachmentSet"]],
    "attachment.instance-id": lambda v: [a["instanceId"] for a in v["attachmentSet"]],
    "attachment.status": lambda v: [a["status"] for a in v["attachmentSet"]],
    "availability-zone": lambda v: v["availabilityZone"],
    "create-time": lambda v: v["createTime"].isoformat() if v["createTime"] else None,
    "encrypted": lambda v: v["encrypted"],
    "multi-attach-enabled": lambda v: v["multiAttachEnabled"],
    "fast-restored": lambda v: False,
    "size": lambda v: v["size"],
    "snapshot-id": lambda v: v["snapshotId"],
    "status": lambda v: v["status"],
    "volume-id": lambda v: v["volumeId"],
    "volume-type": lambda v: v["volumeType"],
}, tags=lambda v: {tag["key"]: tag["value"] for tag in v["tagSet"] or []})  # fmt: skip


def describe_volumes(backends: Backends, request: Ec2Request) -> Response:
    wanted = request.params.strings("VolumeId")
    filters = filters_of(request.params)
    VOLUME_FILTERS.check(filters)
    if wanted:
        if request.params.has("MaxResults"):
            raise Ec2Error("InvalidParameterCombination", "The parameter volumeSet cannot be used with "
                                                          "the parameter maxResults")  # fmt: skip
        found = backends.resolve(request.context, wanted, (ids.VOLUME,))
        records = [backends.compute.volumes.get(request.context, found[ec2_id].uuid) for ec2_id in wanted]
    else:
        records, _ = backends.compute.volumes.volumes.list(request.context, sort=[("created_at", "asc")])
    views = VOLUME_FILTERS.apply(_volume_views(backends, records), filters)
    shown, token = page(views, request.params, key=backends.token_key,
                        scope=f"DescribeVolumes:{request.project_id}", rules=PageRules(5, 500))  # fmt: skip
    return {"volumeSet": list(shown), "nextToken": token}


def delete_volume(backends: Backends, request: Ec2Request) -> Response:
    uuid = volume_uuid(backends, request, request.params.required("VolumeId"))
    backends.compute.volumes.delete(request.context, uuid)
    return {"return": True}


def _instance_uuid(backends: Backends, ec2_id: str) -> str:
    return backends.ids.resolve([ec2_id], (ids.INSTANCE,))[ec2_id].uuid


def attach_volume(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    device = params.required("Device")
    instance = params.required("InstanceId")
    volume = params.required("VolumeId")
    if not _DEVICE.fullmatch(device):
        raise invalid_value("device", device, f"{device} is not a valid EBS device name.")
    volume_uuid_of_id = volume_uuid(backends, request, volume)
    instance_uuid = _instance_uuid(backends, instance)
    try:
        attached = backends.compute.volume_attachments.attach(
            request.context, instance_uuid, volume_uuid_of_id
        )
    except errors.NotFound:
        # Which of the two is missing (or another project's) decides AWS's code.
        backends.compute.volumes.get(request.context, volume_uuid_of_id)
        raise ids.not_found(ids.INSTANCE, [instance]) from None
    return {
        "attachTime": backends.clock(), "device": ec2_device_name(attached.device), "instanceId": instance,
        "status": "attaching", "volumeId": volume,
    }  # fmt: skip


def detach_volume(backends: Backends, request: Ec2Request) -> Response:
    volume = request.params.required("VolumeId")
    record = _volume(backends, request, volume)
    attachments = record["attachments"]
    instance = request.params.get("InstanceId")
    if instance is not None:
        instance_uuid = _instance_uuid(backends, instance)
        attachments = [a for a in attachments if str(a["server_id"]) == instance_uuid]
    if not attachments:
        state = _volume_state(record)
        raise Ec2Error("IncorrectState", f"Volume '{volume}' is in the '{state}' state.")
    attachment = attachments[0]
    server_uuid = str(attachment["server_id"])
    backends.compute.volume_attachments.detach(request.context, server_uuid, str(record["id"]))
    return {
        "attachTime": _time(attachment.get("attached_at")),
        "device": ec2_device_name(attachment.get("device")),
        "instanceId": instance or backends.ids.id_of(ids.INSTANCE, server_uuid, record["_project_id"]),
        "status": "detaching", "volumeId": volume,
    }  # fmt: skip


# --- snapshots --------------------------------------------------------------------------------------
def _snapshot_views(backends: Backends, records: Sequence[Record]) -> list[dict[str, Any]]:
    owners = {str(r["id"]): str(r["os-extended-snapshot-attributes:project_id"]) for r in records}
    snapshot_ids = backends.ids.ids_of(ids.SNAPSHOT, dict(owners))
    volume_ids = backends.ids.ids_of(ids.VOLUME, {str(r["volume_id"]): owners[str(r["id"])] for r in records})
    with backends.db.reader() as session:
        tags = tags_of(session, list(snapshot_ids.values()))
    views = []
    for record in records:
        snapshot_id = snapshot_ids[str(record["id"])]
        status = _SNAPSHOT_STATES.get(str(record["status"]), "error")
        views.append({
            "snapshotId": snapshot_id,
            "volumeId": volume_ids[str(record["volume_id"])],
            "status": status,
            "startTime": _time(record["created_at"]),
            "progress": record["os-extended-snapshot-attributes:progress"] or ("100%" if status == "completed"
                                                                                  else "0%"),
            "ownerId": owners[str(record["id"])],
            "volumeSize": record["size"],
            "description": record["description"] or "",
            "encrypted": False,
            "tagSet": tag_set(tags.get(snapshot_id, {})) or None,
            "storageTier": "standard",
        })  # fmt: skip
    return views


def create_snapshot(backends: Backends, request: Ec2Request) -> Response:
    volume = request.params.required("VolumeId")
    tags = tag_specifications(request.params, "snapshot")
    uuid = volume_uuid(backends, request, volume)
    # EBS snapshots an attached volume too (crash-consistent), as Cinder does when forced.
    record = backends.compute.volumes.create_snapshot(
        request.context, uuid, force=True, description=request.params.get("Description")
    )
    view = _snapshot_views(backends, [record])[0]
    if tags:
        set_tags(backends, request.project_id, [view["snapshotId"]], tags)
        view["tagSet"] = tag_set(tags)
    return view


SNAPSHOT_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "description": lambda s: s["description"],
    "encrypted": lambda s: s["encrypted"],
    "owner-id": lambda s: s["ownerId"],
    "progress": lambda s: s["progress"],
    "snapshot-id": lambda s: s["snapshotId"],
    "start-time": lambda s: s["startTime"].isoformat() if s["startTime"] else None,
    "status": lambda s: s["status"],
    "storage-tier": lambda s: s["storageTier"],
    "volume-id": lambda s: s["volumeId"],
    "volume-size": lambda s: s["volumeSize"],
}, tags=lambda s: {tag["key"]: tag["value"] for tag in s["tagSet"] or []})  # fmt: skip


def describe_snapshots(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    wanted = params.strings("SnapshotId")
    filters = filters_of(params)
    SNAPSHOT_FILTERS.check(filters)
    owners = {request.project_id if owner == "self" else owner for owner in params.strings("Owner")}
    if wanted:
        found = backends.resolve(request.context, wanted, (ids.SNAPSHOT,))
        snapshots = backends.compute.volumes.snapshots
        records = [snapshots.get(request.context, found[ec2_id].uuid) for ec2_id in wanted]
    else:
        options = ListOptions(sort=[("created_at", "asc")])
        records, _ = backends.compute.volumes.snapshots.list(request.context, options)
    views = SNAPSHOT_FILTERS.apply(_snapshot_views(backends, records), filters)
    if owners:
        views = [view for view in views if view["ownerId"] in owners]
    shown, token = page(views, params, key=backends.token_key,
                        scope=f"DescribeSnapshots:{request.project_id}")  # fmt: skip
    return {"snapshotSet": list(shown), "nextToken": token}


def delete_snapshot(backends: Backends, request: Ec2Request) -> Response:
    snapshot = request.params.required("SnapshotId")
    uuid = backends.resolve(request.context, [snapshot], (ids.SNAPSHOT,))[snapshot].uuid
    backends.compute.volumes.snapshots.delete(request.context, uuid)
    return {"return": True}


VOLUME_NOT_FOUND, VOLUME_LIMIT = "InvalidVolume.NotFound", "VolumeLimitExceeded"
SNAPSHOT_NOT_FOUND, SNAPSHOT_LIMIT = "InvalidSnapshot.NotFound", "SnapshotLimitExceeded"


def _volume_action(name: str, handler: Handler, rule: str) -> Action:
    return Action(name, handler, rule=rule, not_found=VOLUME_NOT_FOUND, quota=VOLUME_LIMIT)


def _snapshot_action(name: str, handler: Handler, rule: str) -> Action:
    return Action(name, handler, rule=rule, not_found=SNAPSHOT_NOT_FOUND, quota=SNAPSHOT_LIMIT)


ACTIONS = (
    _volume_action("CreateVolume", create_volume, volume_policies.CREATE),
    _volume_action("DescribeVolumes", describe_volumes, volume_policies.GET_ALL),
    _volume_action("DeleteVolume", delete_volume, volume_policies.DELETE),
    _volume_action("AttachVolume", attach_volume, compute_policies.VOLUME_ATTACHMENTS_CREATE),
    _volume_action("DetachVolume", detach_volume, compute_policies.VOLUME_ATTACHMENTS_DELETE),
    # The resource CreateSnapshot names is a volume.
    Action(
        "CreateSnapshot",
        create_snapshot,
        rule=volume_policies.SNAPSHOT_CREATE,
        not_found=VOLUME_NOT_FOUND,
        quota=SNAPSHOT_LIMIT,
    ),
    _snapshot_action("DescribeSnapshots", describe_snapshots, volume_policies.SNAPSHOT_GET_ALL),
    _snapshot_action("DeleteSnapshot", delete_snapshot, volume_policies.SNAPSHOT_DELETE),
)
