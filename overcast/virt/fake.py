"""An in-memory hypervisor: VMs with realistic power-state transitions, and no processes behind them.

One `FakeDriver` simulates one compute host; hundreds can live in one process because a VM is a small
record (no thread, no timer: cpu time is computed from the injected clock when asked). Tests steer it
with our own fault injection: `fail_next`, `delays`/`spawn_delay` and `crash`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.context import RequestContext
from overcast.virt.driver import (
    ComputeDriver,
    HostResources,
    InstanceExists,
    InstanceInfo,
    InstanceNotFound,
    InstanceSpec,
    LifecycleTransition,
    PowerState,
    RebootType,
)
from overcast.virt.fake_base import (
    ACTIVE_STATES,
    CPU_UTILISATION,
    MAX_CONSOLE_LINES,
    ROOT_DEVICE,
    FakeHostConfig,
    FakeVM,
    injectable,
)
from overcast.virt.fake_moves import FakeMovesDriver

__all__ = ["CPU_UTILISATION", "MAX_CONSOLE_LINES", "ROOT_DEVICE", "FakeDriver", "FakeHostConfig"]


class FakeDriver(FakeMovesDriver):
    capabilities: ClassVar[dict[str, bool]] = dict.fromkeys(ComputeDriver.capabilities, True)

    # --- host -------------------------------------------------------------------------------------
    @injectable
    def init_host(self, host: str) -> None:
        self.host = host

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
        with self._lock:
            return list(self._vms)

    # --- build and delete -------------------------------------------------------------------------
    @injectable
    def spawn(self, ctxt: RequestContext, spec: InstanceSpec, admin_password: str | None = None) -> None:
        self._validate(spec)
        record = FakeVM(spec=spec, admin_password=admin_password)
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

    @injectable
    def destroy(self, ctxt: RequestContext, uuid: str, destroy_disks: bool = True) -> None:
        with self._lock:
            vm = self._vms.pop(uuid, None)
            if vm is None:
                # Nothing live here: whatever a resize left on this host goes too.
                self._resize_backups.pop(uuid, None)
                return
            was_active = vm.state in ACTIVE_STATES
            self._halt(vm, PowerState.SHUTDOWN)
        if was_active:
            self._emit(uuid, "stopped")

    # --- power ------------------------------------------------------------------------------------
    @injectable
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

    @injectable
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

    @injectable
    def power_on(self, ctxt: RequestContext, uuid: str) -> None:
        with self._lock:
            vm = self._get_built(uuid)
            if vm.state == PowerState.RUNNING:
                return
            self._require(vm, "power on", PowerState.SHUTDOWN, PowerState.CRASHED)
            self._boot(vm)
        self._emit(uuid, "started")

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
        with self._lock:
            vm = self._get(uuid)
            self._require(vm, action, source)
            self._set_state(vm, target)
        self._emit(uuid, event)

    # --- inspection -------------------------------------------------------------------------------
    @injectable
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

    @injectable
    def get_console_output(self, ctxt: RequestContext, uuid: str) -> str:
        with self._lock:
            vm = self._get(uuid)
            return "".join(f"{line}\n" for line in vm.console)

    @injectable
    def get_diagnostics(self, uuid: str) -> dict[str, Any]:
        with self._lock:
            vm = self._get(uuid)
            cpu_time_ns = self._cpu_time_ns(vm)
            up = vm.state in ACTIVE_STATES and vm.started_at is not None
            return {
                "state": vm.state.name.lower(),
                "driver": "fake",
                "hypervisor": self.config.hypervisor_type,
                "hypervisor_os": "linux",
                "uptime": int(self._clock() - vm.started_at) if up and vm.started_at else 0,
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
