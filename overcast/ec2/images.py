"""DescribeImages, CreateImage, DeregisterImage, Describe/ModifyImageAttribute, CopyImage, RegisterImage:
the image service's images as AMIs (and, by their container format, AKIs and ARIs).

Launch permissions are the image's members (and `all` its public visibility). RegisterImage has no S3
bundles to read: its ImageLocation names an image of the cloud (an `ami-` id or `<owner>/<name>`, as
DescribeImages shows imageLocation), whose data the new AMI gets, with the KernelId and RamdiskId it
boots by (the image properties `kernel_id`, `ramdisk_id`); without one, the BlockDeviceMapping's snapshots
make an EBS-backed AMI (ebs_images.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from overcast import errors, policy
from overcast.compute import policies as compute_policies
from overcast.context import RequestContext
from overcast.ec2 import client_tokens, ebs_images, ids
from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter
from overcast.ec2.filtering import FilterTable
from overcast.ec2.pagination import page
from overcast.ec2.params import Params, filters_of
from overcast.ec2.tags import set_tags, tag_set, tag_specifications, tags_of
from overcast.image import registry
from overcast.image.patch import ImageChanges
from overcast.image.registry import ImageFilters, ImageRecord

NOT_FOUND = "InvalidAMIID.NotFound"
# Glance's statuses in EC2's image states.
STATES = {
    registry.QUEUED: "pending", registry.SAVING: "pending", registry.UPLOADING: "pending",
    registry.IMPORTING: "pending", registry.ACTIVE: "available", registry.DEACTIVATED: "disabled",
    registry.KILLED: "failed", registry.DELETED: "deregistered",
}  # fmt: skip
IMAGE_TYPES = {ids.MACHINE_IMAGE: "machine", ids.KERNEL_IMAGE: "kernel", ids.RAMDISK_IMAGE: "ramdisk"}
PAGE = 1000
COPIED_CORE = ("disk_format", "container_format", "min_disk", "min_ram")
# CopyImage takes longer client tokens than the other actions.
COPY_TOKEN_LENGTH = 128


def _listed(backends: Backends, request: Ec2Request, uuids: Sequence[str] = ()) -> list[ImageRecord]:
    records: list[ImageRecord] = []
    marker: str | None = None
    while True:
        filters = ImageFilters(member_status="all", sort=(("created_at", "asc"),), marker=marker, limit=PAGE,
                               ids=tuple(uuids))  # fmt: skip
        listed = backends.images.list(request.context, filters)
        records.extend(listed)
        if len(listed) < PAGE:
            return records
        marker = listed[-1].image.id


def _views(backends: Backends, records: Sequence[ImageRecord]) -> list[dict[str, Any]]:
    by_kind: dict[str, dict[str, str | None]] = {}
    for record in records:
        by_kind.setdefault(ids.image_kind(record.image.container_format), {})[record.image.id] = (
            record.image.owner
        )
    image_ids: dict[str, str] = {}
    for kind, objects in by_kind.items():
        image_ids.update(backends.ids.ids_of(kind, objects))
    kernels = {
        str(r.image.properties.get("kernel_id")) for r in records if r.image.properties.get("kernel_id")
    }
    ramdisks = {
        str(r.image.properties.get("ramdisk_id")) for r in records if r.image.properties.get("ramdisk_id")
    }
    kernel_ids = backends.ids.ids_of(ids.KERNEL_IMAGE, dict.fromkeys(kernels))
    ramdisk_ids = backends.ids.ids_of(ids.RAMDISK_IMAGE, dict.fromkeys(ramdisks))
    # A snapshot names the instance it was made from.
    source_instances = backends.ids.ids_of(ids.INSTANCE, {
        str(record.image.properties["instance_uuid"]): None
        for record in records if record.image.properties.get("instance_uuid")
    })  # fmt: skip
    with backends.db.reader() as session:
        tags = tags_of(session, list(image_ids.values()))
    mappings = ebs_images.mapping_views(backends, records)
    views = []
    for record in records:
        image = record.image
        properties = image.properties or {}
        kind = ids.image_kind(image.container_format)
        ec2_id = image_ids[image.id]
        volume_backed = bool(properties.get("block_device_mapping") or properties.get("bdm_v2"))
        views.append({
            "imageId": ec2_id,
            "imageLocation": f"{image.owner or ''}/{image.name or image.id}",
            "imageState": STATES.get(image.status, "pending"),
            "imageOwnerId": image.owner or "",
            "creationDate": image.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "isPublic": image.visibility == "public",
            "productCodes": [],
            "architecture": str(properties.get("architecture") or "x86_64"),
            "imageType": IMAGE_TYPES[kind],
            "kernelId": kernel_ids.get(str(properties.get("kernel_id"))),
            "ramdiskId": ramdisk_ids.get(str(properties.get("ramdisk_id"))),
            "name": image.name or "",
            "description": str(properties["description"]) if properties.get("description") else None,
            "rootDeviceType": "ebs" if volume_backed else "instance-store",
            "rootDeviceName": str(properties.get("root_device_name") or "/dev/sda1"),
            "blockDeviceMapping": mappings[image.id],
            "virtualizationType": "hvm",
            "tagSet": tag_set(tags[ec2_id]),
            "hypervisor": "xen",
            "enaSupport": False,
            "platformDetails": "Linux/UNIX",
            "usageOperation": "RunInstances",
            "sourceInstanceId": source_instances.get(str(properties.get("instance_uuid"))),
            "bootMode": "legacy-bios",
            "_owner": image.owner,
            "_uuid": image.id,
        })  # fmt: skip
    return views


IMAGE_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "image-id": lambda i: i["imageId"],
    "name": lambda i: i["name"],
    "description": lambda i: i["description"],
    "owner-id": lambda i: i["imageOwnerId"],
    "state": lambda i: i["imageState"],
    "is-public": lambda i: i["isPublic"],
    "architecture": lambda i: i["architecture"],
    "image-type": lambda i: i["imageType"],
    "kernel-id": lambda i: i["kernelId"],
    "ramdisk-id": lambda i: i["ramdiskId"],
    "root-device-type": lambda i: i["rootDeviceType"],
    "root-device-name": lambda i: i["rootDeviceName"],
    "virtualization-type": lambda i: i["virtualizationType"],
    "hypervisor": lambda i: i["hypervisor"],
    "manifest-location": lambda i: i["imageLocation"],
    "platform-details": lambda i: i["platformDetails"],
}, tags=lambda i: {tag["key"]: tag["value"] for tag in i["tagSet"]})  # fmt: skip


def _owned_by(view: dict[str, Any], owners: Sequence[str], project_id: str) -> bool:
    for owner in owners:
        if owner == "self" and view["_owner"] == project_id:
            return True
        # Images the cloud publishes (public, not one's own) stand for AWS's amazon and marketplace.
        if owner in ("amazon", "aws-marketplace") and view["isPublic"] and view["_owner"] != project_id:
            return True
        if owner == view["_owner"]:
            return True
    return False


def record_visible(backends: Backends, context: RequestContext) -> None:
    """Records the ids of every image the caller can see (an image the EC2 API never named has none)."""
    _views(backends, _listed(backends, Ec2Request(context, Params({}), "DescribeImages")))


def _image_uuids(backends: Backends, request: Ec2Request, image_ids: Sequence[str]) -> dict[str, str]:
    named = backends.resolve(request.context, image_ids, ids.IMAGE_KINDS)
    return {ec2_id: named[ec2_id].uuid for ec2_id in image_ids}


def describe_images(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    wanted = params.strings("ImageId")
    uuids = _image_uuids(backends, request, wanted) if wanted else {}
    views = _views(backends, _listed(backends, request, tuple(uuids.values())))
    if wanted:
        found = {view["imageId"] for view in views}
        missing = [image_id for image_id in wanted if image_id not in found]
        if missing:
            raise ids.not_found(ids.MACHINE_IMAGE, missing)
    owners = params.strings("Owner")
    if owners:
        views = [view for view in views if _owned_by(view, owners, request.project_id)]
    executable = params.strings("ExecutableBy")
    if executable:
        allowed = {request.project_id if who == "self" else who for who in executable}
        views = [v for v in views if v["isPublic"] or v["_owner"] in allowed or "all" in allowed or
                 any(_is_member(backends, request, v["_uuid"], who) for who in allowed)]  # fmt: skip
    selected = IMAGE_FILTERS.apply(views, filters_of(params))
    shown, next_token = page(selected, params, key=backends.token_key,
                             scope=f"DescribeImages:{request.project_id}")  # fmt: skip
    return {"imagesSet": [_public(view) for view in shown], "nextToken": next_token}


def _public(view: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in view.items() if not key.startswith("_")}


def _is_member(backends: Backends, request: Ec2Request, uuid: str, project: str) -> bool:
    try:
        return any(m.member == project for m in backends.images.members.list(request.context, uuid))
    except errors.OvercastError:
        return False


def _one(backends: Backends, request: Ec2Request, image_id: str) -> ImageRecord:
    uuid = _image_uuids(backends, request, [image_id])[image_id]
    try:
        return backends.images.get(request.context, uuid)
    except errors.NotFound:
        raise ids.not_found(ids.MACHINE_IMAGE, [image_id]) from None


def _own(backends: Backends, request: Ec2Request, image_id: str) -> ImageRecord:
    record = _one(backends, request, image_id)
    if record.image.owner != request.project_id and not request.context.is_admin:
        raise Ec2Error("AuthFailure", f"Not authorized for image:{image_id}")
    return record


def create_image(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    instance_id = params.required("InstanceId")
    name = params.required("Name")
    if not 3 <= len(name) <= 128:
        raise invalid_value("Name", name, "AMI names are 3 to 128 characters.")
    instance_uuid = backends.resolve(request.context, [instance_id], (ids.INSTANCE,))[instance_id].uuid
    try:
        server = backends.compute.servers.get(request.context, instance_uuid)
    except errors.NotFound:
        raise ids.not_found(ids.INSTANCE, [instance_id]) from None
    policy.enforce(request.context, compute_policies.CREATE_IMAGE, request.target(server.instance.project_id))
    for record in _listed(backends, request):
        if record.image.owner == request.project_id and record.image.name == name:
            raise Ec2Error(
                "InvalidAMIName.Duplicate",
                f"AMI name {name} is already in use by AMI "
                f"{backends.ids.id_of(ids.MACHINE_IMAGE, record.image.id, None)}",
            )
    description = params.get("Description")
    metadata = {"description": description} if description else None
    try:
        image_uuid = backends.compute.actions.create_image(request.context, instance_uuid, name, metadata)
    except errors.Conflict as error:
        raise Ec2Error("IncorrectInstanceState", error.message) from None
    image_id = backends.ids.id_of(ids.MACHINE_IMAGE, image_uuid, request.project_id)
    set_tags(backends, request.project_id, [image_id], tag_specifications(params, "image"))
    return {"imageId": image_id}


def deregister_image(backends: Backends, request: Ec2Request) -> Response:
    image_id = request.params.required("ImageId")
    record = _own(backends, request, image_id)
    backends.images.delete(request.context, record.image.id)
    return {"return": True}


def _launch_permissions(backends: Backends, request: Ec2Request, record: ImageRecord) -> list[dict[str, str]]:
    permissions = [{"group": "all"}] if record.image.visibility == "public" else []
    if record.image.visibility == "shared":
        permissions += [
            {"userId": m.member} for m in backends.images.members.list(request.context, record.image.id)
        ]
    return permissions


def describe_image_attribute(backends: Backends, request: Ec2Request) -> Response:
    image_id = request.params.required("ImageId")
    attribute = request.params.required("Attribute")
    record = _one(backends, request, image_id)
    view = _views(backends, [record])[0]
    values: dict[str, Any] = {
        "description": {"value": view["description"]} if view["description"] else {},
        "kernel": {"value": view["kernelId"]} if view["kernelId"] else {},
        "ramdisk": {"value": view["ramdiskId"]} if view["ramdiskId"] else {},
        "productCodes": [],
        "blockDeviceMapping": [],
        "sriovNetSupport": {},
        "bootMode": {"value": "legacy-bios"},
    }
    if attribute == "launchPermission":
        if record.image.owner != request.project_id and not request.context.is_admin:
            raise Ec2Error("AuthFailure", f"Not authorized for image:{image_id}")
        return {"imageId": image_id, "launchPermission": _launch_permissions(backends, request, record)}
    if attribute not in values:
        raise invalid_value("Attribute", attribute, "It is not an image attribute.")
    return {"imageId": image_id, attribute: values[attribute]}


def modify_image_attribute(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    image_id = params.required("ImageId")
    record = _own(backends, request, image_id)
    uuid = record.image.id
    attribute = params.get("Attribute")
    description = params.get("Description.Value")
    if attribute == "description" or description is not None:
        value = description if description is not None else params.get("Value")
        if value is None:
            raise missing_parameter("Description")
        backends.images.update(request.context, uuid, [{"op": "add", "path": "/description", "value": value}])
        return {"return": True}
    changes: list[tuple[str, str, str]] = []  # (add|remove, userId|group, value)
    for operation in ("Add", "Remove"):
        for item in params.structs(f"LaunchPermission.{operation}"):
            if item.get("UserId"):
                changes.append((operation.lower(), "userId", str(item.get("UserId"))))
            if item.get("Group"):
                changes.append((operation.lower(), "group", str(item.get("Group"))))
    if attribute == "launchPermission" or params.get("OperationType"):
        operation = params.required("OperationType")
        if operation not in ("add", "remove"):
            raise invalid_value("OperationType", operation, "It must be add or remove.")
        changes += [(operation, "userId", user) for user in params.strings("UserId")]
        changes += [(operation, "group", group) for group in params.strings("UserGroup")]
    if not changes:
        raise missing_parameter("LaunchPermission")
    for operation, kind, value in changes:
        if kind == "group":
            if value != "all":
                raise invalid_value("UserGroup", value, "The only group is 'all'.")
            visibility = "public" if operation == "add" else "shared"
            _set_visibility(backends, request, uuid, visibility)
        elif operation == "add":
            if record.image.visibility == "private":
                _set_visibility(backends, request, uuid, "shared")
            with contextlib.suppress(errors.Conflict):
                backends.images.members.add(request.context, uuid, value)
        else:
            with contextlib.suppress(errors.NotFound):
                backends.images.members.delete(request.context, uuid, value)
    return {"return": True}


def _set_visibility(backends: Backends, request: Ec2Request, uuid: str, visibility: str) -> None:
    backends.images.update(
        request.context, uuid, [{"op": "replace", "path": "/visibility", "value": visibility}]
    )


def _copy(backends: Backends, request: Ec2Request, source: ImageRecord, name: str, properties: dict[str, str],
          prefix: str = ids.MACHINE_IMAGE) -> str:  # fmt: skip
    """A new image of the caller's with `source`'s data, returning its id."""
    if source.image.status != registry.ACTIVE:
        raise Ec2Error("IncorrectState", "The source image is not available.")
    if not source.locations:
        raise Ec2Error("InvalidManifest", "The source image has no data to copy.")
    core = {key: getattr(source.image, key) for key in COPIED_CORE}
    created = backends.images.create(
        request.context,
        ImageChanges(core={**core, "name": name, "visibility": "private"}, properties=properties),
    )
    download = backends.images.data.download(request.context, source.image.id)
    if download is not None:
        backends.images.upload(request.context, created.image.id, download.chunks)
    return backends.ids.id_of(prefix, created.image.id, request.project_id)


def copy_image(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    source_id = params.required("SourceImageId")
    region = params.required("SourceRegion")
    if region != backends.region:
        raise invalid_value("SourceRegion", region, f"Images are copied within the region {backends.region}.")
    name = params.required("Name")
    source = _one(backends, request, source_id)
    properties = {str(k): str(v) for k, v in (source.image.properties or {}).items()
                  if k not in ("owner_id", "image_location")}  # fmt: skip
    description = params.get("Description")
    if description is not None:
        properties["description"] = description

    def copy() -> str:
        return _copy(
            backends, request, source, name, properties, ids.image_kind(source.image.container_format)
        )

    def answer(image_id: str, first: bool) -> Response:
        if first:
            tags = tag_specifications(params, "image")
            if params.boolean("CopyImageTags"):
                with backends.db.reader() as session:
                    tags = {**tags_of(session, [source_id])[source_id], **tags}
            set_tags(backends, request.project_id, [image_id], tags)
        return {"imageId": image_id}

    return client_tokens.idempotent(backends, request, copy, answer, max_length=COPY_TOKEN_LENGTH)


def _source_by_location(backends: Backends, request: Ec2Request, location: str) -> ImageRecord:
    if location.startswith(("ami-", "aki-", "ari-")):
        return _one(backends, request, location)
    owner, _, name = location.partition("/")
    for record in _listed(backends, request):
        if (record.image.owner or "") == owner and (record.image.name or record.image.id) == name:
            return record
    raise Ec2Error("InvalidManifest", f"No image of this cloud is at {location}.")


def register_image(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    name = params.required("Name")
    location = params.get("ImageLocation")
    properties: dict[str, str] = {}
    for parameter, prefix, key in (("KernelId", ids.KERNEL_IMAGE, "kernel_id"),
                                   ("RamdiskId", ids.RAMDISK_IMAGE, "ramdisk_id")):  # fmt: skip
        given = params.get(parameter)
        if given is not None:
            named = backends.resolve(request.context, [given], (prefix,))[given]
            try:
                backends.images.get(request.context, named.uuid)
            except errors.NotFound:
                raise ids.not_found(prefix, [given]) from None
            properties[key] = named.uuid
    for parameter, key in (("Description", "description"), ("Architecture", "architecture"),
                           ("RootDeviceName", "root_device_name")):  # fmt: skip
        value = params.get(parameter)
        if value is not None:
            properties[key] = value
    if location is None:
        image_id = ebs_images.register_from_snapshots(backends, request, name, properties)
    else:
        image_id = _copy(
            backends, request, _source_by_location(backends, request, location), name, properties
        )
    set_tags(backends, request.project_id, [image_id], tag_specifications(params, "image"))
    return {"imageId": image_id}


ACTIONS = (
    Action("DescribeImages", describe_images, not_found=NOT_FOUND),
    Action("CreateImage", create_image, rule=compute_policies.CREATE_IMAGE, not_found=NOT_FOUND,
           quota="ResourceLimitExceeded"),
    Action("DeregisterImage", deregister_image, not_found=NOT_FOUND),
    Action("DescribeImageAttribute", describe_image_attribute, not_found=NOT_FOUND),
    Action("ModifyImageAttribute", modify_image_attribute, not_found=NOT_FOUND),
    Action("CopyImage", copy_image, not_found=NOT_FOUND),
    Action("RegisterImage", register_image, not_found=NOT_FOUND),
)  # fmt: skip
