"""How DescribeInstances and RunInstances show a server: AWS's state codes, the reservation it was
launched in, its addresses, block devices and tags, from the compute API's batched server reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import select

from overcast.compute import network_info, states
from overcast.compute.api.server_queries import Server
from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.db.models.block_device_mapping import BlockDeviceMapping
from overcast.db.models.network import SecurityGroup
from overcast.db.value_sets import in_values
from overcast.ec2 import ids
from overcast.ec2.backends import Backends, ConstantItems, Inline
from overcast.ec2.tags import tag_set, tags_of

PENDING, RUNNING, SHUTTING_DOWN = (0, "pending"), (16, "running"), (32, "shutting-down")
TERMINATED, STOPPING, STOPPED = (48, "terminated"), (64, "stopping"), (80, "stopped")
# Task states that show as a transition in EC2's terms.
_TRANSITIONS = {
    states.POWERING_OFF: STOPPING, states.POWERING_ON: PENDING, states.DELETING: SHUTTING_DOWN,
    states.SOFT_DELETING: SHUTTING_DOWN, states.SHELVING: STOPPING,
}  # fmt: skip
_AT_REST = {
    states.BUILDING: PENDING, states.ACTIVE: RUNNING, states.RESCUED: RUNNING, states.RESIZED: RUNNING,
    states.PAUSED: STOPPED, states.SUSPENDED: STOPPED, states.STOPPED: STOPPED, states.SHELVED: STOPPED,
    states.SHELVED_OFFLOADED: STOPPED, states.ERROR: STOPPED, states.SOFT_DELETED: TERMINATED,
    states.DELETED: TERMINATED,
}  # fmt: skip
ROOT_DEVICE = "/dev/sda1"
# The metadata service as every instance has it: IMDSv1 and v2, tags not in it.
# Read-only mappings: the same in every instance, so the XML renderer renders each once.
METADATA_OPTIONS = MappingProxyType({
    "state": "applied", "httpTokens": "optional", "httpPutResponseHopLimit": 1, "httpEndpoint": "enabled",
    "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled",
})  # fmt: skip
MONITORING = MappingProxyType({"state": "disabled"})
# What every instance shows alike after its CPU options.
_ALIKE = Inline({
    "hibernationOptions": {"configured": False}, "metadataOptions": METADATA_OPTIONS,
    "enclaveOptions": {"enabled": False}, "platformDetails": "Linux/UNIX", "usageOperation": "RunInstances",
    "bootMode": "legacy-bios", "currentInstanceBootMode": "legacy-bios",
})  # fmt: skip
# The few distinct states, zones' placements and CPU counts a page shows, each one object for the process
# (so the XML renders each once); more than this many zones or CPU counts are not kept.
_STATE_VIEWS = {state: MappingProxyType({"code": state[0], "name": state[1]})
                for state in (PENDING, RUNNING, SHUTTING_DOWN, TERMINATED, STOPPING, STOPPED)}  # fmt: skip
_PLACEMENTS: dict[str, Mapping[str, Any]] = {}
_GROUP_SETS: dict[tuple[tuple[str, str], ...], Sequence[Mapping[str, str]]] = {}
_CPU_OPTIONS: dict[int, Mapping[str, Any]] = {}
_KEPT = 64
_KEPT_GROUP_SETS = 4096
# Nova names a server's disks vda, vdb...; EC2 clients expect the sd names of a block device mapping.
_DEVICE_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def ec2_state(vm_state: str, task_state: str | None, deleted: bool = False) -> tuple[int, str]:
    if deleted:
        return TERMINATED
    if task_state in _TRANSITIONS:
        return _TRANSITIONS[task_state]
    return _AT_REST.get(vm_state, PENDING)


def state_view(state: tuple[int, str]) -> Mapping[str, Any]:
    return _STATE_VIEWS.get(state) or {"code": state[0], "name": state[1]}


def _placement(zone: str) -> Mapping[str, Any]:
    found = _PLACEMENTS.get(zone)
    if found is None:
        found = MappingProxyType({"availabilityZone": zone, "groupName": "", "tenancy": "default"})
        if len(_PLACEMENTS) < _KEPT:
            _PLACEMENTS[zone] = found
        else:
            return dict(found)  # a proxy not kept could share a dead one's id in the XML's cache
    return found


def _group_set(groups: tuple[tuple[str, str], ...]) -> Sequence[Mapping[str, str]]:
    """An instance's groupSet ((name, id) pairs), one object per distinct set while few are kept."""
    found = _GROUP_SETS.get(groups)
    if found is None:
        found = ConstantItems(
            MappingProxyType({"groupName": name, "groupId": group_id}) for name, group_id in groups
        )
        if len(_GROUP_SETS) < _KEPT_GROUP_SETS:
            _GROUP_SETS[groups] = found
        else:
            return [{"groupName": name, "groupId": group_id} for name, group_id in groups]
    return found


def _cpu_options(vcpus: int) -> Mapping[str, Any]:
    found = _CPU_OPTIONS.get(vcpus)
    if found is None:
        found = MappingProxyType({"coreCount": vcpus, "threadsPerCore": 1})
        if len(_CPU_OPTIONS) < _KEPT:
            _CPU_OPTIONS[vcpus] = found
        else:
            return dict(found)
    return found


def ec2_device_name(device: str | None) -> str:
    """/dev/vdb → /dev/sdb, as EC2 names attached volumes; the root (vda) is /dev/sda1."""
    if not device:
        return ""
    leaf = device.rpartition("/")[2]
    if leaf in ("vda", "sda", "xvda"):
        return ROOT_DEVICE
    if leaf[:2] in ("vd", "xv") or leaf.startswith("sd"):
        return f"/dev/sd{leaf[-1]}" if leaf[-1] in _DEVICE_LETTERS else device
    return device


@dataclass(frozen=True)
class ViewContext:
    """What a page of instance views shares, read in a few queries for the whole page."""

    instance_ids: dict[str, str]
    image_ids: dict[str, str]
    kernel_ids: dict[str, str]
    ramdisk_ids: dict[str, str]
    reservation_ids: dict[str, str]
    tags: dict[str, dict[str, str]]
    group_ids: dict[tuple[str, str], str]
    volumes: dict[str, list[dict[str, Any]]]


def view_context(backends: Backends, servers: Sequence[Server]) -> ViewContext:
    table = backends.ids
    instances = [server.instance for server in servers]
    instance_ids = table.shown_ids(ids.INSTANCE, (i.uuid for i in instances))
    image_ids = table.shown_ids(ids.MACHINE_IMAGE, {i.image_ref for i in instances if i.image_ref})
    kernel_ids = table.shown_ids(ids.KERNEL_IMAGE, {i.kernel_id for i in instances if i.kernel_id})
    ramdisk_ids = table.shown_ids(ids.RAMDISK_IMAGE, {i.ramdisk_id for i in instances if i.ramdisk_id})
    reservation_ids = table.shown_ids(ids.RESERVATION, {i.reservation_id for i in instances})
    with backends.db.reader() as session:
        tags = tags_of(session, list(instance_ids.values()))
        names = {name for i in instances for name in i.security_groups or ()}
        projects = {i.project_id for i in instances}
        groups: dict[tuple[str, str], str] = {}
        if names:
            query = select(SecurityGroup.project_id, SecurityGroup.name, SecurityGroup.id).where(
                SecurityGroup.project_id.in_(projects), SecurityGroup.name.in_(names)
            )
            groups = {(project, name): group for project, name, group in session.execute(query)}
        volumes: dict[str, list[dict[str, Any]]] = {}
        # The compute API's read already knows which servers have volumes: only theirs are read again.
        uuids = [server.instance.uuid for server in servers if server.volumes_attached]
        if uuids:
            mappings = select(BlockDeviceMapping).where(
                in_values(session, BlockDeviceMapping.instance_uuid, uuids),
                BlockDeviceMapping.destination_type == "volume",
            )
            for mapping in session.scalars(mappings):
                volumes.setdefault(mapping.instance_uuid, []).append({
                    "device": mapping.device_name, "volume": mapping.volume_id,
                    "root": mapping.boot_index == 0, "delete": bool(mapping.delete_on_termination),
                    "attached": mapping.created_at,
                })  # fmt: skip
    volume_ids = table.shown_ids(ids.VOLUME, {
        volume["volume"] for listed in volumes.values() for volume in listed if volume["volume"]
    })  # fmt: skip
    for listed in volumes.values():
        for volume in listed:
            volume["volume"] = volume_ids.get(volume["volume"], "")
    group_ids = table.shown_ids(ids.SECURITY_GROUP, groups.values())
    return ViewContext(
        instance_ids, image_ids, kernel_ids, ramdisk_ids, reservation_ids, tags,
        {key: group_ids[group] for key, group in groups.items()}, volumes,
    )  # fmt: skip


def _addresses(server: Server) -> tuple[str | None, str | None]:
    found = server.port_addresses or network_info.addresses(server.network_info)
    fixed = floating = None
    for listed in found.values():
        for entry in listed:
            if entry.get("version") != 4:
                continue
            if entry.get("OS-EXT-IPS:type") == "floating":
                floating = floating or entry["addr"]
            else:
                fixed = fixed or entry["addr"]
    return fixed, floating


def _dns_name(address: str | None) -> str:
    return f"ip-{address.replace('.', '-')}.ec2.internal" if address else ""


def instance_view(server: Server, context: ViewContext) -> dict[str, Any]:
    instance = server.instance
    ec2_id = context.instance_ids[instance.uuid]
    state = ec2_state(instance.vm_state, instance.task_state, bool(instance.deleted))
    fixed, floating = _addresses(server)
    fault = server.fault
    volumes = context.volumes.get(instance.uuid, [])
    zone = server.availability_zone or instance.availability_zone or DEFAULT_AVAILABILITY_ZONE
    project = instance.project_id
    groups = _group_set(
        tuple((name, context.group_ids.get((project, name), "")) for name in instance.security_groups or ())
    )
    return {
        "instanceId": ec2_id,
        "imageId": context.image_ids.get(instance.image_ref, ""),
        "instanceState": state_view(state),
        "privateDnsName": _dns_name(fixed),
        "dnsName": _dns_name(floating),
        "reason": fault.message if fault is not None else "",
        "keyName": instance.key_name,
        "amiLaunchIndex": instance.launch_index,
        "productCodes": [],
        "instanceType": server.flavor.name if server.flavor is not None else instance.flavor_id,
        "launchTime": instance.launched_at or instance.created_at,
        "placement": _placement(zone),
        "kernelId": context.kernel_ids.get(instance.kernel_id) if instance.kernel_id else None,
        "ramdiskId": context.ramdisk_ids.get(instance.ramdisk_id) if instance.ramdisk_id else None,
        "monitoring": MONITORING,
        "privateIpAddress": fixed,
        "ipAddress": floating,
        "architecture": "x86_64",
        "rootDeviceType": "ebs" if any(volume["root"] for volume in volumes) else "instance-store",
        "rootDeviceName": ROOT_DEVICE,
        "blockDeviceMapping": [
            {"deviceName": ec2_device_name(volume["device"]), "ebs": {
                "volumeId": volume["volume"], "status": "attached", "attachTime": volume["attached"],
                "deleteOnTermination": volume["delete"],
            }}
            for volume in volumes
        ],
        "virtualizationType": "hvm",
        "clientToken": "",
        "tagSet": tag_set(context.tags.get(ec2_id, {})),
        "hypervisor": "xen",
        "groupSet": groups,
        "sourceDestCheck": True,
        "stateReason": {"code": "Server.InternalError", "message": fault.message}
        if fault is not None and state[1] != "terminated" else None,
        "ebsOptimized": False,
        "enaSupport": False,
        "cpuOptions": _cpu_options(instance.vcpus),
        "_alike": _ALIKE,
    }  # fmt: skip


def reservation_view(
    reservation_id: str, owner_id: str, servers: Sequence[Server], context: ViewContext
) -> dict[str, Any]:
    return {
        "reservationId": reservation_id,
        "ownerId": owner_id,
        "groupSet": [],
        "instancesSet": [instance_view(server, context) for server in servers],
    }
