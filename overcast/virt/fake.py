"""An in-memory hypervisor: VMs with realistic power-state transitions, and no processes behind them.

One `FakeDriver` simulates one compute host; hundreds can live in one process because a VM is a small
record (no thread, no timer: cpu time is computed from the injected clock when asked). Tests steer it
with our own fault injection: `fail_next`, `delays`/`spawn_delay` and `crash`; they may read what the
simulated host holds in `hypervisor` (fake_hypervisor.py). Cold resize and migration are handed to
`FakeColdResize` (fake_moves.py).
"""

from __future__ import annotations

import functools
import io
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

from overcast.context import RequestContext
from overcast.virt.driver import (
    ComputeDriver,
    DriverError,
    HostResources,
    ImageRef,
    InstanceActionInvalid,
    InstanceExists,
    InstanceInfo,
    InstanceNotFound,
    InstanceSpec,
    LifecycleTransition,
    PowerState,
    RebootType,
    SnapshotUpload,
    VolumeDevice,
)
from overcast.virt.fake_hypervisor import (
    ACTIVE_STATES,
    CPU_UTILISATION,
    MAX_CONSOLE_LINES,
    ROOT_DEVICE,
    FakeHostConfig,
    FakeHypervisor,
    FakeVM,
    volumes_of,
)
from overcast.virt.fake_moves import FakeColdResize

# The address QEMU's user-mode network gives its guest, which the QEMU driver reports for such a guest.
USER_MODE_GUEST_ADDRESS = "10.0.2.15"

__all__ = ["CPU_UTILISATION", "MAX_CONSOLE_LINES", "ROOT_DEVICE", "FakeDriver", "FakeHostConfig"]

P = ParamSpec("P")
R = TypeVar("R")
D = TypeVar("D", bound="FakeDriver")


def injectable(method: Callable[Concatenate[D, P], R]) -> Callable[Concatenate[D, P], R]:
    """Let tests make the next call of this method fail or run slowly (see fail_next, delays)."""

    @functools.wraps(method)
    def wrapper(self: D, *args: P.args, **kwargs: P.kwargs) -> R:
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
        self.hypervisor = FakeHypervisor(self.config, clock, self.emit_event)
        self.delays: dict[str, float] = {"spawn": spawn_delay}
        self._sleep = sleep
        self._failures: dict[str, deque[BaseException]] = {}
        self._failures_lock = threading.Lock()
        self._moves = FakeColdResize(self.hypervisor)

    @property
    def host(self) -> str | None:
        """The compute host this driver serves (init_host names it)."""
        return self.hypervisor.host

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
        with self._failures_lock:
            self._failures.setdefault(method_name, deque()).append(exc)

    def crash(self, uuid: str, state: PowerState = PowerState.CRASHED) -> None:
        """Simulate the guest dying (CRASHED) or shutting itself down (SHUTDOWN) behind our back."""
        if state not in (PowerState.CRASHED, PowerState.SHUTDOWN):
            raise ValueError("a VM can only crash into CRASHED or SHUTDOWN")
        with self.hypervisor.lock:
            vm = self.hypervisor.get(uuid)
            if vm.state not in ACTIVE_STATES:
                raise InstanceActionInvalid(f"Instance {uuid} is not running ({vm.state.name}).")
            vm.console.append("Kernel panic - not syncing: Fatal exception" if state == PowerState.CRASHED
                              else "reboot: Power down")  # fmt: skip
            self.hypervisor.halt(vm, state)
        self.hypervisor.emit(uuid, "crashed" if state == PowerState.CRASHED else "stopped")

    def _before_call(self, method_name: str) -> None:
        with self._failures_lock:
            pending = self._failures.get(method_name)
            failure = pending.popleft() if pending else None
        if failure is not None:
            raise failure
        delay = self.delays.get(method_name, 0.0)
        if delay and method_name != "spawn":  # spawn sleeps while the VM exists in NOSTATE
            self._sleep(delay)

    # --- host -------------------------------------------------------------------------------------
    @injectable
    def init_host(self, host: str) -> None:
        self.hypervisor.host = host

    @injectable
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

    @injectable
    def list_instance_uuids(self) -> list[str]:
        with self.hypervisor.lock:
            return list(self.hypervisor.vms)

    def get_instance_network(self, uuid: str) -> dict[str, Any] | None:
        """What the QEMU driver reports: a guest without wired ports is on user-mode NAT at its fixed
        address (nothing is forwarded to it here: no SSH port); one on taps is reached through its
        ports, which the API reads itself (None)."""
        with self.hypervisor.lock:
            vm = self.hypervisor.get(uuid)
            vifs = list(vm.vifs.values())
        if any(vif.get("type") == "tap" for vif in vifs):
            return None
        return {
            "mode": "user",
            "guest_ip": USER_MODE_GUEST_ADDRESS,
            "mac_address": next((vif.get("address") for vif in vifs if vif.get("address")), None),
        }

    # --- build and delete -------------------------------------------------------------------------
    @injectable
    def spawn(self, ctxt: RequestContext, spec: InstanceSpec, admin_password: str | None = None) -> None:
        self.hypervisor.validate(spec)
        vifs = {str(vif["id"]): dict(vif) for vif in spec.network_info if "id" in vif}
        volumes = volumes_of(spec)
        record = FakeVM(spec=spec, admin_password=admin_password, vifs=vifs, volumes=volumes)
        with self.hypervisor.lock:
            if spec.uuid in self.hypervisor.vms:
                raise InstanceExists(f"Instance {spec.uuid} already exists on host {self.host}.")
            self.hypervisor.vms[spec.uuid] = record
        if self.spawn_delay:
            self._sleep(self.spawn_delay)
        with self.hypervisor.lock:
            if self.hypervisor.vms.get(spec.uuid) is not record:
                raise InstanceNotFound(f"Instance {spec.uuid} was deleted while it was being built.")
            self.hypervisor.boot(record)
        self.hypervisor.emit(spec.uuid, "started")

    @injectable
    def destroy(self, ctxt: RequestContext, uuid: str, destroy_disks: bool = True) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.vms.pop(uuid, None)
            if vm is None:
                # Nothing live here: whatever a resize left on this host goes too.
                self.hypervisor.set_aside.pop(uuid, None)
                return
            was_active = vm.state in ACTIVE_STATES
            self.hypervisor.halt(vm, PowerState.SHUTDOWN)
        if was_active:
            self.hypervisor.emit(uuid, "stopped")

    # --- network interfaces -----------------------------------------------------------------------
    @injectable
    def attach_interface(self, ctxt: RequestContext, uuid: str, vif: dict[str, Any]) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get_built(uuid)
            if str(vif["id"]) in vm.vifs:
                raise DriverError(f"Instance {uuid} already has interface {vif['id']}.")
            vm.vifs[str(vif["id"])] = dict(vif)

    @injectable
    def detach_interface(self, ctxt: RequestContext, uuid: str, vif: dict[str, Any]) -> None:
        with self.hypervisor.lock:
            self.hypervisor.get_built(uuid).vifs.pop(str(vif["id"]), None)

    def interface_ids(self, uuid: str) -> list[str]:
        with self.hypervisor.lock:
            return list(self.hypervisor.get(uuid).vifs)

    # --- volumes ----------------------------------------------------------------------------------
    @injectable
    def attach_volume(
        self, ctxt: RequestContext, uuid: str, connection_info: dict[str, Any], device: VolumeDevice
    ) -> None:
        if not connection_info.get("driver_volume_type"):
            raise DriverError(f"Volume {device.volume_id} has no driver_volume_type in its connection_info.")
        with self.hypervisor.lock:
            vm = self.hypervisor.get_built(uuid)
            if device.volume_id in vm.volumes:
                raise DriverError(f"Instance {uuid} already has volume {device.volume_id}.")
            taken = {volume["mountpoint"] for volume in vm.volumes.values()}
            if device.mountpoint in taken:
                raise DriverError(f"Instance {uuid} already has a disk at {device.mountpoint}.")
            vm.volumes[device.volume_id] = {
                "connection_info": dict(connection_info), "mountpoint": device.mountpoint,
            }  # fmt: skip

    @injectable
    def detach_volume(self, ctxt: RequestContext, uuid: str, volume_id: str) -> None:
        with self.hypervisor.lock:
            self.hypervisor.get_built(uuid).volumes.pop(volume_id, None)

    @injectable
    def extend_volume(self, ctxt: RequestContext, uuid: str, volume_id: str, new_size_bytes: int) -> None:
        with self.hypervisor.lock:
            volume = self.hypervisor.get_built(uuid).volumes.get(volume_id)
            if volume is None:
                raise DriverError(f"Instance {uuid} has no volume {volume_id}.")
            volume["size_bytes"] = new_size_bytes

    @injectable
    def swap_volume(
        self,
        ctxt: RequestContext,
        uuid: str,
        old_volume_id: str,
        connection_info: dict[str, Any],
        device: VolumeDevice,
    ) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get_built(uuid)
            old = vm.volumes.pop(old_volume_id, None)
            if old is None:
                raise DriverError(f"Instance {uuid} has no volume {old_volume_id}.")
            vm.volumes[device.volume_id] = {
                "connection_info": dict(connection_info), "mountpoint": old["mountpoint"],
            }  # fmt: skip

    def volume_ids(self, uuid: str) -> list[str]:
        with self.hypervisor.lock:
            return list(self.hypervisor.get(uuid).volumes)

    # --- power ------------------------------------------------------------------------------------
    @injectable
    def reboot(self, ctxt: RequestContext, uuid: str, reboot_type: RebootType) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get_built(uuid)
            was_running = vm.state == PowerState.RUNNING
            # Like libvirt: a soft reboot of a guest that is not running falls back to a hard one.
            if was_running and reboot_type == "SOFT":
                vm.console.append("reboot: Restarting system")
            self.hypervisor.halt(vm, PowerState.SHUTDOWN)
            self.hypervisor.boot(vm)
        if not was_running:
            self.hypervisor.emit(uuid, "started")

    @injectable
    def power_off(self, ctxt: RequestContext, uuid: str, timeout: int = 0) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get_built(uuid)
            if vm.state in (PowerState.SHUTDOWN, PowerState.CRASHED):
                was_active = False
            else:
                was_active = True
                if timeout > 0 and vm.state == PowerState.RUNNING:
                    vm.console.append("reboot: Power down")
            self.hypervisor.halt(vm, PowerState.SHUTDOWN)
        if was_active:
            self.hypervisor.emit(uuid, "stopped")

    @injectable
    def power_on(self, ctxt: RequestContext, uuid: str) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get_built(uuid)
            if vm.state == PowerState.RUNNING:
                return
            self.hypervisor.require(vm, "power on", PowerState.SHUTDOWN, PowerState.CRASHED)
            self.hypervisor.boot(vm)
        self.hypervisor.emit(uuid, "started")

    @injectable
    def pause(self, ctxt: RequestContext, uuid: str) -> None:
        self._switch(uuid, "pause", PowerState.RUNNING, PowerState.PAUSED, "paused")

    @injectable
    def unpause(self, ctxt: RequestContext, uuid: str) -> None:
        self._switch(uuid, "unpause", PowerState.PAUSED, PowerState.RUNNING, "resumed")

    @injectable
    def suspend(self, ctxt: RequestContext, uuid: str) -> None:
        self._switch(uuid, "suspend", PowerState.RUNNING, PowerState.SUSPENDED, "suspended")

    @injectable
    def resume(self, ctxt: RequestContext, uuid: str) -> None:
        self._switch(uuid, "resume", PowerState.SUSPENDED, PowerState.RUNNING, "resumed")

    def _switch(
        self, uuid: str, action: str, source: PowerState, target: PowerState, event: LifecycleTransition
    ) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get(uuid)
            self.hypervisor.require(vm, action, source)
            self.hypervisor.set_state(vm, target)
        self.hypervisor.emit(uuid, event)

    # --- rescue, snapshot, password ---------------------------------------------------------------
    @injectable
    def rescue(
        self, ctxt: RequestContext, uuid: str, rescue_image: ImageRef, admin_password: str | None
    ) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get(uuid)
            if vm.rescued:
                raise InstanceActionInvalid(f"Instance {uuid} is already in rescue mode.")
            self.hypervisor.require(vm, "rescue", PowerState.RUNNING, PowerState.SHUTDOWN, PowerState.CRASHED)
            was_running = vm.state == PowerState.RUNNING
            self.hypervisor.halt(vm, PowerState.SHUTDOWN)
            vm.rescued = True
            vm.admin_password = admin_password or vm.admin_password
            vm.console.append(f"Booting rescue image {rescue_image.id}; original disk on /dev/vdb")
            self.hypervisor.boot(vm)
        if not was_running:
            self.hypervisor.emit(uuid, "started")

    @injectable
    def unrescue(self, ctxt: RequestContext, uuid: str) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get(uuid)
            if not vm.rescued:
                raise InstanceActionInvalid(f"Instance {uuid} is not in rescue mode.")
            was_running = vm.state == PowerState.RUNNING
            self.hypervisor.halt(vm, PowerState.SHUTDOWN)
            vm.rescued = False
            self.hypervisor.boot(vm)
        if not was_running:
            self.hypervisor.emit(uuid, "started")

    @injectable
    def snapshot(self, ctxt: RequestContext, uuid: str, image_id: str, upload: SnapshotUpload) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get_built(uuid)
            disk = (
                f"FAKEDISK instance={uuid} base_image={vm.spec.image.id} snapshot={image_id} "
                f"root_gb={vm.spec.root_gb} boots={vm.boots}\n"
            ).encode()
        upload(io.BytesIO(disk))  # outside the lock: an upload may take long

    @injectable
    def set_admin_password(self, uuid: str, password: str) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get(uuid)
            self.hypervisor.require(vm, "set the admin password of", PowerState.RUNNING)
            vm.admin_password = password

    # --- cold resize / migration: FakeColdResize --------------------------------------------------
    @injectable
    def migrate_disk_and_power_off(self, ctxt: RequestContext, uuid: str, new_spec: InstanceSpec) -> None:
        self._moves.migrate_disk_and_power_off(ctxt, uuid, new_spec)

    @injectable
    def export_migration_disk(
        self, ctxt: RequestContext, uuid: str, upload: SnapshotUpload, *, standalone: bool
    ) -> None:
        self._moves.export_migration_disk(ctxt, uuid, upload, standalone=standalone)

    @injectable
    def finish_migration(
        self, ctxt: RequestContext, new_spec: InstanceSpec, resize_instance: bool, power_on: bool
    ) -> None:
        self._moves.finish_migration(ctxt, new_spec, resize_instance, power_on)

    @injectable
    def confirm_migration(self, ctxt: RequestContext, uuid: str) -> None:
        self._moves.confirm_migration(ctxt, uuid)

    @injectable
    def finish_revert_migration(self, ctxt: RequestContext, old_spec: InstanceSpec, power_on: bool) -> None:
        self._moves.finish_revert_migration(ctxt, old_spec, power_on)

    # --- inspection -------------------------------------------------------------------------------
    @injectable
    def get_info(self, uuid: str) -> InstanceInfo:
        with self.hypervisor.lock:
            vm = self.hypervisor.get(uuid)
            max_mem_kb = vm.spec.memory_mb * 1024
            return InstanceInfo(
                state=vm.state,
                max_mem_kb=max_mem_kb,
                mem_kb=max_mem_kb if vm.state in (PowerState.RUNNING, PowerState.PAUSED) else 0,
                num_cpu=vm.spec.vcpus,
                cpu_time_ns=self.hypervisor.cpu_time_ns(vm),
            )

    @injectable
    def trigger_crash_dump(self, uuid: str) -> None:
        with self.hypervisor.lock:
            vm = self.hypervisor.get(uuid)
            if vm.state not in (PowerState.RUNNING, PowerState.PAUSED):
                raise InstanceActionInvalid(f"Cannot trigger_crash_dump instance {uuid}: it is not running.")
            vm.nmis += 1
            vm.console.append("Uhhuh. NMI received for unknown reason on CPU 0.")

    @injectable
    def get_console_output(self, ctxt: RequestContext, uuid: str) -> str:
        with self.hypervisor.lock:
            vm = self.hypervisor.get(uuid)
            return "".join(f"{line}\n" for line in vm.console)

    @injectable
    def get_diagnostics(self, uuid: str) -> dict[str, Any]:
        with self.hypervisor.lock:
            vm = self.hypervisor.get(uuid)
            cpu_time_ns = self.hypervisor.cpu_time_ns(vm)
            up = vm.state in ACTIVE_STATES and vm.started_at is not None
            return {
                "state": vm.state.name.lower(),
                "driver": "fake",
                "hypervisor": self.config.hypervisor_type,
                "hypervisor_os": "linux",
                "uptime": int(self.hypervisor.now() - vm.started_at) if up and vm.started_at else 0,
                "config_drive": False,
                "num_cpus": vm.spec.vcpus,
                "num_nics": len(vm.vifs),
                "num_disks": 1,
                "cpu_details": [
                    {"id": cpu, "time": cpu_time_ns // vm.spec.vcpus, "utilisation": None}
                    for cpu in range(vm.spec.vcpus)
                ],
                "nic_details": [{"mac_address": vif.get("address")} for vif in vm.vifs.values()],
                "disk_details": [{"device": ROOT_DEVICE}],
                "memory_details": {"maximum": vm.spec.memory_mb, "used": vm.spec.memory_mb if up else 0},
                "boot_count": vm.boots,
                "rescued": vm.rescued,
            }
