"""An in-memory hypervisor: VMs with realistic power-state transitions, and no processes behind them.

One `FakeDriver` simulates one compute host; hundreds can live in one process because a VM is a small
record (no thread, no timer: cpu time is computed from the injected clock when asked). Tests steer it
with our own fault injection: `fail_next`, `delays`/`spawn_delay` and `crash`.
"""

from __future__ import annotations

import functools
import io
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

from overcast.context import RequestContext
from overcast.virt.driver import (
    ComputeDriver,
    DeviceNotFound,
    DriverError,
    HostResources,
    ImageRef,
    InstanceActionInvalid,
    InstanceExists,
    InstanceInfo,
    InstanceNotFound,
    InstanceSpec,
    LifecycleEvent,
    LifecycleTransition,
    PowerState,
    RebootType,
    SnapshotUpload,
)
from overcast.virt.hardware import HostHardware, encode_version

# Share of each vcpu a fake guest keeps busy while running, so cpu time advances believably.
CPU_UTILISATION = 0.25
MAX_CONSOLE_LINES = 2000
ROOT_DEVICE = "/dev/vda"
_ACTIVE_STATES = (PowerState.RUNNING, PowerState.PAUSED, PowerState.SUSPENDED)


@dataclass
class FakeHostConfig(HostHardware):
    """The simulated host; `hypervisor_hostname` defaults to the host given to init_host."""

    hypervisor_type: str = "fake"
    hypervisor_version: int = encode_version(1)
    hypervisor_hostname: str | None = None


@dataclass
class _FakeVM:
    spec: InstanceSpec
    state: PowerState = PowerState.NOSTATE
    boots: int = 0
    console: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_CONSOLE_LINES))
    cpu_time_ns: int = 0  # accumulated up to `running_since`
    running_since: float | None = None
    started_at: float | None = None
    rescued: bool = False
    admin_password: str | None = None
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)  # mountpoint -> connection_info
    vifs: dict[str, dict[str, Any]] = field(default_factory=dict)  # vif id -> vif


P = ParamSpec("P")
R = TypeVar("R")


def _injectable(
    method: Callable[Concatenate[FakeDriver, P], R],
) -> Callable[Concatenate[FakeDriver, P], R]:
    """Let tests make the next call of this method fail or run slowly (see fail_next, delays)."""

    @functools.wraps(method)
    def wrapper(self: FakeDriver, *args: P.args, **kwargs: P.kwargs) -> R:
        self._before_call(method.__name__)
        return method(self, *args, **kwargs)

    return wrapper


class FakeDriver(ComputeDriver):
    capabilities: ClassVar[dict[str, bool]] = dict.fromkeys(ComputeDriver.capabilities, True)

    def __init__(
        self,
        config: FakeHostConfig | None = None,
        *,
        spawn_delay: float = 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        **host_overrides: Any,
    ) -> None:
        super().__init__()
        self.config = replace(config or FakeHostConfig(), **host_overrides)
        self.host: str | None = None
        self.delays: dict[str, float] = {"spawn": spawn_delay}
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._vms: dict[str, _FakeVM] = {}
        self._resize_backups: dict[str, _FakeVM] = {}  # set aside by migrate_disk_and_power_off
        self._failures: dict[str, deque[BaseException]] = {}

    # --- fault injection --------------------------------------------------------------------------
    @property
    def spawn_delay(self) -> float:
        return self.delays.get("spawn", 0.0)

    @spawn_delay.setter
    def spawn_delay(self, seconds: float) -> None:
        self.delays["spawn"] = seconds

    def fail_next(self, method_name: str, exc: BaseException) -> None:
        """Make the next call of `method_name` raise `exc` (calls queue up: one failure per call)."""
        if not callable(getattr(ComputeDriver, method_name, None)):
            raise ValueError(f"{method_name!r} is not a ComputeDriver method")
        with self._lock:
            self._failures.setdefault(method_name, deque()).append(exc)

    def crash(self, uuid: str, state: PowerState = PowerState.CRASHED) -> None:
        """Simulate the guest dying (CRASHED) or shutting itself down (SHUTDOWN) behind our back."""
        if state not in (PowerState.CRASHED, PowerState.SHUTDOWN):
            raise ValueError("a VM can only crash into CRASHED or SHUTDOWN")
        with self._lock:
            vm = self._get(uuid)
            if vm.state not in _ACTIVE_STATES:
                raise InstanceActionInvalid(f"Instance {uuid} is not running ({vm.state.name}).")
            vm.console.append("Kernel panic - not syncing: Fatal exception" if state == PowerState.CRASHED
                              else "reboot: Power down")  # fmt: skip
            self._halt(vm, state)
        self._emit(uuid, "crashed" if state == PowerState.CRASHED else "stopped")

    def _before_call(self, method_name: str) -> None:
        with self._lock:
            pending = self._failures.get(method_name)
            failure = pending.popleft() if pending else None
        if failure is not None:
            raise failure
        delay = self.delays.get(method_name, 0.0)
        if delay and method_name != "spawn":  # spawn sleeps while the VM exists in NOSTATE
            self._sleep(delay)

    # --- host -------------------------------------------------------------------------------------
    @_injectable
    def init_host(self, host: str) -> None:
        self.host = host

    @_injectable
    def get_available_resource(self) -> HostResources:
        cfg = self.config
        return HostResources(
            hypervisor_type=cfg.hypervisor_type,
            hypervisor_version=cfg.hypervisor_version,
            hypervisor_hostname=cfg.hypervisor_hostname or self.host or "fake-host",
            cpu_arch=cfg.cpu_arch,
            cpu_model=cfg.cpu_model,
            cpu_features=list(cfg.cpu_features),
            vcpus=cfg.vcpus,
            memory_mb=cfg.memory_mb,
            local_gb=cfg.local_gb,
            devices=list(cfg.devices),
        )

    @_injectable
    def list_instance_uuids(self) -> list[str]:
        with self._lock:
            return list(self._vms)

    # --- build and delete -------------------------------------------------------------------------
    @_injectable
    def spawn(self, ctxt: RequestContext, spec: InstanceSpec, admin_password: str | None = None) -> None:
        self._validate(spec)
        record = _FakeVM(spec=spec, admin_password=admin_password)
        with self._lock:
            if spec.uuid in self._vms:
                raise InstanceExists(f"Instance {spec.uuid} already exists on host {self.host}.")
            self._vms[spec.uuid] = record
        if self.spawn_delay:
            self._sleep(self.spawn_delay)
        with self._lock:
            if self._vms.get(spec.uuid) is not record:
                raise InstanceNotFound(f"Instance {spec.uuid} was deleted while it was being built.")
            self._boot(record)
        self._emit(spec.uuid, "started")

    def _validate(self, spec: InstanceSpec) -> None:
        if spec.vcpus < 1 or spec.memory_mb < 1:
            raise DriverError(f"Cannot spawn {spec.uuid}: a VM needs at least 1 vcpu and 1 MB of memory.")
        if spec.memory_mb > self.config.memory_mb:
            raise DriverError(
                f"Cannot spawn {spec.uuid}: it needs {spec.memory_mb} MB of memory but host "
                f"{self.host} has only {self.config.memory_mb} MB."
            )

    @_injectable
    def destroy(self, ctxt: RequestContext, uuid: str, destroy_disks: bool = True) -> None:
        with self._lock:
            vm = self._vms.pop(uuid, None)
            if vm is None:
                # Nothing live here: whatever a resize left on this host goes too.
                self._resize_backups.pop(uuid, None)
                return
            was_active = vm.state in _ACTIVE_STATES
            self._halt(vm, PowerState.SHUTDOWN)
        if was_active:
            self._emit(uuid, "stopped")

    # --- power ------------------------------------------------------------------------------------
    @_injectable
    def reboot(self, ctxt: RequestContext, uuid: str, reboot_type: RebootType) -> None:
        with self._lock:
            vm = self._get_built(uuid)
            was_running = vm.state == PowerState.RUNNING
            # Like libvirt: a soft reboot of a guest that is not running falls back to a hard one.
            if was_running and reboot_type == "SOFT":
                vm.console.append("reboot: Restarting system")
            self._halt(vm, PowerState.SHUTDOWN)
            self._boot(vm)
        if not was_running:
            self._emit(uuid, "started")

    @_injectable
    def power_off(self, ctxt: RequestContext, uuid: str, timeout: int = 0) -> None:
        with self._lock:
            vm = self._get_built(uuid)
            if vm.state in (PowerState.SHUTDOWN, PowerState.CRASHED):
                was_active = False
            else:
                was_active = True
                if timeout > 0 and vm.state == PowerState.RUNNING:
                    vm.console.append("reboot: Power down")
            self._halt(vm, PowerState.SHUTDOWN)
        if was_active:
            self._emit(uuid, "stopped")

    @_injectable
    def power_on(self, ctxt: RequestContext, uuid: str) -> None:
        with self._lock:
            vm = self._get_built(uuid)
            if vm.state == PowerState.RUNNING:
                return
            self._require(vm, "power on", PowerState.SHUTDOWN, PowerState.CRASHED)
            self._boot(vm)
        self._emit(uuid, "started")

    @_injectable
    def pause(self, ctxt: RequestContext, uuid: str) -> None:
        self._switch(uuid, "pause", PowerState.RUNNING, PowerState.PAUSED, "paused")

    @_injectable
    def unpause(self, ctxt: RequestContext, uuid: str) -> None:
        self._switch(uuid, "unpause", PowerState.PAUSED, PowerState.RUNNING, "resumed")

    @_injectable
    def suspend(self, ctxt: RequestContext, uuid: str) -> None:
        self._switch(uuid, "suspend", PowerState.RUNNING, PowerState.SUSPENDED, "suspended")

    @_injectable
    def resume(self, ctxt: RequestContext, uuid: str) -> None:
        self._switch(uuid, "resume", PowerState.SUSPENDED, PowerState.RUNNING, "resumed")

    def _switch(
        self, uuid: str, action: str, source: PowerState, target: PowerState, event: LifecycleTransition
    ) -> None:
        with self._lock:
            vm = self._get(uuid)
            self._require(vm, action, source)
            self._set_state(vm, target)
        self._emit(uuid, event)

    # --- rescue, snapshot, password ---------------------------------------------------------------
    @_injectable
    def rescue(
        self, ctxt: RequestContext, uuid: str, rescue_image: ImageRef, admin_password: str | None
    ) -> None:
        with self._lock:
            vm = self._get(uuid)
            if vm.rescued:
                raise InstanceActionInvalid(f"Instance {uuid} is already in rescue mode.")
            self._require(vm, "rescue", PowerState.RUNNING, PowerState.SHUTDOWN, PowerState.CRASHED)
            was_running = vm.state == PowerState.RUNNING
            self._halt(vm, PowerState.SHUTDOWN)
            vm.rescued = True
            vm.admin_password = admin_password or vm.admin_password
            vm.console.append(f"Booting rescue image {rescue_image.id}; original disk on /dev/vdb")
            self._boot(vm)
        if not was_running:
            self._emit(uuid, "started")

    @_injectable
    def unrescue(self, ctxt: RequestContext, uuid: str) -> None:
        with self._lock:
            vm = self._get(uuid)
            if not vm.rescued:
                raise InstanceActionInvalid(f"Instance {uuid} is not in rescue mode.")
            was_running = vm.state == PowerState.RUNNING
            self._halt(vm, PowerState.SHUTDOWN)
            vm.rescued = False
            self._boot(vm)
        if not was_running:
            self._emit(uuid, "started")

    @_injectable
    def snapshot(self, ctxt: RequestContext, uuid: str, image_id: str, upload: SnapshotUpload) -> None:
        with self._lock:
            vm = self._get_built(uuid)
            disk = (
                f"FAKEDISK instance={uuid} base_image={vm.spec.image.id} snapshot={image_id} "
                f"root_gb={vm.spec.root_gb} boots={vm.boots}\n"
            ).encode()
        upload(io.BytesIO(disk))  # outside the lock: an upload may take long

    @_injectable
    def set_admin_password(self, uuid: str, password: str) -> None:
        with self._lock:
            vm = self._get(uuid)
            self._require(vm, "set the admin password of", PowerState.RUNNING)
            vm.admin_password = password

    # --- cold resize / migration ------------------------------------------------------------------
    @_injectable
    def migrate_disk_and_power_off(self, ctxt: RequestContext, uuid: str, new_spec: InstanceSpec) -> None:
        if new_spec.uuid != uuid:
            raise DriverError(f"Resize spec is for {new_spec.uuid}, not {uuid}.")
        self._validate(new_spec)
        with self._lock:
            vm = self._get_built(uuid)
            was_active = vm.state in _ACTIVE_STATES
            self._halt(vm, PowerState.SHUTDOWN)
            self._resize_backups[uuid] = self._vms.pop(uuid)
        if was_active:
            self._emit(uuid, "stopped")

    @_injectable
    def finish_migration(
        self, ctxt: RequestContext, new_spec: InstanceSpec, resize_instance: bool, power_on: bool
    ) -> None:
        with self._lock:
            if new_spec.uuid in self._vms:
                raise InstanceExists(f"Instance {new_spec.uuid} already exists on host {self.host}.")
            backup = self._resize_backups.get(new_spec.uuid)  # present when resizing on the same host
            vm = _FakeVM(spec=new_spec)
            if backup is not None:
                vm.console.extend(backup.console)
                vm.volumes = dict(backup.volumes)
                vm.vifs = dict(backup.vifs)
                vm.admin_password = backup.admin_password
            vm.state = PowerState.SHUTDOWN
            self._vms[new_spec.uuid] = vm
            if power_on:
                self._boot(vm)
        if power_on:
            self._emit(new_spec.uuid, "started")

    @_injectable
    def confirm_migration(self, ctxt: RequestContext, uuid: str) -> None:
        with self._lock:
            self._resize_backups.pop(uuid, None)

    @_injectable
    def finish_revert_migration(self, ctxt: RequestContext, old_spec: InstanceSpec, power_on: bool) -> None:
        uuid = old_spec.uuid
        with self._lock:
            vm = self._resize_backups.pop(uuid, None)
            if vm is None:
                raise InstanceNotFound(f"Instance {uuid} has no pre-resize disks on host {self.host}.")
            self._vms.pop(uuid, None)  # the resized VM, if the destination (this host) left it
            vm.spec = old_spec
            self._vms[uuid] = vm
            if power_on:
                self._boot(vm)
        if power_on:
            self._emit(uuid, "started")

    # --- inspection -------------------------------------------------------------------------------
    @_injectable
    def get_info(self, uuid: str) -> InstanceInfo:
        with self._lock:
            vm = self._get(uuid)
            max_mem_kb = vm.spec.memory_mb * 1024
            return InstanceInfo(
                state=vm.state,
                max_mem_kb=max_mem_kb,
                mem_kb=max_mem_kb if vm.state in (PowerState.RUNNING, PowerState.PAUSED) else 0,
                num_cpu=vm.spec.vcpus,
                cpu_time_ns=self._cpu_time_ns(vm),
            )

    @_injectable
    def get_console_output(self, ctxt: RequestContext, uuid: str) -> str:
        with self._lock:
            vm = self._get(uuid)
            return "".join(f"{line}\n" for line in vm.console)

    @_injectable
    def get_diagnostics(self, uuid: str) -> dict[str, Any]:
        with self._lock:
            vm = self._get(uuid)
            cpu_time_ns = self._cpu_time_ns(vm)
            up = vm.state in _ACTIVE_STATES and vm.started_at is not None
            return {
                "state": vm.state.name.lower(),
                "driver": "fake",
                "hypervisor": self.config.hypervisor_type,
                "hypervisor_os": "linux",
                "uptime": int(self._clock() - vm.started_at) if up and vm.started_at else 0,
                "config_drive": False,
                "num_cpus": vm.spec.vcpus,
                "num_nics": len(vm.vifs),
                "num_disks": 1 + len(vm.volumes),
                "cpu_details": [
                    {"id": cpu, "time": cpu_time_ns // vm.spec.vcpus, "utilisation": None}
                    for cpu in range(vm.spec.vcpus)
                ],
                "nic_details": [{"mac_address": vif.get("address")} for vif in vm.vifs.values()],
                "disk_details": [{"device": ROOT_DEVICE}] + [{"device": mp} for mp in vm.volumes],
                "memory_details": {"maximum": vm.spec.memory_mb, "used": vm.spec.memory_mb if up else 0},
                "boot_count": vm.boots,
                "rescued": vm.rescued,
            }

    # --- volumes and networks ---------------------------------------------------------------------
    @_injectable
    def attach_volume(
        self, ctxt: RequestContext, uuid: str, connection_info: dict[str, Any], mountpoint: str
    ) -> None:
        with self._lock:
            vm = self._get(uuid)
            if mountpoint == ROOT_DEVICE or mountpoint in vm.volumes:
                raise InstanceActionInvalid(f"Device {mountpoint} of instance {uuid} is already in use.")
            vm.volumes[mountpoint] = dict(connection_info)

    @_injectable
    def detach_volume(
        self, ctxt: RequestContext, uuid: str, connection_info: dict[str, Any], mountpoint: str
    ) -> None:
        with self._lock:
            vm = self._get(uuid)
            if vm.volumes.pop(mountpoint, None) is None:
                raise DeviceNotFound(f"No volume is attached to instance {uuid} at {mountpoint}.")

    @_injectable
    def plug_vifs(self, uuid: str, network_info: list[dict[str, Any]]) -> None:
        with self._lock:
            vm = self._get(uuid)
            for vif in network_info:
                vm.vifs[str(vif["id"])] = dict(vif)

    @_injectable
    def unplug_vifs(self, uuid: str, network_info: list[dict[str, Any]]) -> None:
        with self._lock:
            vm = self._vms.get(uuid)
            if vm is None:
                return
            for vif in network_info:
                vm.vifs.pop(str(vif["id"]), None)

    # --- internals (callers hold self._lock) ------------------------------------------------------
    def _get(self, uuid: str) -> _FakeVM:
        vm = self._vms.get(uuid)
        if vm is None:
            raise InstanceNotFound(f"Instance {uuid} could not be found on host {self.host}.")
        return vm

    def _get_built(self, uuid: str) -> _FakeVM:
        vm = self._get(uuid)
        if vm.state == PowerState.NOSTATE:
            raise InstanceActionInvalid(f"Instance {uuid} is still being built.")
        return vm

    @staticmethod
    def _require(vm: _FakeVM, action: str, *allowed: PowerState) -> None:
        if vm.state not in allowed:
            raise InstanceActionInvalid(
                f"Cannot {action} instance {vm.spec.uuid} while its power state is {vm.state.name}."
            )

    def _cpu_time_ns(self, vm: _FakeVM) -> int:
        if vm.running_since is None:
            return vm.cpu_time_ns
        busy_s = (self._clock() - vm.running_since) * vm.spec.vcpus * CPU_UTILISATION
        return vm.cpu_time_ns + int(busy_s * 1e9)

    def _set_state(self, vm: _FakeVM, state: PowerState) -> None:
        vm.cpu_time_ns = self._cpu_time_ns(vm)
        vm.running_since = self._clock() if state == PowerState.RUNNING else None
        vm.state = state

    def _halt(self, vm: _FakeVM, state: PowerState) -> None:
        self._set_state(vm, state)
        vm.started_at = None

    def _boot(self, vm: _FakeVM) -> None:
        spec = vm.spec
        vm.boots += 1
        vm.console.extend(
            (
                f"[    0.000000] Linux version 6.1.0-overcast (fake guest) boot #{vm.boots}",
                f"[    0.000000] Memory: {spec.memory_mb * 1024}K available, {spec.vcpus} CPUs",
                f"cloud-init: instance-id {spec.uuid}, user-data "
                + (f"{len(spec.user_data)} bytes" if spec.user_data else "none"),
                f"{spec.hostname}{'-rescue' if vm.rescued else ''} login: ",
            )
        )
        self._set_state(vm, PowerState.RUNNING)
        vm.started_at = self._clock()

    def _emit(self, uuid: str, transition: LifecycleTransition) -> None:
        at = datetime.fromtimestamp(self._clock(), UTC)
        self.emit_event(LifecycleEvent(uuid=uuid, transition=transition, at=at))
