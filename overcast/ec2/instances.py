"""RunInstances, DescribeInstances, DescribeInstanceStatus, Start/Stop/Reboot/TerminateInstances,
GetConsoleOutput, Describe/ModifyInstanceAttribute, DescribeInstanceTypes: the compute service's servers
in EC2's terms. Terminated instances stay visible for an hour, as on AWS."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.compute import policies as compute_policies
from overcast.compute import states
from overcast.compute.api.flavors import FlavorFilters
from overcast.compute.api.server_queries import MAX_LIMIT, Server
from overcast.compute.api.servers import ServerCreate, ServerFilters
from overcast.context import RequestContext
from overcast.db.models.compute import Flavor, Instance
from overcast.db.models.ec2 import Ec2ClientToken
from overcast.db.models.network import Network, SecurityGroup, Subnet
from overcast.ec2 import ids
from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter
from overcast.ec2.filtering import FilterTable
from overcast.ec2.instance_views import (
    PENDING,
    RUNNING,
    SHUTTING_DOWN,
    TERMINATED,
    ViewContext,
    ec2_state,
    instance_view,
    reservation_view,
    state_view,
    view_context,
)
from overcast.ec2.pagination import PageRules, page
from overcast.ec2.params import Params, filters_of
from overcast.ec2.tags import set_tags, tag_specifications

NOT_FOUND = "InvalidInstanceID.NotFound"
WRONG_STATE = "IncorrectInstanceState"
TERMINATED_VISIBLE_FOR = timedelta(hours=1)
# Up to this many named instances are read one by one; more, by reading the project's list once.
FEW_INSTANCES = 5
# How long ModifyInstanceAttribute waits for a stopped instance's resize to be ready to confirm.
RESIZE_TIMEOUT, RESIZE_POLL = 120.0, 0.05
DEFAULT_INSTANCE_TYPE = "m1.small"
MAX_USER_DATA_BYTES = 16 * 1024
# What RunInstances' idempotency compares: every parameter but these.
_NOT_COMPARED = frozenset({"ClientToken", "DryRun"})


# --- reading -------------------------------------------------------------------------------------------
def _servers(
    backends: Backends,
    request: Ec2Request,
    *,
    reservation: str | None = None,
    uuid: str | None = None,
    live_only: bool = False,
) -> list[Server]:
    """The caller's servers (of one reservation, or one server), oldest first, with those terminated in
    the last hour."""
    exact = {"reservation_id": reservation} if reservation is not None else {}
    if uuid is not None:
        exact["uuid"] = uuid
    found: list[Server] = []
    cutoff = backends.clock() - TERMINATED_VISIBLE_FOR
    for deleted, since in ((False, None),) if live_only else ((False, None), (True, cutoff)):
        marker: str | None = None
        while True:
            filters = ServerFilters(deleted=deleted, changes_since=since, exact=exact, marker=marker,
                                    limit=MAX_LIMIT, sort=(("created_at", "asc"),))  # fmt: skip
            listed = backends.compute.servers.list(request.context, filters, with_faults=True)
            found.extend(listed)
            if len(listed) < MAX_LIMIT:
                break
            marker = listed[-1].instance.uuid
    found.sort(key=lambda server: (server.instance.created_at, server.instance.id))
    return found


def record_visible(backends: Backends, context: RequestContext) -> None:
    """Records the ids of the caller's instances (listings show ids without recording them)."""
    servers = _servers(backends, Ec2Request(context, Params({}), "DescribeInstances"))
    backends.ids.ids_of(
        ids.INSTANCE, {server.instance.uuid: server.instance.project_id for server in servers}
    )


def _named_servers(backends: Backends, request: Ec2Request, ec2_ids: Sequence[str]) -> list[Server]:
    """The servers `ec2_ids` name, each visible to the caller (another project's is NotFound), recently
    terminated ones too."""
    named = backends.resolve(request.context, ec2_ids, (ids.INSTANCE,))
    wanted = {named[ec2_id].uuid: ec2_id for ec2_id in ec2_ids}
    if len(wanted) <= FEW_INSTANCES:
        listed = [server for uuid in wanted for server in _servers(backends, request, uuid=uuid)]
    else:
        listed = [server for server in _servers(backends, request) if server.instance.uuid in wanted]
    found = {server.instance.uuid: server for server in listed}
    missing = [ec2_id for uuid, ec2_id in wanted.items() if uuid not in found]
    if missing:
        raise ids.not_found(ids.INSTANCE, missing)
    return [found[uuid] for uuid in wanted]


def _instance_ids(request: Ec2Request) -> list[str]:
    found = request.params.strings("InstanceId")
    if not found:
        raise missing_parameter("InstanceId")
    return found


INSTANCE_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "instance-id": lambda i: i["instanceId"],
    "image-id": lambda i: i["imageId"],
    "instance-state-code": lambda i: i["instanceState"]["code"],
    "instance-state-name": lambda i: i["instanceState"]["name"],
    "instance-type": lambda i: i["instanceType"],
    "key-name": lambda i: i["keyName"],
    "launch-index": lambda i: i["amiLaunchIndex"],
    "availability-zone": lambda i: i["placement"]["availabilityZone"],
    "private-ip-address": lambda i: i["privateIpAddress"],
    "ip-address": lambda i: i["ipAddress"],
    "private-dns-name": lambda i: i["privateDnsName"],
    "dns-name": lambda i: i["dnsName"],
    "reservation-id": lambda i: i["_reservationId"],
    "owner-id": lambda i: i["_ownerId"],
    "architecture": lambda i: i["architecture"],
    "root-device-type": lambda i: i["rootDeviceType"],
    "root-device-name": lambda i: i["rootDeviceName"],
    "kernel-id": lambda i: i["kernelId"],
    "ramdisk-id": lambda i: i["ramdiskId"],
    "instance.group-name": lambda i: [g["groupName"] for g in i["groupSet"]],
    "instance.group-id": lambda i: [g["groupId"] for g in i["groupSet"]],
    "group-name": lambda i: [g["groupName"] for g in i["groupSet"]],
    "group-id": lambda i: [g["groupId"] for g in i["groupSet"]],
    "launch-time": lambda i: i["launchTime"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    "virtualization-type": lambda i: i["virtualizationType"],
    "hypervisor": lambda i: i["hypervisor"],
    "block-device-mapping.device-name": lambda i: [b["deviceName"] for b in i["blockDeviceMapping"]],
    "block-device-mapping.volume-id": lambda i: [b["ebs"]["volumeId"] for b in i["blockDeviceMapping"]],
}, tags=lambda i: {tag["key"]: tag["value"] for tag in i["tagSet"]})  # fmt: skip


def describe_instances(backends: Backends, request: Ec2Request) -> Response:
    wanted = request.params.strings("InstanceId")
    if wanted and request.params.has("MaxResults"):
        raise Ec2Error("InvalidParameterCombination",
                       "The parameter instancesSet cannot be used with the parameter maxResults")  # fmt: skip
    servers = _named_servers(backends, request, wanted) if wanted else _servers(backends, request)
    context = view_context(backends, servers)
    views = []
    for server in servers:
        view = instance_view(server, context)
        view["_reservationId"] = context.reservation_ids[server.instance.reservation_id]
        view["_ownerId"] = server.instance.project_id
        views.append(view)
    selected = INSTANCE_FILTERS.apply(views, filters_of(request.params))
    shown, next_token = page(selected, request.params, key=backends.token_key,
                             scope=f"DescribeInstances:{request.project_id}")  # fmt: skip
    reservations: dict[str, dict[str, Any]] = {}
    for view in shown:
        reservation_id, owner = view.pop("_reservationId"), view.pop("_ownerId")
        reservation = reservations.setdefault(reservation_id, {
            "reservationId": reservation_id, "ownerId": owner, "groupSet": [], "instancesSet": [],
        })  # fmt: skip
        reservation["instancesSet"].append(view)
    return {"reservationSet": list(reservations.values()), "nextToken": next_token}


STATUS_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "availability-zone": lambda s: s["availabilityZone"],
    "instance-state-code": lambda s: s["instanceState"]["code"],
    "instance-state-name": lambda s: s["instanceState"]["name"],
    "instance-status.status": lambda s: s["instanceStatus"]["status"],
    "instance-status.reachability": lambda s: s["instanceStatus"]["details"][0]["status"],
    "system-status.status": lambda s: s["systemStatus"]["status"],
    "system-status.reachability": lambda s: s["systemStatus"]["details"][0]["status"],
})  # fmt: skip


def _status(server: Server, context: ViewContext) -> dict[str, Any]:
    instance = server.instance
    state = ec2_state(instance.vm_state, instance.task_state, bool(instance.deleted))
    running = state[1] == "running"
    reachable = "passed" if running else "initializing" if state[1] == "pending" else "failed"
    summary = "ok" if running else "initializing" if state[1] == "pending" else "not-applicable"
    host_ok = server.host_status in ("UP", "")
    return {
        "instanceId": context.instance_ids[instance.uuid],
        "availabilityZone": server.availability_zone or instance.availability_zone or "",
        "instanceState": state_view(state),
        "instanceStatus": {"status": summary, "details": [{"name": "reachability", "status": reachable}]},
        "systemStatus": {"status": summary if host_ok else "impaired",
                         "details": [{"name": "reachability", "status": reachable if host_ok else "failed"}]},
    }  # fmt: skip


def describe_instance_status(backends: Backends, request: Ec2Request) -> Response:
    wanted = request.params.strings("InstanceId")
    servers = _named_servers(backends, request, wanted) if wanted else _servers(backends, request)
    if not request.params.boolean("IncludeAllInstances"):
        servers = [s for s in servers if ec2_state(s.instance.vm_state, s.instance.task_state,
                                                   bool(s.instance.deleted))[1] == "running"]  # fmt: skip
    context = view_context(backends, servers)
    statuses = STATUS_FILTERS.apply([_status(server, context) for server in servers],
                                    filters_of(request.params))  # fmt: skip
    shown, next_token = page(statuses, request.params, key=backends.token_key,
                             scope=f"DescribeInstanceStatus:{request.project_id}")  # fmt: skip
    return {"instanceStatusSet": list(shown), "nextToken": next_token}


# --- RunInstances --------------------------------------------------------------------------------------
def _flavor_id(backends: Backends, request: Ec2Request, name: str) -> str:
    for flavor in backends.compute.flavors.list(request.context, FlavorFilters(is_public=None)):
        if flavor.name == name:
            return flavor.flavorid
    raise invalid_value("InstanceType", name, "The instance type does not exist.")


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


def _request_digest(request: Ec2Request) -> str:
    compared = {key: value for key, value in request.params.values.items() if key not in _NOT_COMPARED}
    return hashlib.sha256(json.dumps(compared, sort_keys=True).encode()).hexdigest()


def _claim_token(backends: Backends, request: Ec2Request, token: str) -> str | None:
    """The reservation an earlier request with this client token made, or None after claiming it."""
    digest = _request_digest(request)

    def write(session: Session) -> str | None:
        held = session.get(Ec2ClientToken, (request.project_id, token))
        if held is None:
            session.add(
                Ec2ClientToken(project_id=request.project_id, client_token=token, request_digest=digest)
            )
            session.flush()
            return None
        if held.request_digest != digest:
            raise Ec2Error("IdempotentParameterMismatch",
                           "The client token was used before with other parameters.")  # fmt: skip
        if not held.reservation_id:
            raise Ec2Error("IncorrectState", "A request with this client token is still being processed.")
        return held.reservation_id

    try:
        return backends.db.write(write)
    except IntegrityError:
        # Another request claimed the token at the same moment.
        raise Ec2Error(
            "IncorrectState", "A request with this client token is still being processed."
        ) from None


def _release_token(backends: Backends, request: Ec2Request, token: str, reservation: str | None) -> None:
    def write(session: Session) -> None:
        key = (Ec2ClientToken.project_id == request.project_id, Ec2ClientToken.client_token == token)
        if reservation is None:
            session.execute(delete(Ec2ClientToken).where(*key))
        else:
            session.execute(update(Ec2ClientToken).where(*key).values(reservation_id=reservation))

    backends.db.write(write)


def _reservation(
    backends: Backends, request: Ec2Request, reservation: str, token: str | None, *, launched: bool = False
) -> Response:
    """The reservation's instances (`launched`: just now, so none is terminated yet)."""
    servers = _servers(backends, request, reservation=reservation, live_only=launched)
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
    flavor_id = _flavor_id(backends, request, params.get("InstanceType") or DEFAULT_INSTANCE_TYPE)
    if params.get("KernelId") or params.get("RamdiskId"):
        raise Ec2Error(
            "InvalidParameterCombination",
            "Launch an image registered with its kernel and ramdisk (RegisterImage's KernelId, RamdiskId).",
        )
    groups = _known_group_names(backends, request, params.strings("SecurityGroup"))
    for group_id in params.strings("SecurityGroupId"):
        groups.append(backends.resolve(request.context, [group_id], (ids.SECURITY_GROUP,))[group_id].uuid)
    tags = tag_specifications(params, "instance")
    token = params.get("ClientToken")
    if token is not None and len(token) > 64:
        raise invalid_value("ClientToken", token, "It is at most 64 characters.")
    if token:
        earlier = _claim_token(backends, request, token)
        if earlier is not None:
            return _reservation(backends, request, earlier, token)
    zone = params.struct("Placement").get("AvailabilityZone") or None
    if zone is not None and zone not in {
        z.name for z in backends.admin.hosts.availability_zones(with_hosts=False)
    }:
        raise Ec2Error("InvalidParameterValue", f"Invalid availability zone: [{zone}]")
    try:
        created = backends.compute.servers.create(request.context, ServerCreate(
            name=tags.get("Name") or "ec2-instance", image_ref=image_uuid, flavor_ref=flavor_id,
            key_name=params.get("KeyName") or None, availability_zone=zone,
            security_groups=tuple(groups) or ("default",), user_data=_user_data(params),
            min_count=min_count, max_count=max_count,
            block_device_mappings=_block_devices(backends, request, image_uuid),
            networks=_networks(backends, request),
        ))  # fmt: skip
    except BaseException:
        if token:
            _release_token(backends, request, token, None)
        raise
    if token:
        _release_token(backends, request, token, created.reservation_id)
    if tags:
        # A tag names its resource's row: the ids are recorded now rather than when first named.
        instance_ids = backends.ids.ids_of(ids.INSTANCE, {i.uuid: i.project_id for i in created.servers})
        set_tags(backends, request.project_id, list(instance_ids.values()), tags)
    if params.boolean("DisableApiTermination"):
        for instance in created.servers:
            backends.compute.actions.lock(request.context, instance.uuid)
    launched = _reservation(backends, request, created.reservation_id, token, launched=True)
    # AWS answers a launch with its instances pending, however far a fast host has got already.
    for item in launched["instancesSet"]:
        item["instanceState"] = state_view(PENDING)
        item["stateReason"] = {"code": "pending", "message": "pending"}
    return launched


# --- state changes -------------------------------------------------------------------------------------
StateChange = Callable[[Server], tuple[int, str] | None]


def _state_changes(
    backends: Backends, request: Ec2Request, rule: str, change: StateChange
) -> list[dict[str, Any]]:
    """Each named instance's previous and current state around `change`, which answers the state it
    left the instance in, or None to read it again."""
    servers = _named_servers(backends, request, _instance_ids(request))
    for server in servers:
        policy.enforce(request.context, rule, request.target(server.instance.project_id))
    context = view_context(backends, servers)
    changes = []
    for server in servers:
        instance = server.instance
        before = ec2_state(instance.vm_state, instance.task_state, bool(instance.deleted))
        current = change(server)
        if current is None:
            after = backends.compute.servers.get(request.context, instance.uuid).instance
            current = ec2_state(after.vm_state, after.task_state, bool(after.deleted))
        changes.append({
            "instanceId": context.instance_ids[instance.uuid], "currentState": state_view(current),
            "previousState": state_view(before),
        })  # fmt: skip
    return changes


def start_instances(backends: Backends, request: Ec2Request) -> Response:
    def start(server: Server) -> tuple[int, str] | None:
        if ec2_state(server.instance.vm_state, server.instance.task_state)[1] != "running":
            backends.compute.actions.start(request.context, server.instance.uuid)
        return None

    return {"instancesSet": _state_changes(backends, request, compute_policies.START, start)}


def stop_instances(backends: Backends, request: Ec2Request) -> Response:
    def stop(server: Server) -> tuple[int, str] | None:
        if ec2_state(server.instance.vm_state, server.instance.task_state)[1] not in ("stopped", "stopping"):
            backends.compute.actions.stop(request.context, server.instance.uuid)
        return None

    return {"instancesSet": _state_changes(backends, request, compute_policies.STOP, stop)}


def reboot_instances(backends: Backends, request: Ec2Request) -> Response:
    def reboot(server: Server) -> tuple[int, str] | None:
        backends.compute.actions.reboot(request.context, server.instance.uuid, "SOFT")
        return RUNNING

    _state_changes(backends, request, compute_policies.REBOOT, reboot)
    return {"return": True}


def terminate_instances(backends: Backends, request: Ec2Request) -> Response:
    def terminate(server: Server) -> tuple[int, str] | None:
        if server.instance.deleted:
            return TERMINATED
        if server.locked:
            raise Ec2Error(
                "OperationNotPermitted",
                "The instance may not be terminated. Modify its "
                "'disableApiTermination' instance attribute and try again.",
            )
        backends.compute.actions.delete(request.context, server.instance.uuid)
        return SHUTTING_DOWN

    return {"instancesSet": _state_changes(backends, request, compute_policies.SERVERS_DELETE, terminate)}


# --- console, attributes, types --------------------------------------------------------------------------
def get_console_output(backends: Backends, request: Ec2Request) -> Response:
    ec2_id = request.params.required("InstanceId")
    server = _named_servers(backends, request, [ec2_id])[0]
    policy.enforce(
        request.context, compute_policies.CONSOLE_OUTPUT, request.target(server.instance.project_id)
    )
    try:
        output = backends.compute.actions.console_output(request.context, server.instance.uuid, None)
    except errors.Conflict:
        output = ""
    return {
        "instanceId": ec2_id, "timestamp": backends.clock(),
        "output": base64.b64encode(output.encode()).decode() if output else None,
    }  # fmt: skip


INSTANCE_ATTRIBUTES = {
    "instanceType": "instanceType", "kernel": "kernel", "ramdisk": "ramdisk", "userData": "userData",
    "disableApiTermination": "disableApiTermination", "instanceInitiatedShutdownBehavior":
    "instanceInitiatedShutdownBehavior", "rootDeviceName": "rootDeviceName", "blockDeviceMapping":
    "blockDeviceMapping", "productCodes": "productCodes", "sourceDestCheck": "sourceDestCheck",
    "groupSet": "groupSet", "ebsOptimized": "ebsOptimized", "sriovNetSupport": "sriovNetSupport",
    "enaSupport": "enaSupport", "disableApiStop": "disableApiStop",
}  # fmt: skip


def describe_instance_attribute(backends: Backends, request: Ec2Request) -> Response:
    ec2_id = request.params.required("InstanceId")
    attribute = request.params.required("Attribute")
    if attribute not in INSTANCE_ATTRIBUTES:
        raise invalid_value("Attribute", attribute, "It is not an instance attribute.")
    server = _named_servers(backends, request, [ec2_id])[0]
    view = instance_view(server, view_context(backends, [server]))
    values: dict[str, Any] = {
        "instanceType": {"value": view["instanceType"]},
        "kernel": {"value": view["kernelId"]} if view["kernelId"] else {},
        "ramdisk": {"value": view["ramdiskId"]} if view["ramdiskId"] else {},
        "userData": {"value": server.instance.user_data} if server.instance.user_data else {},
        "disableApiTermination": {"value": server.locked},
        "instanceInitiatedShutdownBehavior": {"value": "stop"},
        "rootDeviceName": {"value": view["rootDeviceName"]},
        "blockDeviceMapping": view["blockDeviceMapping"],
        "productCodes": [],
        "sourceDestCheck": {"value": True},
        "groupSet": view["groupSet"],
        "ebsOptimized": {"value": False},
        "sriovNetSupport": {},
        "enaSupport": {"value": False},
        "disableApiStop": {"value": False},
    }
    return {"instanceId": ec2_id, attribute: values[attribute]}


def _new_value(params: Params, attribute: str) -> str:
    """ModifyInstanceAttribute's value: `Attribute`+`Value`, or the attribute's own `<Name>.Value`."""
    nested = params.get(f"{attribute[0].upper()}{attribute[1:]}.Value")
    value = nested if nested is not None else params.get("Value")
    if value is None:
        raise missing_parameter("Value")
    return value


def modify_instance_attribute(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    ec2_id = params.required("InstanceId")
    server = _named_servers(backends, request, [ec2_id])[0]
    uuid = server.instance.uuid
    named = params.get("Attribute")
    present = [name for name in ("instanceType", "userData", "disableApiTermination")
               if named == name or params.has(f"{name[0].upper()}{name[1:]}")]  # fmt: skip
    if named is not None and named not in ("instanceType", "userData", "disableApiTermination"):
        raise Ec2Error("UnsupportedOperation", f"Modifying the attribute {named} is not supported.")
    if not present:
        raise missing_parameter("Attribute")
    target = request.target(server.instance.project_id)
    for attribute in present:
        value = _new_value(params, attribute)
        state = ec2_state(server.instance.vm_state, server.instance.task_state)[1]
        if attribute == "instanceType":
            if state != "stopped":
                raise Ec2Error(
                    "IncorrectInstanceState", f"The instance '{ec2_id}' is not in the 'stopped' state."
                )
            policy.enforce(request.context, compute_policies.RESIZE, target)
            _resize_and_confirm(backends, request, uuid, _flavor_id(backends, request, value))
        elif attribute == "userData":
            if state != "stopped":
                raise Ec2Error(
                    "IncorrectInstanceState", f"The instance '{ec2_id}' is not in the 'stopped' state."
                )
            policy.enforce(request.context, compute_policies.SERVERS_UPDATE, target)
            _set_user_data(backends, uuid, base64.b64encode(base64.b64decode(value)).decode())
        else:
            lock = Params({"v": value}).boolean("v")
            policy.enforce(request.context, compute_policies.LOCK, target)
            if lock and not server.locked:
                backends.compute.actions.lock(request.context, uuid)
            elif not lock and server.locked:
                backends.compute.actions.unlock(request.context, uuid)
    return {"return": True}


def _resize_and_confirm(backends: Backends, request: Ec2Request, uuid: str, flavor_id: str) -> None:
    """EC2 changes a stopped instance's type at once: the resize is confirmed as soon as it is ready."""
    backends.compute.actions.resize(request.context, uuid, flavor_id)
    deadline = time.monotonic() + RESIZE_TIMEOUT
    while time.monotonic() < deadline:
        instance = backends.compute.servers.find(request.context, uuid)
        if instance.vm_state == states.RESIZED and instance.task_state is None:
            backends.compute.actions.confirm_resize(request.context, uuid)
            return
        if instance.vm_state == states.ERROR or (
            instance.task_state is None and instance.vm_state == states.STOPPED
        ):
            raise Ec2Error("InsufficientInstanceCapacity", "The instance type could not be changed.")
        time.sleep(RESIZE_POLL)
    raise Ec2Error("IncorrectInstanceState", "The instance type change is still in progress.")


def _set_user_data(backends: Backends, uuid: str, user_data: str) -> None:
    backends.db.write(lambda session: session.execute(
        update(Instance).where(Instance.uuid == uuid, Instance.deleted.is_(False)).values(user_data=user_data)
    ))  # fmt: skip


def _instance_type(flavor: Flavor) -> dict[str, Any]:
    return {
        "instanceType": flavor.name, "currentGeneration": True, "freeTierEligible": False,
        "supportedUsageClasses": ["on-demand"], "supportedRootDeviceTypes": ["ebs", "instance-store"],
        "supportedVirtualizationTypes": ["hvm"], "bareMetal": False, "hypervisor": "xen",
        "processorInfo": {"supportedArchitectures": ["x86_64"]},
        "vCpuInfo": {"defaultVCpus": flavor.vcpus, "defaultCores": flavor.vcpus, "defaultThreadsPerCore": 1},
        "memoryInfo": {"sizeInMiB": flavor.memory_mb},
        "instanceStorageSupported": flavor.root_gb + flavor.ephemeral_gb > 0,
        "instanceStorageInfo": {"totalSizeInGB": flavor.root_gb + flavor.ephemeral_gb,
                                "disks": [{"sizeInGB": flavor.root_gb, "count": 1, "type": "ssd"}]}
        if flavor.root_gb else None,
        "hibernationSupported": False, "burstablePerformanceSupported": False,
        "dedicatedHostsSupported": False, "autoRecoverySupported": False,
        "supportedBootModes": ["legacy-bios"], "supportedInRegion": True,
    }  # fmt: skip


TYPE_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "instance-type": lambda t: t["instanceType"],
    "vcpu-info.default-vcpus": lambda t: t["vCpuInfo"]["defaultVCpus"],
    "memory-info.size-in-mib": lambda t: t["memoryInfo"]["sizeInMiB"],
    "current-generation": lambda t: t["currentGeneration"],
    "instance-storage-supported": lambda t: t["instanceStorageSupported"],
    "processor-info.supported-architecture": lambda t: t["processorInfo"]["supportedArchitectures"],
    "supported-root-device-type": lambda t: t["supportedRootDeviceTypes"],
    "supported-virtualization-type": lambda t: t["supportedVirtualizationTypes"],
    "bare-metal": lambda t: t["bareMetal"],
    "hypervisor": lambda t: t["hypervisor"],
})  # fmt: skip


def describe_instance_types(backends: Backends, request: Ec2Request) -> Response:
    flavors = backends.compute.flavors.list(request.context, FlavorFilters(is_public=None))
    types = [_instance_type(flavor) for flavor in flavors]
    wanted = request.params.strings("InstanceType")
    if wanted:
        known = {t["instanceType"] for t in types}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise invalid_value("InstanceType", unknown[0], "The instance type does not exist.")
        types = [t for t in types if t["instanceType"] in wanted]
    selected = TYPE_FILTERS.apply(types, filters_of(request.params))
    shown, next_token = page(selected, request.params, key=backends.token_key, scope="DescribeInstanceTypes",
                             rules=PageRules(5, 100))  # fmt: skip
    return {"instanceTypeSet": list(shown), "nextToken": next_token}


# The instance actions' own codes: a server NotFound is an instance id that names nothing, a Conflict an
# instance in a state the action cannot start from.
_INSTANCE_CODES = {"not_found": NOT_FOUND, "conflict": WRONG_STATE}
ACTIONS = (
    Action("RunInstances", run_instances, rule=compute_policies.SERVERS_CREATE,
           not_found="InvalidAMIID.NotFound", quota="InstanceLimitExceeded"),
    Action("DescribeInstances", describe_instances, rule=compute_policies.SERVERS_DETAIL, **_INSTANCE_CODES),
    Action("DescribeInstanceStatus", describe_instance_status, rule=compute_policies.SERVERS_DETAIL,
           **_INSTANCE_CODES),
    Action("StartInstances", start_instances, **_INSTANCE_CODES),
    Action("StopInstances", stop_instances, **_INSTANCE_CODES),
    Action("RebootInstances", reboot_instances, **_INSTANCE_CODES),
    Action("TerminateInstances", terminate_instances, **_INSTANCE_CODES),
    Action("GetConsoleOutput", get_console_output, **_INSTANCE_CODES),
    Action("DescribeInstanceAttribute", describe_instance_attribute, rule=compute_policies.SERVERS_SHOW,
           **_INSTANCE_CODES),
    Action("ModifyInstanceAttribute", modify_instance_attribute, **_INSTANCE_CODES),
    Action("DescribeInstanceTypes", describe_instance_types),
)  # fmt: skip
