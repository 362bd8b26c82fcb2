"""The fake hypervisor's parts every operation shares: the simulated host and VM, fault injection, and
the power-state bookkeeping. `overcast.virt.fake.FakeDriver` is the driver built on them.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from overcast.virt.driver import (
    ComputeDriver,
    DriverError,
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
    moved_disk: bytes | None = None  # what a cold move to another host received through the image service


P = ParamSpec("P")
R = TypeVar("R")
D = TypeVar("D", bound="FakeDriverBase")


def injectable(method: Callable[Concatenate[D, P], R]) -> Callable[Concatenate[D, P], R]:
    """Let tests make the next call of this method fail or run slowly (see fail_next, delays)."""

    @functools.wraps(method)
    def wrapper(self: D, *args: P.args, **kwargs: P.kwargs) -> R:
        self._before_call(method.__name__)
        return method(self, *args, **kwargs)

    return wrapper


class FakeDriverBase(ComputeDriver):
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
        self._vms: dict[str, FakeVM] = {}
        self._resize_backups: dict[str, FakeVM] = {}  # set aside by migrate_disk_and_power_off
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
            if vm.state not in ACTIVE_STATES:
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

    def _validate(self, spec: InstanceSpec) -> None:
        if spec.vcpus < 1 or spec.memory_mb < 1:
            raise DriverError(f"Cannot spawn {spec.uuid}: a VM needs at least 1 vcpu and 1 MB of memory.")
        if spec.memory_mb > self.config.memory_mb:
            raise DriverError(
                f"Cannot spawn {spec.uuid}: it needs {spec.memory_mb} MB of memory but host "
                f"{self.host} has only {self.config.memory_mb} MB."
            )

    # --- internals (callers hold self._lock) ------------------------------------------------------
    def _get(self, uuid: str) -> FakeVM:
        vm = self._vms.get(uuid)
        if vm is None:
            raise InstanceNotFound(f"Instance {uuid} could not be found on host {self.host}.")
        return vm

    def _get_built(self, uuid: str) -> FakeVM:
        vm = self._get(uuid)
        if vm.state == PowerState.NOSTATE:
            raise InstanceActionInvalid(f"Instance {uuid} is still being built.")
        return vm

    @staticmethod
    def _require(vm: FakeVM, action: str, *allowed: PowerState) -> None:
        if vm.state not in allowed:
            raise InstanceActionInvalid(
                f"Cannot {action} instance {vm.spec.uuid} while its power state is {vm.state.name}."
            )

    def _cpu_time_ns(self, vm: FakeVM) -> int:
        if vm.running_since is None:
            return vm.cpu_time_ns
        busy_s = (self._clock() - vm.running_since) * vm.spec.vcpus * CPU_UTILISATION
        return vm.cpu_time_ns + int(busy_s * 1e9)

    def _set_state(self, vm: FakeVM, state: PowerState) -> None:
        vm.cpu_time_ns = self._cpu_time_ns(vm)
        vm.running_since = self._clock() if state == PowerState.RUNNING else None
        vm.state = state

    def _halt(self, vm: FakeVM, state: PowerState) -> None:
        self._set_state(vm, state)
        vm.started_at = None

    def _boot(self, vm: FakeVM) -> None:
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
