"""One VM on this host: its folder, its persisted record (instance.json) and its live state.

The folder `<data_dir>/instances/<uuid>/` holds everything: disk.qcow2 (overlay over a cached base),
disk.config (config drive), disk.rescue, kernel and ramdisk (a direct kernel boot's, and their .rescue
twins), console.log, qmp.sock, qemu.pid, state.suspend and instance.json. A driver that restarts
rebuilds its view from these files and the live QEMU processes.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from overcast.virt.driver import InstanceSpec, LifecycleTransition, PowerState
from overcast.virt.qemu.qmp import QMPClient

RECORD_FILE = "instance.json"
ROOT_DISK = "disk.qcow2"
CONFIG_DRIVE = "disk.config"
RESCUE_DISK = "disk.rescue"
SUSPEND_STATE = "state.suspend"


@dataclass
class InstanceRecord:
    """What survives a driver restart (written atomically on every change)."""

    spec: dict[str, Any]
    ssh_port: int | None = None
    serial_port: int | None = None  # the TCP port of the serial console, for the VM's whole life
    suspended: bool = False
    rescued: bool = False
    # Direct kernel boot (kernel_boot.KernelBoot records): the VM's own, and its rescue image's.
    kernel_boot: dict[str, Any] | None = None
    rescue_kernel_boot: dict[str, Any] | None = None
    cpu_time_base_ns: int = 0  # cpu time of earlier QEMU processes of this VM
    vifs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        staging = folder / f".{RECORD_FILE}.part"
        staging.write_text(json.dumps(asdict(self), indent=2))
        os.replace(staging, folder / RECORD_FILE)

    @classmethod
    def load(cls, folder: Path) -> InstanceRecord:
        data = json.loads((folder / RECORD_FILE).read_text())
        return cls(**data)

    @property
    def instance_spec(self) -> InstanceSpec:
        return InstanceSpec.from_dict(self.spec)


@dataclass
class VM:
    uuid: str
    folder: Path
    record: InstanceRecord
    state: PowerState = PowerState.NOSTATE
    pid: int | None = None
    qmp: QMPClient | None = None
    generation: int = 0  # bumped on every QEMU launch: notices from older processes are ignored
    last_cpu_ns: int = 0  # cpu time of the current process when last read
    started_at: float | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    pending_events: list[LifecycleTransition] = field(default_factory=list)

    @property
    def spec(self) -> InstanceSpec:
        return self.record.instance_spec

    def path(self, name: str) -> Path:
        return self.folder / name

    def save(self) -> None:
        self.record.save(self.folder)

    def discard_saved_state(self) -> None:
        """Forget a suspended VM's saved memory: the next start is a fresh boot."""
        self.path(SUSPEND_STATE).unlink(missing_ok=True)
        if self.record.suspended:
            self.record.suspended = False
            self.save()


# Which lifecycle event a change of power state means (None: nothing to tell).
def transition_for(old: PowerState, new: PowerState) -> LifecycleTransition | None:
    if old == new:
        return None
    if new == PowerState.RUNNING:
        return "resumed" if old in (PowerState.PAUSED, PowerState.SUSPENDED) else "started"
    if new == PowerState.PAUSED:
        return "paused"
    if new == PowerState.SUSPENDED:
        return "suspended"
    if new == PowerState.CRASHED:
        return "crashed"
    if new == PowerState.SHUTDOWN and old != PowerState.NOSTATE:
        return "stopped"
    return None


# QMP query-status "status" -> power state
QMP_STATUS: dict[str, PowerState] = {
    "running": PowerState.RUNNING,
    "paused": PowerState.PAUSED,
    "suspended": PowerState.PAUSED,
    "debug": PowerState.PAUSED,
    "watchdog": PowerState.PAUSED,
    "save-vm": PowerState.PAUSED,
    "restore-vm": PowerState.PAUSED,
    "finish-migrate": PowerState.PAUSED,
    "postmigrate": PowerState.PAUSED,
    "inmigrate": PowerState.PAUSED,
    "prelaunch": PowerState.PAUSED,
    "shutdown": PowerState.SHUTDOWN,
    "internal-error": PowerState.CRASHED,
    "io-error": PowerState.CRASHED,
    "guest-panicked": PowerState.CRASHED,
}
