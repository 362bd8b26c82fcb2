"""RunInstances: compute's server create from EC2's parameters (image, instance type, count, key, user
data, groups, subnet and address, block device mappings, zone, tags), idempotent by ClientToken."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import select

from overcast.compute.api.server_queries import Server
from overcast.compute.api.servers import ServerCreate
from overcast.db.models.network import Network, SecurityGroup, Subnet
from overcast.ec2 import client_tokens, ids, termination
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter
from overcast.ec2.instance_reads import servers_of
from overcast.ec2.instance_types import flavor_id_of
from overcast.ec2.instance_views import PENDING, reservation_view, state_view, view_context
from overcast.ec2.params import Params
from overcast.ec2.tags import set_tags, tag_specifications

DEFAULT_INSTANCE_TYPE = "m1.small"
MAX_USER_DATA_BYTES = 16 * 1024


def _image_uuid(backends: Backends, request: Ec2Request, image_id: str) -> str:
    return backends.resolve(request.context, [image_id], (ids.MACHINE_IMAGE,))[image_id].uuid


def _user_data(params: Params) -> str | None:
    raw = params.get("UserData")
    if raw is None or raw == "":
        return None
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_value("UserData", raw[:32], "Invalid BASE64 encoding of user data.") from None
    if len(decoded) > MAX_USER_DATA_BYTES:
        raise invalid_value("UserData", "...", f"User data is limited to {MAX_USER_DATA_BYTES} bytes.")
    return raw


def _networks(backends: Backends, request: Ec2Request) -> tuple[dict[str, Any], ...] | None:
    subnet_id = request.params.get("SubnetId")
    address = request.params.get("PrivateIpAddress")
    if subnet_id is None:
        if address is not None:
            raise Ec2Error("InvalidParameterCombination", "PrivateIpAddress needs a SubnetId.")
        return None
    subnet_uuid = backends.resolve(request.context, [subnet_id], (ids.SUBNET,))[subnet_id].uuid
    with backends.db.reader() as session:
        subnet = session.get(Subnet, subnet_uuid)
    if subnet is None or not (subnet.project_id == request.context.project_id or request.context.is_admin
                              or _shared_network(backends, subnet.network_id)):  # fmt: skip
        raise ids.not_found(ids.SUBNET, [subnet_id])
    network: dict[str, Any] = {"uuid": subnet.network_id}
    if address is not None:
        network["fixed_ip"] = address
    return (network,)


def _shared_network(backends: Backends, network_id: str) -> bool:
    with backends.db.reader() as session:
        network = session.get(Network, network_id)
        return bool(network is not None and network.shared)


def _known_group_names(backends: Backends, request: Ec2Request, names: list[str]) -> list[str]:
    """SecurityGroup.N: the caller's groups by name (AWS's InvalidGroup.NotFound for one it has not)."""
    if not names:
        return []
    with backends.db.reader() as session:
        query = select(SecurityGroup.name).where(
            SecurityGroup.project_id == request.project_id, SecurityGroup.name.in_(names)
        )
        known = set(session.scalars(query))
    for name in names:
        if name not in known:
            raise Ec2Error("InvalidGroup.NotFound", f"The security group '{name}' does not exist")
    return names


def _block_devices(backends: Backends, request: Ec2Request, image_uuid: str) -> tuple[dict[str, Any], ...]:
    """BlockDeviceMapping.N as Nova's block_device_mapping_v2: the root device's EBS size boots from a
    volume of that size, other EBS entries are new (or snapshot) volumes, ephemeralN local disks."""
    mappings: list[dict[str, Any]] = []
    for item in request.params.structs("BlockDeviceMapping"):
        device = item.required("DeviceName")
        if item.has("NoDevice"):
            continue
        virtual = item.get("VirtualName")
        if virtual is not None:
            if not virtual.startswith("ephemeral"):
                raise invalid_value("BlockDeviceMapping.VirtualName", virtual, "It must be ephemeralN.")
            mappings.append({"source_type": "blank", "destination_type": "local", "device_name": device,
                             "guest_format": "ext4", "boot_index": -1})  # fmt: skip
            continue
        ebs = item.struct("Ebs")
        size = ebs.integer("VolumeSize", low=1, high=16384)
        snapshot_id = ebs.get("SnapshotId")
        mapping: dict[str, Any] = {
            "destination_type": "volume", "device_name": device,
            "delete_on_termination": ebs.boolean("DeleteOnTermination", True),
        }  # fmt: skip
        if size is not None:
            mapping["volume_size"] = size
        volume_type = ebs.get("VolumeType")
        if volume_type is not None:
            mapping["volume_type"] = volume_type
        root = device in ("/dev/sda1", "/dev/sda", "/dev/xvda", "/dev/vda")
        if root:
            mapping.update(source_type="image", uuid=image_uuid, boot_index=0)
        elif snapshot_id is not None:
            snapshot = backends.resolve(request.context, [snapshot_id], (ids.SNAPSHOT,))[snapshot_id]
            mapping.update(source_type="snapshot", uuid=snapshot.uuid, boot_index=-1)
        else:
            if size is None:
                raise missing_parameter(f"{item.prefix}Ebs.VolumeSize")
            mapping.update(source_type="blank", boot_index=-1)
        mappings.append(mapping)
    return tuple(mappings)


def _reservation_view(
    backends: Backends, request: Ec2Request, reservation: str, servers: list[Server], token: str | None
) -> Response:
    context = view_context(backends, servers)
    body = reservation_view(context.reservation_ids[reservation], request.project_id, servers, context)
    if token:
        for item in body["instancesSet"]:
            item["clientToken"] = token
    return body


def run_instances(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    image_id = params.required("ImageId")
    min_count = params.integer("MinCount", low=1)
    max_count = params.integer("MaxCount", low=1)
    if min_count is None:
        raise missing_parameter("MinCount")
    if max_count is None:
        raise missing_parameter("MaxCount")
    if min_count > max_count:
        raise invalid_value("MinCount", min_count, "MinCount must not be greater than MaxCount.")
    image_uuid = _image_uuid(backends, request, image_id)
    flavor_id = flavor_id_of(backends, request, params.get("InstanceType") or DEFAULT_INSTANCE_TYPE)
    if params.get("KernelId") or params.get("RamdiskId"):
        raise Ec2Error(
            "InvalidParameterCombination",
            "Launch an image registered with its kernel and ramdisk (RegisterImage's KernelId, RamdiskId).",
        )
    groups = _known_group_names(backends, request, params.strings("SecurityGroup"))
    for group_id in params.strings("SecurityGroupId"):
        groups.append(backends.resolve(request.context, [group_id], (ids.SECURITY_GROUP,))[group_id].uuid)
    tags = tag_specifications(params, "instance")
    zone = params.struct("Placement").get("AvailabilityZone") or None
    if zone is not None and zone not in {
        z.name for z in backends.admin.hosts.availability_zones(with_hosts=False)
    }:
        raise Ec2Error("InvalidParameterValue", f"Invalid availability zone: [{zone}]")
    token = params.get("ClientToken") or None

    def launch() -> str:
        created = backends.compute.servers.create(request.context, ServerCreate(
            name=tags.get("Name") or "ec2-instance", image_ref=image_uuid, flavor_ref=flavor_id,
            key_name=params.get("KeyName") or None, availability_zone=zone,
            security_groups=tuple(groups) or ("default",), user_data=_user_data(params),
            min_count=min_count, max_count=max_count,
            block_device_mappings=_block_devices(backends, request, image_uuid),
            networks=_networks(backends, request),
        ))  # fmt: skip
        return created.reservation_id

    def answer(reservation: str, first: bool) -> Response:
        # Just launched: none is terminated yet.
        servers = servers_of(backends, request, reservation=reservation, live_only=first)
        if first:
            uuids = {server.instance.uuid: server.instance.project_id for server in servers}
            if tags:
                # A tag names its resource's row: the ids are recorded now rather than when first named.
                instance_ids = backends.ids.ids_of(ids.INSTANCE, uuids)
                set_tags(backends, request.project_id, list(instance_ids.values()), tags)
            if params.boolean("DisableApiTermination"):
                for uuid in uuids:
                    termination.protect(backends, uuid, True)
        body = _reservation_view(backends, request, reservation, servers, token)
        if first:
            # AWS answers a launch with its instances pending, however far a fast host has got already.
            for item in body["instancesSet"]:
                item["instanceState"] = state_view(PENDING)
                item["stateReason"] = {"code": "pending", "message": "pending"}
        return body

    return client_tokens.idempotent(backends, request, launch, answer)
