"""What the parts of the QEMU driver share: this host's VMs and the helpers every action uses.

An action takes the VM under its lock (`_locked`); lifecycle events it causes are queued on the VM and
delivered once the lock is released (`_flush`), so a listener that calls back into the driver cannot
deadlock. `QemuDriver` (driver.py) sets the attributes declared here; `ResizeMixin` (resize.py) uses them.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from overcast.guest import READY_PATTERN
from overcast.virt.driver import (
    ComputeDriver,
    DriverError,
    InstanceActionInvalid,
    InstanceNotFound,
    LifecycleEvent,
    PowerState,
)
from overcast.virt.qemu import console, disks, launch
from overcast.virt.qemu.instance import RESCUE_DISK, ROOT_DISK, SUSPEND_STATE, VM
from overcast.virt.qemu.runtime import Runtime

LOG = logging.getLogger(__name__)


class QemuDriverBase(ComputeDriver):
    instances_dir: Path
    boot_timeout: float
    host: str | None
    images: disks.ImageCache
    _lock: threading.Lock
    _vms: dict[str, VM]
    _runtime: Runtime

    def _get(self, uuid: str) -> VM:
        with self._lock:
            vm = self._vms.get(uuid)
        if vm is None:
            raise InstanceNotFound(f"Instance {uuid} could not be found on host {self.host}.")
        return vm

    @contextmanager
    def _locked(self, uuid: str, *, built: bool = False) -> Iterator[VM]:
        """The VM under its lock; its lifecycle events are delivered after the lock is released."""
        vm = self._get(uuid)
        try:
            with vm.lock:
                if self._vms.get(uuid) is not vm:
                    raise InstanceNotFound(f"Instance {uuid} could not be found on host {self.host}.")
                if built and vm.state == PowerState.NOSTATE:
                    raise InstanceActionInvalid(f"Instance {uuid} is still being built.")
                yield vm
        finally:
            self._flush(vm)

    def _require(self, vm: VM, action: str, *allowed: PowerState) -> None:
        state = self._runtime.refresh(vm)
        if state not in allowed:
            raise InstanceActionInvalid(
                f"Cannot {action} instance {vm.uuid} while its power state is {state.name}."
            )

    def _flush(self, vm: VM) -> None:
        with vm.lock:
            pending, vm.pending_events = vm.pending_events, []
        for transition in pending:
            self.emit_event(LifecycleEvent(uuid=vm.uuid, transition=transition, at=datetime.now(UTC)))

    def _running_vms(self) -> list[tuple[str, int]]:
        """(uuid, generation) of every VM whose QEMU should be running: what the quiet-time sweep checks."""
        with self._lock:
            vms = list(self._vms.values())
        return [(vm.uuid, vm.generation) for vm in vms if vm.state in (PowerState.RUNNING, PowerState.PAUSED)]

    def _notice(self, uuid: str, generation: int) -> None:
        with self._lock:
            vm = self._vms.get(uuid)
        if vm is None:
            return
        with vm.lock:
            if vm.generation == generation and vm.state != PowerState.NOSTATE:
                self._runtime.refresh(vm)
        self._flush(vm)

    def _wait_ready(self, vm: VM, offset: int) -> None:
        if self.boot_timeout <= 0:
            return
        found = console.wait_for(
            vm.path(launch.CONSOLE_FILE),
            READY_PATTERN,
            offset=offset,
            timeout=self.boot_timeout,
            still_running=lambda: self._runtime.alive(vm),
        )
        if found is None:
            raise DriverError(f"Guest {vm.uuid} did not report ready within {self.boot_timeout:.0f}s.")

    def _discard_saved_state(self, vm: VM) -> None:
        vm.path(SUSPEND_STATE).unlink(missing_ok=True)
        if vm.record.suspended:
            vm.record.suspended = False
            vm.save()

    def _remove(self, vm: VM) -> None:
        """Stop the VM's QEMU, delete its folder and forget it; bases no overlay uses any more go too."""
        with vm.lock:
            self._runtime.stop(vm)
            self._runtime.release_port(vm)
            shutil.rmtree(vm.folder, ignore_errors=True)
        with self._lock:
            if self._vms.get(vm.uuid) is vm:
                del self._vms[vm.uuid]
        self._prune_bases()

    def _prune_bases(self) -> None:
        # Every folder counts, the ones a resize set aside (`<uuid>_resize`) included.
        with self._lock:
            overlays = [p for p in self.instances_dir.glob("*/disk.*") if p.name in (ROOT_DISK, RESCUE_DISK)]
        self.images.prune(b for b in map(disks.backing_file, overlays) if b is not None)
