"""The virt driver interface: what the compute manager asks of a hypervisor, one instance per host.

Modelled on Nova's `nova.virt.driver.ComputeDriver`, trimmed to what Overcast uses. Calls are
synchronous; the manager runs them in worker threads, so drivers must be thread-safe. Optional
features (pause, rescue, ...) are advertised in `capabilities`; the base class raises
`ActionNotSupported` for them so a driver only implements what its hypervisor can do.
"""

from __future__ import annotations

import base64
import importlib
import logging
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal

from overcast import errors
from overcast.context import RequestContext

LOG = logging.getLogger(__name__)


class PowerState(IntEnum):
    """The hypervisor's view of a VM (Nova's power_state values, stored in the instances table)."""

    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


# --- errors ---------------------------------------------------------------------------------------
class InstanceNotFound(errors.NotFound):
    default_message = "Instance could not be found on this host."


class InstanceExists(errors.Conflict):
    default_message = "Instance already exists on this host."


class InstanceActionInvalid(errors.Conflict):
    """The VM is in a power state that does not allow the action (pause a stopped VM, ...)."""

    default_message = "The action is not valid in the instance's current power state."


class DriverError(errors.OvercastError):
    """The hypervisor failed (spawn could not start the VM, qemu died, ...)."""

    default_message = "The virt driver failed."


class ActionNotSupported(errors.OvercastError):
    status = 501
    title = "notImplemented"
    default_message = "The compute driver does not support this action."


# --- data in --------------------------------------------------------------------------------------
@dataclass
class ImageRef:
    id: str
    path: str | None = None  # local file of the cached image, if the manager fetched it
    properties: dict[str, Any] = field(default_factory=dict)
    # Local files of the kernel and ramdisk images its properties name (kernel_id, ramdisk_id): a
    # machine image booted by direct kernel boot, as EC2's AMI + AKI + ARI.
    kernel_path: str | None = None
    ramdisk_path: str | None = None


@dataclass
class InstanceSpec:
    """Everything a driver needs to build (or rebuild, or resize into) one VM."""

    uuid: str
    name: str
    hostname: str
    vcpus: int
    memory_mb: int
    root_gb: int
    image: ImageRef
    ephemeral_gb: int = 0
    user_data: bytes | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    key_data: str | None = None
    network_info: list[dict[str, Any]] = field(default_factory=list)
    # The volumes the VM has from boot: [{"volume_id", "connection_info", "mountpoint", "boot_index",
    # "serial"}] (boot_index 0: it is the root disk, and the image is not used).
    block_device_info: list[dict[str, Any]] = field(default_factory=list)
    flavor_extra_specs: dict[str, str] = field(default_factory=dict)
    config_drive: bool = False  # the server asked for one (a host may attach one to every VM anyway)
    # On finish_migration: what the source's migrate_disk_and_power_off returned (where its disks are).
    migration_data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for RPC (user_data travels base64-encoded)."""
        data = asdict(self)
        data["user_data"] = base64.b64encode(self.user_data).decode() if self.user_data is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceSpec:
        values = dict(data)
        values["image"] = ImageRef(**values["image"])
        if values.get("user_data") is not None:
            values["user_data"] = base64.b64decode(values["user_data"])
        return cls(**values)


@dataclass(frozen=True)
class VolumeDevice:
    """Where an attached volume appears in the guest: its device name (Nova's mountpoint, "/dev/vdb")
    and the serial the guest reads (/dev/disk/by-id/virtio-<serial>: the volume id's first 20 chars)."""

    volume_id: str
    mountpoint: str
    boot_index: int | None = None

    @property
    def serial(self) -> str:
        return self.volume_id[:20]


def iscsi_initiator_name(host: str) -> str:
    """The iSCSI initiator name of a compute host (the connector's `initiator`): the volume service binds
    each attachment's target to it, and QEMU's initiator logs in with it. IQNs allow lowercase letters,
    digits, '.', '-' and ':' only."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in ".-") else "-" for c in host.lower())
    return f"iqn.2010-10.org.overcast:host:{safe}"


# --- data out -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InstanceInfo:
    state: PowerState
    max_mem_kb: int
    mem_kb: int
    num_cpu: int
    cpu_time_ns: int


@dataclass(frozen=True)
class Device:
    """A passthrough-able host device, counted by identical model (for the scheduler and placement)."""

    kind: Literal["gpu", "pci"]
    vendor_id: str
    product_id: str
    model: str
    count: int = 1


@dataclass(frozen=True)
class HostResources:
    hypervisor_type: str  # "fake"; "KVM" or "QEMU" (TCG) for the QEMU driver, as os-hypervisors shows it
    hypervisor_version: int  # Nova's encoding: major * 1_000_000 + minor * 1_000 + micro
    hypervisor_hostname: str
    cpu_arch: str
    cpu_model: str
    cpu_features: list[str]
    vcpus: int
    memory_mb: int
    local_gb: int
    devices: list[Device] = field(default_factory=list)
    accelerator: str = ""  # "kvm" or "tcg" when the hypervisor has a choice

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


LifecycleTransition = Literal["started", "stopped", "paused", "resumed", "suspended", "crashed"]


@dataclass(frozen=True)
class LifecycleEvent:
    """The hypervisor noticed a VM change state (possibly on its own, e.g. the guest crashed)."""

    uuid: str
    transition: LifecycleTransition
    at: datetime


EventListener = Callable[[LifecycleEvent], None]
RebootType = Literal["SOFT", "HARD"]
SnapshotUpload = Callable[[BinaryIO | Path], None]


class ComputeDriver(ABC):
    """One hypervisor host. `uuid` arguments are instance uuids."""

    capabilities: ClassVar[dict[str, bool]] = {
        "supports_pause": False,
        "supports_suspend": False,
        "supports_rescue": False,
        "supports_snapshot": False,
        "supports_set_admin_password": False,
        "supports_resize": False,
        "supports_console_output": False,
    }

    # True when spawn/rebuild/rescue need the image as a local file (ImageRef.path): the compute
    # manager then fetches it into the host's image cache first.
    needs_image_files: ClassVar[bool] = False

    def __init__(self) -> None:
        self._listeners: list[EventListener] = []
        self._listeners_lock = threading.Lock()

    # --- lifecycle events -------------------------------------------------------------------------
    def register_event_listener(self, callback: EventListener) -> None:
        with self._listeners_lock:
            self._listeners.append(callback)

    def emit_event(self, event: LifecycleEvent) -> None:
        """Deliver to every listener; one failing listener must not stop the others or the driver."""
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                LOG.exception("Lifecycle event listener failed", extra={"instance": event.uuid})

    # --- host -------------------------------------------------------------------------------------
    @abstractmethod
    def init_host(self, host: str) -> None:
        """Prepare the hypervisor for serving `host` (called once when the compute service starts)."""

    def shutdown(self) -> None:  # noqa: B027 (an optional hook: most drivers hold nothing to let go of)
        """Let go of the hypervisor when the compute service stops; VMs keep running."""

    @abstractmethod
    def get_available_resource(self) -> HostResources: ...

    @abstractmethod
    def list_instance_uuids(self) -> list[str]: ...

    def instance_exists(self, uuid: str) -> bool:
        return uuid in self.list_instance_uuids()

    # --- build and delete -------------------------------------------------------------------------
    @abstractmethod
    def spawn(self, ctxt: RequestContext, spec: InstanceSpec, admin_password: str | None = None) -> None:
        """Create and start the VM. Raises DriverError (or InstanceExists) and leaves nothing behind."""

    @abstractmethod
    def destroy(self, ctxt: RequestContext, uuid: str, destroy_disks: bool = True) -> None:
        """Stop and remove the VM; a VM that is already gone is not an error."""

    # --- power ------------------------------------------------------------------------------------
    @abstractmethod
    def reboot(self, ctxt: RequestContext, uuid: str, reboot_type: RebootType) -> None: ...

    @abstractmethod
    def power_off(self, ctxt: RequestContext, uuid: str, timeout: int = 0) -> None:
        """Stop the VM; `timeout` > 0 first asks the guest to shut down cleanly for that many seconds."""

    @abstractmethod
    def power_on(self, ctxt: RequestContext, uuid: str) -> None: ...

    def pause(self, ctxt: RequestContext, uuid: str) -> None:
        raise ActionNotSupported("This compute driver cannot pause instances.")

    def unpause(self, ctxt: RequestContext, uuid: str) -> None:
        raise ActionNotSupported("This compute driver cannot unpause instances.")

    def suspend(self, ctxt: RequestContext, uuid: str) -> None:
        raise ActionNotSupported("This compute driver cannot suspend instances.")

    def resume(self, ctxt: RequestContext, uuid: str) -> None:
        raise ActionNotSupported("This compute driver cannot resume instances.")

    # --- rescue, snapshot, password ---------------------------------------------------------------
    def rescue(
        self, ctxt: RequestContext, uuid: str, rescue_image: ImageRef, admin_password: str | None
    ) -> None:
        raise ActionNotSupported("This compute driver cannot rescue instances.")

    def unrescue(self, ctxt: RequestContext, uuid: str) -> None:
        raise ActionNotSupported("This compute driver cannot unrescue instances.")

    def snapshot(self, ctxt: RequestContext, uuid: str, image_id: str, upload: SnapshotUpload) -> None:
        """Capture the root disk and hand it to `upload` (a readable file or a path)."""
        raise ActionNotSupported("This compute driver cannot snapshot instances.")

    def set_admin_password(self, uuid: str, password: str) -> None:
        raise ActionNotSupported("This compute driver cannot set the admin password.")

    # --- cold resize / migration ------------------------------------------------------------------
    def migrate_disk_and_power_off(
        self, ctxt: RequestContext, uuid: str, new_spec: InstanceSpec
    ) -> dict[str, Any] | None:
        """On the source host: stop the VM and set its disks aside (kept until confirm or revert).

        Returns what the destination needs to find them (JSON-safe), which the compute manager hands
        to finish_migration as `new_spec.migration_data`; None when the destination needs nothing.
        When the disk travelled through the image service, the manager adds `disk_path` (the local
        file of the exported disk) and, for an overlay, `base_path` (the local file of its base).
        """
        raise ActionNotSupported("This compute driver cannot resize instances.")

    def finish_migration(
        self, ctxt: RequestContext, new_spec: InstanceSpec, resize_instance: bool, power_on: bool
    ) -> None:
        """On the destination host (maybe the same one): bring the VM up with the new flavor."""
        raise ActionNotSupported("This compute driver cannot resize instances.")

    def export_migration_disk(
        self, ctxt: RequestContext, uuid: str, upload: SnapshotUpload, *, standalone: bool
    ) -> None:
        """On the source host, after migrate_disk_and_power_off: hand the set-aside root disk to `upload`
        for a destination that cannot read it in place. `standalone`: with its base's data folded in;
        else the overlay alone, without a backing reference (the destination attaches its own copy of
        the base named `base_image_id` in the migration data)."""
        raise ActionNotSupported("This compute driver cannot export a resized instance's disk.")

    def confirm_migration(self, ctxt: RequestContext, uuid: str) -> None:
        """On the source host: drop the disks set aside by migrate_disk_and_power_off."""
        raise ActionNotSupported("This compute driver cannot resize instances.")

    def finish_revert_migration(self, ctxt: RequestContext, old_spec: InstanceSpec, power_on: bool) -> None:
        """On the source host, after the destination destroyed the new VM: restore the old one."""
        raise ActionNotSupported("This compute driver cannot resize instances.")

    # --- network interfaces -----------------------------------------------------------------------
    def attach_interface(self, ctxt: RequestContext, uuid: str, vif: dict[str, Any]) -> None:
        """Plug one more NIC into the VM: `vif` is what the network agent wired (id = the port's id,
        address, type "tap", device). Raises DriverError when the VM already has it."""
        raise ActionNotSupported("This compute driver cannot attach interfaces.")

    def detach_interface(self, ctxt: RequestContext, uuid: str, vif: dict[str, Any]) -> None:
        """Unplug the NIC of `vif` (its id is enough); one the VM does not have is not an error."""
        raise ActionNotSupported("This compute driver cannot detach interfaces.")

    def interface_ids(self, uuid: str) -> list[str]:
        """The ids of the VM's NICs, in the order it has them."""
        raise ActionNotSupported("This compute driver cannot list interfaces.")

    # --- volumes ----------------------------------------------------------------------------------
    def attach_volume(
        self, ctxt: RequestContext, uuid: str, connection_info: dict[str, Any], device: VolumeDevice
    ) -> None:
        """Hot-plug the volume `connection_info` reaches (Cinder's shape: driver_volume_type and data)
        into the VM as `device`; it joins the VM's spec, so the next start has it from boot. Raises
        DriverError (the VM keeps nothing of it) when the hypervisor cannot connect or plug it."""
        raise ActionNotSupported("This compute driver cannot attach volumes.")

    def detach_volume(self, ctxt: RequestContext, uuid: str, volume_id: str) -> None:
        """Unplug the volume once the guest let go of it; one the VM does not have is not an error."""
        raise ActionNotSupported("This compute driver cannot detach volumes.")

    def extend_volume(self, ctxt: RequestContext, uuid: str, volume_id: str, new_size_bytes: int) -> None:
        """Tell the VM its attached volume grew (the backend already grew it), so the guest sees it."""
        raise ActionNotSupported("This compute driver cannot extend attached volumes.")

    def swap_volume(
        self,
        ctxt: RequestContext,
        uuid: str,
        old_volume_id: str,
        connection_info: dict[str, Any],
        device: VolumeDevice,
    ) -> None:
        """Copy the attached `old_volume_id` onto the volume `connection_info` reaches and switch the
        guest's disk to it in place (Nova's swap: the guest keeps its device); the old one is let go."""
        raise ActionNotSupported("This compute driver cannot swap volumes.")

    def volume_ids(self, uuid: str) -> list[str]:
        """The ids of the volumes plugged into the VM, in the order it has them."""
        raise ActionNotSupported("This compute driver cannot list volumes.")

    # --- inspection -------------------------------------------------------------------------------
    @abstractmethod
    def get_info(self, uuid: str) -> InstanceInfo:
        """Raises InstanceNotFound when the VM is not on this host."""

    def get_console_output(self, ctxt: RequestContext, uuid: str) -> str:
        raise ActionNotSupported("This compute driver cannot show console output.")

    def trigger_crash_dump(self, uuid: str) -> None:
        """Send the guest a non-maskable interrupt (its kernel's crash dump, if configured)."""
        raise ActionNotSupported("Triggering crash dump is not supported.")

    def get_serial_console(self, uuid: str) -> dict[str, Any]:
        """Where the VM's interactive serial port listens: {"kind": "tcp", "host": ..., "port": ...} or
        {"kind": "unix", "path": ...} (a socket only a proxy on the same host can reach)."""
        raise ActionNotSupported("This compute driver has no interactive serial console.")

    def get_instance_network(self, uuid: str) -> dict[str, Any] | None:
        """How users reach the guest when the driver networks it itself (None: it does not)."""
        return None

    @abstractmethod
    def get_diagnostics(self, uuid: str) -> dict[str, Any]: ...


DRIVERS: dict[str, str] = {
    "fake": "overcast.virt.fake:FakeDriver",
    "qemu": "overcast.virt.qemu.driver:QemuDriver",
}
QEMU_BINARY = "qemu-system-x86_64"


def resolve_driver_name(name: str) -> str:
    """"auto" means QEMU when qemu-system-x86_64 is installed, else the fake; other names stay."""
    if name.lower() != "auto":
        return name
    return "qemu" if shutil.which(QEMU_BINARY) else "fake"


def load_driver(name: str, **kwargs: Any) -> ComputeDriver:
    """Build the driver configured as `name` ("auto", "fake", "qemu") or as "package.module:Class"."""
    name = resolve_driver_name(name)
    target = DRIVERS.get(name.lower(), name)
    module_name, _, class_name = target.partition(":")
    if not class_name:
        raise DriverError(f"Unknown compute driver {name!r}; known: {', '.join(sorted(DRIVERS))}.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DriverError(f"Compute driver {name!r} cannot be loaded: {exc}") from exc
    driver_class = getattr(module, class_name, None)
    if not (isinstance(driver_class, type) and issubclass(driver_class, ComputeDriver)):
        raise DriverError(f"{target} is not a ComputeDriver.")
    return driver_class(**kwargs)
