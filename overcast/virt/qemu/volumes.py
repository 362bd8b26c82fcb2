"""A VM's volumes: QEMU's own iSCSI initiator, a throttle group for the volume's QoS, a virtio-blk disk.

Each volume is a chain of block nodes: the `iscsi` protocol node (CHAP password from a `secret` object),
a `throttle` filter on a throttle group holding the QoS limits (none: an unlimited group), and a
`virtio-blk-pci` disk whose serial is the volume id's first 20 characters, on a PCIe root port of its
own. At boot the chain is on the command line (the secret read from a 0600 file in the instance folder,
never from the command line, which every local user can read); a running VM gets it over QMP
(`object-add`, `blockdev-add`, `device_add`), on one of the empty root ports kept for volumes. Detach is
`device_del`, then DEVICE_DELETED from the guest, then `blockdev-del` and `object-del`. An attached volume
joins the VM's spec (`block_device_info`), so stop/start, hard reboot and a move's new VM have it.

The root disk's throttling (flavor extra specs `quota:disk_read_bytes_sec` and the like, Nova's libvirt
keys) uses the same limits on a `-drive`'s throttling options.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from overcast.virt.driver import DriverError, VolumeDevice, iscsi_initiator_name
from overcast.virt.qemu.instance import VM

# Root ports kept empty at boot for volumes hot-plugged later (NICs have their own, launch.py's).
HOTPLUG_PORTS = 8
_FIRST_HOTPLUG_CHASSIS = 120
_FIRST_BOOT_CHASSIS = 40
# How long the guest has to let go of an unplugged disk.
UNPLUG_TIMEOUT = 30.0
SECRET_MODE = 0o600

# Cinder's front-end QoS keys -> QEMU's throttle limits; Nova's flavor keys for the root disk likewise.
_QOS_LIMITS = {
    "read_bytes_sec": "bps-read", "write_bytes_sec": "bps-write", "total_bytes_sec": "bps-total",
    "read_iops_sec": "iops-read", "write_iops_sec": "iops-write", "total_iops_sec": "iops-total",
}  # fmt: skip
# Nova's flavor keys are quota:disk_<Cinder's key> (the scope spelled apart: it is no policy rule name).
FLAVOR_QUOTA_SCOPE = "quota"
FLAVOR_DISK_QUOTA_PREFIX = f"{FLAVOR_QUOTA_SCOPE}:disk_"


class Runtime(Protocol):
    """What of runtime.Runtime this module uses (runtime.py builds the command line from boot_args)."""

    def alive(self, vm: VM) -> bool: ...

    def execute(
        self, vm: VM, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30
    ) -> Any: ...


@dataclass(frozen=True)
class VolumeNodes:
    """QEMU's ids of one volume's objects, nodes and device: the same at boot and when hot-plugged."""

    secret: str
    group: str
    protocol: str
    throttle: str
    disk: str
    boot_port: str

    @classmethod
    def of(cls, volume_id: str) -> VolumeNodes:
        short = volume_id.replace("-", "")[:12]
        return cls(
            secret=f"sec-{short}", group=f"tg-{short}", protocol=f"vol-{short}", throttle=f"thr-{short}",
            disk=f"vdisk-{short}", boot_port=f"port-vdisk-{short}",
        )  # fmt: skip


def hotplug_port(index: int) -> str:
    return f"volport{index}"


def throttle_limits(specs: Mapping[str, Any] | None, *, prefix: str = "") -> dict[str, int]:
    """QEMU throttle limits from Cinder QoS specs (or, with `prefix`, Nova's flavor extra specs); keys
    QEMU does not know, zero and unparsable values are left out (Nova and Cinder ignore them too)."""
    limits: dict[str, int] = {}
    for key, qemu_key in _QOS_LIMITS.items():
        raw = (specs or {}).get(prefix + key)
        try:
            value = int(str(raw)) if raw is not None else 0
        except ValueError:
            continue
        if value > 0:
            limits[qemu_key] = value
    return limits


def drive_throttling(extra_specs: Mapping[str, Any]) -> str:
    """The `-drive` options throttling the root disk as the flavor's quota:disk_* extra specs say."""
    limits = throttle_limits(extra_specs, prefix=FLAVOR_DISK_QUOTA_PREFIX)
    return "".join(f",throttling.{key}={value}" for key, value in limits.items())


def _iscsi_data(volume_id: str, connection_info: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = connection_info.get("driver_volume_type")
    if kind != "iscsi":
        raise DriverError(f"Volume {volume_id}: QEMU cannot connect a {kind!r} volume, only iscsi.")
    data = connection_info.get("data")
    if not isinstance(data, Mapping) or not data.get("target_portal") or not data.get("target_iqn"):
        raise DriverError(f"Volume {volume_id}: its connection_info has no iSCSI portal and target.")
    return data


def _protocol_node(nodes: VolumeNodes, data: Mapping[str, Any], initiator: str) -> dict[str, Any]:
    node: dict[str, Any] = {
        "driver": "iscsi", "node-name": nodes.protocol, "transport": "tcp",
        "portal": str(data["target_portal"]), "target": str(data["target_iqn"]),
        "lun": int(data.get("target_lun", 0)), "initiator-name": initiator,
        "cache": {"direct": True, "no-flush": False},
        "read-only": data.get("access_mode") == "ro",
    }  # fmt: skip
    if data.get("auth_method") == "CHAP":
        node.update(user=str(data["auth_username"]), **{"password-secret": nodes.secret})
    return node


def _throttle_group(nodes: VolumeNodes, data: Mapping[str, Any]) -> dict[str, Any]:
    qos = data.get("qos_specs")
    return {"qom-type": "throttle-group", "id": nodes.group, "limits": throttle_limits(qos)}


def _throttle_node(nodes: VolumeNodes, read_only: bool) -> dict[str, Any]:
    return {
        "driver": "throttle", "node-name": nodes.throttle, "throttle-group": nodes.group,
        "file": nodes.protocol, "read-only": read_only,
    }  # fmt: skip


def _disk(nodes: VolumeNodes, device: VolumeDevice, bus: str) -> dict[str, Any]:
    disk: dict[str, Any] = {
        "driver": "virtio-blk-pci", "id": nodes.disk, "drive": nodes.throttle, "serial": device.serial,
        "bus": bus,
    }  # fmt: skip
    if device.boot_index == 0:
        disk["bootindex"] = 1
    return disk


def _secret_file(folder: Path, nodes: VolumeNodes) -> Path:
    return folder / f"{nodes.secret}.key"


def boot_args(
    folder: Path, block_device_info: list[dict[str, Any]], host: str, *, rescued: bool = False
) -> list[str]:
    """The command-line arguments that give a VM its volumes from boot, each on a root port of its own,
    then the empty root ports for volumes attached later. Writes each CHAP password to a 0600 file.
    A rescued VM boots its rescue disk, so its root volume is only the second disk (stable rescue)."""
    args: list[str] = []
    initiator = iscsi_initiator_name(host)
    for index, volume in enumerate(block_device_info):
        volume_id = str(volume["volume_id"])
        nodes = VolumeNodes.of(volume_id)
        data = _iscsi_data(volume_id, volume["connection_info"])
        boot_index = None if rescued else volume.get("boot_index")
        device = VolumeDevice(volume_id, str(volume.get("mountpoint") or ""), boot_index)
        read_only = data.get("access_mode") == "ro"
        if data.get("auth_method") == "CHAP":
            secret = _secret_file(folder, nodes)
            descriptor = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_MODE)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(str(data["auth_password"]))
            args += ["-object", f"secret,id={nodes.secret},file={secret.name},format=raw"]
        args += ["-object", json.dumps(_throttle_group(nodes, data))]
        args += ["-blockdev", json.dumps(_protocol_node(nodes, data, initiator))]
        args += ["-blockdev", json.dumps(_throttle_node(nodes, read_only))]
        args += ["-device", f"pcie-root-port,id={nodes.boot_port},chassis={_FIRST_BOOT_CHASSIS + index}"]
        args += ["-device", json.dumps(_disk(nodes, device, nodes.boot_port))]
    for index in range(HOTPLUG_PORTS):
        chassis = _FIRST_HOTPLUG_CHASSIS + index
        args += ["-device", f"pcie-root-port,id={hotplug_port(index)},chassis={chassis}"]
    return args


def _volumes(vm: VM) -> list[dict[str, Any]]:
    return list(vm.record.spec.get("block_device_info") or [])


def _free_hotplug_port(vm: VM) -> str:
    taken = {volume.get("bus") for volume in _volumes(vm) if volume.get("qemu_pid") == vm.pid}
    for index in range(HOTPLUG_PORTS):
        if hotplug_port(index) not in taken:
            return hotplug_port(index)
    raise DriverError(
        f"Instance {vm.uuid} has no free PCIe port for another volume; stop and start it first."
    )


def plug(runtime: Runtime, vm: VM, host: str, connection_info: dict[str, Any], device: VolumeDevice) -> None:
    """Attach the volume to `vm` (over QMP when it runs) and record it in its spec."""
    if any(str(volume.get("volume_id")) == device.volume_id for volume in _volumes(vm)):
        raise DriverError(f"Instance {vm.uuid} already has volume {device.volume_id}.")
    nodes = VolumeNodes.of(device.volume_id)
    data = _iscsi_data(device.volume_id, connection_info)
    recorded: dict[str, Any] = {
        "volume_id": device.volume_id, "connection_info": connection_info, "mountpoint": device.mountpoint,
        "boot_index": device.boot_index, "serial": device.serial,
    }  # fmt: skip
    if runtime.alive(vm):
        bus = _free_hotplug_port(vm)
        _hot_plug(runtime, vm, nodes, data, device, bus, iscsi_initiator_name(host))
        recorded.update(bus=bus, qemu_pid=vm.pid)
    vm.record.spec["block_device_info"] = [*_volumes(vm), recorded]
    vm.save()


def _hot_plug(
    runtime: Runtime,
    vm: VM,
    nodes: VolumeNodes,
    data: Mapping[str, Any],
    device: VolumeDevice,
    bus: str,
    initiator: str,
) -> None:
    undo: list[tuple[str, dict[str, Any]]] = []
    try:
        _add_nodes(runtime, vm, nodes, data, initiator, undo)
        runtime.execute(vm, "device_add", _disk(nodes, device, bus))
    except DriverError:
        _undo(runtime, vm, undo)
        raise


def _add_nodes(
    runtime: Runtime,
    vm: VM,
    nodes: VolumeNodes,
    data: Mapping[str, Any],
    initiator: str,
    undo: list[tuple[str, dict[str, Any]]],
) -> None:
    """The secret, throttle group, iSCSI and throttle nodes of a volume; what was added goes to `undo`."""
    if data.get("auth_method") == "CHAP":
        runtime.execute(vm, "object-add", {
            "qom-type": "secret", "id": nodes.secret, "data": str(data["auth_password"]), "format": "raw",
        })  # fmt: skip
        undo.append(("object-del", {"id": nodes.secret}))
    runtime.execute(vm, "object-add", _throttle_group(nodes, data))
    undo.append(("object-del", {"id": nodes.group}))
    # Connecting to the target happens here: a wrong password or an unreachable portal fails it.
    runtime.execute(vm, "blockdev-add", _protocol_node(nodes, data, initiator))
    undo.append(("blockdev-del", {"node-name": nodes.protocol}))
    runtime.execute(vm, "blockdev-add", _throttle_node(nodes, data.get("access_mode") == "ro"))
    undo.append(("blockdev-del", {"node-name": nodes.throttle}))


def _undo(runtime: Runtime, vm: VM, undo: list[tuple[str, dict[str, Any]]]) -> None:
    for command, arguments in reversed(undo):
        _quietly(runtime, vm, command, arguments)


def _removal(nodes: VolumeNodes) -> list[tuple[str, dict[str, Any]]]:
    """What _add_nodes adds, in its order (an `_undo` list that removes a volume's nodes)."""
    return [
        ("object-del", {"id": nodes.secret}), ("object-del", {"id": nodes.group}),
        ("blockdev-del", {"node-name": nodes.protocol}), ("blockdev-del", {"node-name": nodes.throttle}),
    ]  # fmt: skip


def _quietly(runtime: Runtime, vm: VM, command: str, arguments: dict[str, Any]) -> None:
    # Already gone, or QEMU went away: nothing of it is left to remove.
    with contextlib.suppress(DriverError):
        runtime.execute(vm, command, arguments)


def unplug(runtime: Runtime, vm: VM, volume_id: str, timeout: float = UNPLUG_TIMEOUT) -> None:
    """Detach the volume: the guest releases the disk first (DEVICE_DELETED), then its nodes go."""
    volumes = _volumes(vm)
    if not any(str(volume.get("volume_id")) == volume_id for volume in volumes):
        return
    nodes = VolumeNodes.of(volume_id)
    entry = next(volume for volume in volumes if str(volume.get("volume_id")) == volume_id)
    if runtime.alive(vm) and vm.qmp is not None:
        mark = vm.qmp.event_mark()
        # A swapped-in volume keeps the disk device of the one it replaced (its id is recorded).
        runtime.execute(vm, "device_del", {"id": entry.get("disk") or nodes.disk})
        if vm.qmp.wait_event("DEVICE_DELETED", timeout, after=mark) is None:
            raise DriverError(
                f"The guest of instance {vm.uuid} did not release volume {volume_id} in {timeout:g} s."
            )
        _undo(runtime, vm, _removal(nodes))
    _secret_file(vm.folder, nodes).unlink(missing_ok=True)
    vm.record.spec["block_device_info"] = [v for v in volumes if str(v.get("volume_id")) != volume_id]
    vm.save()


def resize(runtime: Runtime, vm: VM, volume_id: str, new_size_bytes: int) -> None:
    """Tell QEMU the volume grew (the target's LUN already did): the guest gets a capacity change."""
    if not any(str(volume.get("volume_id")) == volume_id for volume in _volumes(vm)):
        raise DriverError(f"Instance {vm.uuid} has no volume {volume_id}.")
    if runtime.alive(vm):
        runtime.execute(vm, "block_resize", {"node-name": VolumeNodes.of(volume_id).throttle,
                                             "size": new_size_bytes})  # fmt: skip


def swap(
    runtime: Runtime,
    vm: VM,
    host: str,
    old_volume_id: str,
    connection_info: dict[str, Any],
    device: VolumeDevice,
    timeout: float = 3600.0,
) -> None:
    """Mirror the attached `old_volume_id` onto the new volume and pivot the guest's disk to it
    (`blockdev-mirror`, then `block-job-complete` once the copy is in sync); a stopped VM just has the
    new volume in its spec in place of the old one."""
    volumes = _volumes(vm)
    old = next((v for v in volumes if str(v.get("volume_id")) == old_volume_id), None)
    if old is None:
        raise DriverError(f"Instance {vm.uuid} has no volume {old_volume_id}.")
    old_nodes, new_nodes = VolumeNodes.of(old_volume_id), VolumeNodes.of(device.volume_id)
    data = _iscsi_data(device.volume_id, connection_info)
    recorded = {
        **old, "volume_id": device.volume_id, "connection_info": connection_info, "serial": device.serial,
    }  # fmt: skip
    if runtime.alive(vm) and vm.qmp is not None:
        undo: list[tuple[str, dict[str, Any]]] = []
        job = f"swap-{new_nodes.protocol}"
        try:
            _add_nodes(runtime, vm, new_nodes, data, iscsi_initiator_name(host), undo)
            mark = vm.qmp.event_mark()
            runtime.execute(vm, "blockdev-mirror", {
                "job-id": job, "device": old_nodes.throttle, "target": new_nodes.throttle, "sync": "full",
            })  # fmt: skip
            if vm.qmp.wait_event("BLOCK_JOB_READY", timeout, after=mark) is None:
                _quietly(runtime, vm, "block-job-cancel", {"device": job, "force": True})
                raise DriverError(
                    f"Copying volume {old_volume_id} of {vm.uuid} did not finish in {timeout:g} s."
                )
            runtime.execute(vm, "block-job-complete", {"device": job})
            if vm.qmp.wait_event("BLOCK_JOB_COMPLETED", 60.0, after=mark) is None:
                raise DriverError(f"QEMU did not switch {vm.uuid} to volume {device.volume_id}.")
        except DriverError:
            _undo(runtime, vm, undo)
            raise
        _undo(runtime, vm, _removal(old_nodes))
        recorded["disk"] = old.get("disk") or old_nodes.disk
    _secret_file(vm.folder, old_nodes).unlink(missing_ok=True)
    vm.record.spec["block_device_info"] = [
        recorded if str(v.get("volume_id")) == old_volume_id else v for v in volumes
    ]
    vm.save()


def volume_ids(vm: VM) -> list[str]:
    return [str(volume["volume_id"]) for volume in _volumes(vm)]
