"""The fake hypervisor: the simulated host, its VMs and what a resize set aside, and how a VM's power
state changes. `FakeDriver` (fake.py) and its cold moves (`FakeColdResize`, fake_moves.py) act on it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from overcast.virt.driver import (
    DriverError,
    EventListener,
    InstanceActionInvalid,
    InstanceNotFound,
    InstanceSpec,
    LifecycleEvent,
    LifecycleTransition,
    PowerState,
)
from overcast.virt.hardware import HostHardware, encode_version

# Share of each vcpu a fake guest keeps busy while running, so cpu time advances believably.
CPU_UTILISATION = 0.25
MAX_CONSOLE_LINES = 2000
ROOT_DEVICE = "/dev/vda"
ACTIVE_STATES = (PowerState.RUNNING, PowerState.PAUSED, PowerState.SUSPENDED)


@dataclass
class FakeHostConfig(HostHardware):
    """The simulated host; `hypervisor_hostname` defaults to the host given to init_host."""

    hypervisor_type: str = "fake"
    hypervisor_version: int = encode_version(1)
    hypervisor_hostname: str | None = None


@dataclass
class FakeVM:
    spec: InstanceSpec
    state: PowerState = PowerState.NOSTATE
    boots: int = 0
    console: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_CONSOLE_LINES))
    cpu_time_ns: int = 0  # accumulated up to `running_since`
    running_since: float | None = None
    started_at: float | None = None
    rescued: bool = False
    admin_password: str | None = None
    vifs: dict[str, dict[str, Any]] = field(default_factory=dict)  # vif id -> vif
    # volume id -> {"connection_info", "mountpoint", "size_bytes"?}: what is plugged in
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    moved_disk: bytes | None = None  # what a cold move to another host received through the image service
    nmis: int = 0  # trigger_crash_dump's interrupts received


def volumes_of(spec: InstanceSpec) -> dict[str, dict[str, Any]]:
    """The volumes a VM built from `spec` has from boot (what the compute host connected for it)."""
    return {
        str(volume["volume_id"]): {
            "connection_info": volume["connection_info"], "mountpoint": volume.get("mountpoint"),
        }
        for volume in spec.block_device_info
    }  # fmt: skip


class FakeHypervisor:
    """One simulated host. Callers hold `lock` while they read or change `vms`, `set_aside` or a VM, and
    `emit` its lifecycle events after releasing it (a listener may call back into the driver)."""

    def __init__(self, config: FakeHostConfig, clock: Callable[[], float], emit: EventListener) -> None:
        self.config = config
        self.host: str | None = None  # named by the driver's init_host
        self.lock = threading.Lock()
        self.vms: dict[str, FakeVM] = {}
        self.set_aside: dict[str, FakeVM] = {}  # by migrate_disk_and_power_off, until confirm or revert
        self._clock = clock
        self._emit = emit

    def now(self) -> float:
        return self._clock()

    def validate(self, spec: InstanceSpec) -> None:
        if spec.vcpus < 1 or spec.memory_mb < 1:
            raise DriverError(f"Cannot spawn {spec.uuid}: a VM needs at least 1 vcpu and 1 MB of memory.")
        if spec.memory_mb > self.config.memory_mb:
            raise DriverError(
                f"Cannot spawn {spec.uuid}: it needs {spec.memory_mb} MB of memory but host "
                f"{self.host} has only {self.config.memory_mb} MB."
            )

    # --- lookups (callers hold the lock) ----------------------------------------------------------
    def get(self, uuid: str) -> FakeVM:
        vm = self.vms.get(uuid)
        if vm is None:
            raise InstanceNotFound(f"Instance {uuid} could not be found on host {self.host}.")
        return vm

    def get_built(self, uuid: str) -> FakeVM:
        vm = self.get(uuid)
        if vm.state == PowerState.NOSTATE:
            raise InstanceActionInvalid(f"Instance {uuid} is still being built.")
        return vm

    @staticmethod
    def require(vm: FakeVM, action: str, *allowed: PowerState) -> None:
        if vm.state not in allowed:
            raise InstanceActionInvalid(
                f"Cannot {action} instance {vm.spec.uuid} while its power state is {vm.state.name}."
            )

    # --- power state (callers hold the lock) ------------------------------------------------------
    def cpu_time_ns(self, vm: FakeVM) -> int:
        if vm.running_since is None:
            return vm.cpu_time_ns
        busy_s = (self._clock() - vm.running_since) * vm.spec.vcpus * CPU_UTILISATION
        return vm.cpu_time_ns + int(busy_s * 1e9)

    def set_state(self, vm: FakeVM, state: PowerState) -> None:
        vm.cpu_time_ns = self.cpu_time_ns(vm)
        vm.running_since = self._clock() if state == PowerState.RUNNING else None
        vm.state = state

    def halt(self, vm: FakeVM, state: PowerState) -> None:
        self.set_state(vm, state)
        vm.started_at = None

    def boot(self, vm: FakeVM) -> None:
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
        self.set_state(vm, PowerState.RUNNING)
        vm.started_at = self._clock()

    # --- events (callers do not hold the lock) ----------------------------------------------------
    def emit(self, uuid: str, transition: LifecycleTransition) -> None:
        at = datetime.fromtimestamp(self._clock(), UTC)
        self._emit(LifecycleEvent(uuid=uuid, transition=transition, at=at))
