"""This host's VMs: which there are, each under its lock, and the lifecycle events their changes cause.

An action takes the VM under its lock (`locked`); lifecycle events it causes are queued on the VM and
delivered once the lock is released (`flush`), so a listener that calls back into the driver cannot
deadlock.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from overcast.virt.driver import (
    EventListener,
    InstanceActionInvalid,
    InstanceExists,
    InstanceNotFound,
    LifecycleEvent,
    PowerState,
)
from overcast.virt.qemu import disks
from overcast.virt.qemu.instance import RESCUE_DISK, ROOT_DISK, VM
from overcast.virt.qemu.runtime import Runtime

LOG = logging.getLogger(__name__)


class HostVMs:
    """The VMs of one compute host, kept in `instances_dir`; `host` is its name once the driver serves it."""

    def __init__(
        self, instances_dir: Path, images: disks.ImageCache, runtime: Runtime, emit: EventListener
    ) -> None:
        self.instances_dir = instances_dir
        self.host: str | None = None
        self._images = images
        self._runtime = runtime
        self._emit = emit
        self._lock = threading.Lock()
        self._vms: dict[str, VM] = {}

    # --- membership -------------------------------------------------------------------------------
    def uuids(self) -> list[str]:
        with self._lock:
            return list(self._vms)

    def find(self, uuid: str) -> VM | None:
        with self._lock:
            return self._vms.get(uuid)

    def get(self, uuid: str) -> VM:
        vm = self.find(uuid)
        if vm is None:
            raise InstanceNotFound(f"Instance {uuid} could not be found on host {self.host}.")
        return vm

    def add(self, vm: VM, *, new_folder: bool) -> None:
        """Count `vm` among this host's; `new_folder`: its folder must not exist yet (a VM being built)."""
        with self._lock:
            if vm.uuid in self._vms or (new_folder and vm.folder.exists()):
                raise InstanceExists(f"Instance {vm.uuid} already exists on host {self.host}.")
            self._vms[vm.uuid] = vm

    def forget(self, uuid: str) -> None:
        with self._lock:
            self._vms.pop(uuid, None)

    def forget_all(self) -> list[VM]:
        with self._lock:
            vms = list(self._vms.values())
            self._vms.clear()
        return vms

    # --- one VM -----------------------------------------------------------------------------------
    @contextmanager
    def locked(self, uuid: str, *, built: bool = False) -> Iterator[VM]:
        """The VM under its lock; its lifecycle events are delivered after the lock is released."""
        vm = self.get(uuid)
        try:
            with vm.lock:
                if self.find(uuid) is not vm:
                    raise InstanceNotFound(f"Instance {uuid} could not be found on host {self.host}.")
                if built and vm.state == PowerState.NOSTATE:
                    raise InstanceActionInvalid(f"Instance {uuid} is still being built.")
                yield vm
        finally:
            self.flush(vm)

    def flush(self, vm: VM) -> None:
        """Deliver the lifecycle events queued on `vm` (never under its lock: listeners may call back)."""
        with vm.lock:
            pending, vm.pending_events = vm.pending_events, []
        for transition in pending:
            self._emit(LifecycleEvent(uuid=vm.uuid, transition=transition, at=datetime.now(UTC)))

    def remove(self, vm: VM) -> None:
        """Stop the VM's QEMU, delete its folder and forget it; bases no overlay uses any more go too."""
        with vm.lock:
            self._runtime.stop(vm)
            self._runtime.release_port(vm)
            shutil.rmtree(vm.folder, ignore_errors=True)
        with self._lock:
            if self._vms.get(vm.uuid) is vm:
                del self._vms[vm.uuid]
        self.prune_bases()

    def prune_bases(self) -> None:
        # Every folder counts, the ones a resize set aside (`<uuid>_resize`) included.
        with self._lock:
            overlays = [p for p in self.instances_dir.glob("*/disk.*") if p.name in (ROOT_DISK, RESCUE_DISK)]
        self._images.prune(b for b in map(disks.backing_file, overlays) if b is not None)

    # --- what QEMU tells us -----------------------------------------------------------------------
    def running(self) -> list[tuple[str, int]]:
        """(uuid, generation) of every VM whose QEMU should be running: what the quiet-time sweep checks."""
        with self._lock:
            vms = list(self._vms.values())
        return [(vm.uuid, vm.generation) for vm in vms if vm.state in (PowerState.RUNNING, PowerState.PAUSED)]

    def notice(self, uuid: str, generation: int) -> None:
        """The VM's QEMU `generation` reported a change: look again (an older QEMU's news is stale)."""
        vm = self.find(uuid)
        if vm is None:
            return
        with vm.lock:
            if vm.generation == generation and vm.state != PowerState.NOSTATE:
                self._runtime.refresh(vm)
        self.flush(vm)
