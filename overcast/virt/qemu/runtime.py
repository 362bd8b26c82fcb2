"""The mechanics under QemuDriver: start and stop QEMU for a VM, wait for its guest to boot, reconcile
its power state, and turn QMP events into lifecycle events. Callers hold the VM's lock; events are queued
on the VM and delivered (`HostVMs.flush`) once the lock is released.
"""

from __future__ import annotations

import logging
import queue
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from overcast.guest import READY_PATTERN
from overcast.virt.driver import DriverError, InstanceActionInvalid, PowerState
from overcast.virt.qemu import console, launch, volumes
from overcast.virt.qemu.accel import Accelerator
from overcast.virt.qemu.instance import (
    CONFIG_DRIVE,
    QMP_STATUS,
    RESCUE_DISK,
    ROOT_DISK,
    SUSPEND_STATE,
    VM,
    transition_for,
)
from overcast.virt.qemu.kernel_boot import KernelBoot
from overcast.virt.qemu.qmp import QMPClient, QMPConnectionError, QMPError
from overcast.virt.qemu.serial_ports import SerialPorts

LOG = logging.getLogger(__name__)
_NOTICED_EVENTS = frozenset({"SHUTDOWN", "STOP", "RESUME", "GUEST_PANICKED", "CONNECTION_CLOSED"})
_QUIT_TIMEOUT = 10.0
_MIGRATION_TIMEOUT = 300.0


def tap_vifs(network_info: list[dict[str, Any]]) -> tuple[tuple[str, str, str], ...]:
    """(port id, tap device, MAC) of each VIF the network agent wired, in the order the server has them."""
    return tuple(
        (str(v["id"]), str(v["device"]), str(v["address"])) for v in network_info if v.get("type") == "tap"
    )


class Runtime:
    def __init__(self, qemu_binary: str, accelerator: Accelerator, port_reservations: set[int],
                 port_lock: threading.Lock, serial_ports: SerialPorts | None = None, *,
                 boot_timeout: float = 0.0) -> None:  # fmt: skip
        """`boot_timeout` > 0: how long `wait_ready` waits for the guest's READY line (0: it does not)."""
        self.qemu_binary = qemu_binary
        self.accelerator = accelerator
        self.boot_timeout = boot_timeout
        self._ports = port_reservations
        self._port_lock = port_lock
        self.serial_ports = serial_ports
        self.host = ""  # the compute host (init_host names it): its iSCSI initiator name logs in to volumes
        self.notices: queue.Queue[tuple[str, int] | None] = queue.Queue()
        self._children: dict[int, subprocess.Popen[bytes]] = {}  # QEMUs we started: reaped when they end

    # --- start / stop ---------------------------------------------------------------------------
    def start(self, vm: VM, *, incoming: Path | None = None) -> int:
        """Launch QEMU for `vm`; returns the console offset where this boot's output begins."""
        spec = vm.spec
        # A volume-backed VM boots from its volume (boot_index 0) and has no image-backed root disk.
        boots_from_volume = any(v.get("boot_index") == 0 for v in spec.block_device_info)
        root_qos = volumes.drive_throttling(spec.flavor_extra_specs)
        disks = [] if boots_from_volume else [
            launch.DiskSpec(ROOT_DISK, boot=not vm.record.rescued, options=root_qos)
        ]
        if vm.record.rescued:
            disks.insert(0, launch.DiskSpec(RESCUE_DISK, boot=True))
        if vm.path(CONFIG_DRIVE).exists():
            disks.append(launch.DiskSpec(CONFIG_DRIVE, format="raw", readonly=True))
        mac = next((str(v["address"]) for v in spec.network_info if v.get("address")), None)
        taps = tap_vifs(spec.network_info)
        offset = console.console_size(vm.path(launch.CONSOLE_FILE))
        volume_args = volumes.boot_args(
            vm.folder, spec.block_device_info, self.host, rescued=vm.record.rescued
        )
        # What QEMU plugs at boot sits on its boot ports: hot-plug ports are free again.
        for volume in vm.record.spec.get("block_device_info") or []:
            volume.pop("bus", None)
            volume.pop("qemu_pid", None)
        rescued = vm.record.rescued
        boot = KernelBoot.from_record(vm.record.rescue_kernel_boot if rescued else vm.record.kernel_boot)
        ssh_taken = serial_taken = False
        for attempt in range(3):
            # On taps the guest is reached on its network: nothing of the host is forwarded to it.
            port = None if taps else self._port_for(vm, fresh=ssh_taken)
            serial = self._serial_for(vm, fresh=serial_taken)
            config = launch.LaunchConfig(
                uuid=vm.uuid, name=spec.name.replace(",", ",,"), vcpus=spec.vcpus, memory_mb=spec.memory_mb,
                accelerator=self.accelerator.name, cpu=self.accelerator.cpu, disks=disks, ssh_port=port,
                mac_address=mac, taps=taps, serial_tcp=serial, extra_args=volume_args,
                kernel=boot.kernel if boot else None, initrd=boot.ramdisk if boot else None,
                append=boot.command_line if boot else None,
                incoming=shlex.quote(str(incoming.absolute())) if incoming else None,
            )  # fmt: skip
            try:
                process = launch.launch(launch.build_qemu_command(config, self.qemu_binary), vm.folder)
                break
            except DriverError as exc:
                ssh_taken, serial_taken = "host forwarding" in str(exc), "id=console" in str(exc)
                if not (ssh_taken or serial_taken) or attempt == 2:
                    raise
                LOG.info("A port of %s was taken (SSH %s, serial %s); trying others", vm.uuid, port, serial)
        pid = process.pid
        self._children[pid] = process
        vm.pid = pid
        vm.generation += 1
        vm.last_cpu_ns = 0
        vm.started_at = time.time()
        generation = vm.generation
        client = QMPClient(vm.path(launch.QMP_SOCKET), timeout=10,
                           on_event=lambda event: self._on_event(vm.uuid, generation, event))  # fmt: skip
        try:
            client.connect(wait=10.0)
        except QMPConnectionError:
            launch.kill(pid, vm.uuid)
            vm.pid = None
            raise
        vm.qmp = client
        vm.save()
        return offset

    def attach(self, vm: VM) -> bool:
        """Re-attach to a QEMU that outlived an earlier driver; False if there is none."""
        pid = launch.read_pid(vm.folder)
        if not launch.pid_alive(pid, vm.uuid):
            return False
        vm.pid = pid
        vm.generation += 1
        generation = vm.generation
        client = QMPClient(vm.path(launch.QMP_SOCKET), timeout=10,
                           on_event=lambda event: self._on_event(vm.uuid, generation, event))  # fmt: skip
        try:
            client.connect(wait=2.0)
        except QMPConnectionError as exc:
            LOG.warning("Cannot re-attach to QMP of %s: %s", vm.uuid, exc)
            return True
        vm.qmp = client
        return True

    def stop(self, vm: VM, graceful_timeout: float = 0.0) -> None:
        """Stop QEMU: ACPI power button for up to `graceful_timeout` seconds, then quit, then kill."""
        pid = vm.pid
        if pid is not None and launch.pid_alive(pid, vm.uuid):
            vm.last_cpu_ns = max(vm.last_cpu_ns, launch.process_cpu_time_ns(pid))
            if graceful_timeout > 0 and self.status(vm) == "running":
                self._try(vm, "system_powerdown")
                launch.wait_dead(pid, vm.uuid, graceful_timeout)
            if launch.pid_alive(pid, vm.uuid):
                vm.last_cpu_ns = max(vm.last_cpu_ns, launch.process_cpu_time_ns(pid))
                self._try(vm, "quit")
                if not launch.wait_dead(pid, vm.uuid, _QUIT_TIMEOUT):
                    launch.kill(pid, vm.uuid)
        self.forget_process(vm)

    def forget_process(self, vm: VM) -> None:
        if vm.qmp is not None:
            vm.qmp.close()
            vm.qmp = None
        if vm.pid is not None:
            child = self._children.pop(vm.pid, None)
            if child is not None:
                child.poll()
            vm.record.cpu_time_base_ns += vm.last_cpu_ns
            vm.last_cpu_ns = 0
            vm.pid = None
            vm.started_at = None
            vm.generation += 1
            for leftover in (launch.QMP_SOCKET, launch.PID_FILE, launch.SERIAL_SOCKET):
                vm.path(leftover).unlink(missing_ok=True)
            vm.save()

    def wait_ready(self, vm: VM, offset: int) -> None:
        """Wait for the guest's READY line on the console after `offset` (where its boot began)."""
        if self.boot_timeout <= 0:
            return
        found = console.wait_for(
            vm.path(launch.CONSOLE_FILE),
            READY_PATTERN,
            offset=offset,
            timeout=self.boot_timeout,
            still_running=lambda: self.alive(vm),
        )
        if found is None:
            raise DriverError(f"Guest {vm.uuid} did not report ready within {self.boot_timeout:.0f}s.")

    # --- state ----------------------------------------------------------------------------------
    def alive(self, vm: VM) -> bool:
        return launch.pid_alive(vm.pid, vm.uuid)

    def status(self, vm: VM) -> str | None:
        """QMP's run state ("running", "paused", ...), None when QEMU is gone or does not answer."""
        if vm.qmp is None or vm.qmp.closed:
            if not self.alive(vm):
                return None
            self.attach(vm)
            if vm.qmp is None:
                return None
        try:
            result = vm.qmp.execute("query-status", timeout=10)
        except (QMPConnectionError, QMPError):
            return None
        return str(result.get("status")) if isinstance(result, dict) else None

    def refresh(self, vm: VM) -> PowerState:
        """Look at the process and QMP; record the state, and the event if it changed on its own."""
        if vm.state == PowerState.NOSTATE:
            return vm.state
        status = self.status(vm) if self.alive(vm) else None
        if status == "guest-panicked":
            # QEMU holds a panicked guest paused (-action panic=pause) so the crash cannot be missed;
            # nothing runs in it any more, so let it go as a hypervisor destroys a crashed domain.
            self.stop(vm)
            new = PowerState.CRASHED
        elif status is not None:
            new = QMP_STATUS.get(status, vm.state)
            if vm.pid is not None:
                vm.last_cpu_ns = max(vm.last_cpu_ns, launch.process_cpu_time_ns(vm.pid))
        elif self.alive(vm):
            new = vm.state  # alive but not answering (busy): keep what we knew
        else:
            self.forget_process(vm)
            suspended = vm.record.suspended and vm.path(SUSPEND_STATE).exists()
            new = PowerState.SUSPENDED if suspended else PowerState.SHUTDOWN
            if new == PowerState.SHUTDOWN and vm.state == PowerState.CRASHED:
                new = PowerState.CRASHED
        self.set_state(vm, new)
        return new

    def set_state(self, vm: VM, new: PowerState) -> None:
        transition = transition_for(vm.state, new)
        vm.state = new
        if transition is not None:
            vm.pending_events.append(transition)

    def cpu_time_ns(self, vm: VM) -> int:
        return vm.record.cpu_time_base_ns + vm.last_cpu_ns

    # --- QMP helpers ----------------------------------------------------------------------------
    def execute(
        self, vm: VM, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30
    ) -> Any:
        if vm.qmp is None:
            raise InstanceActionInvalid(f"Instance {vm.uuid} has no running QEMU.")
        try:
            return vm.qmp.execute(command, arguments, timeout=timeout)
        except (QMPConnectionError, QMPError) as exc:
            raise DriverError(f"QEMU of instance {vm.uuid} refused {command}: {exc}") from exc

    def _try(self, vm: VM, command: str) -> None:
        try:
            if vm.qmp is not None:
                vm.qmp.execute(command, timeout=5)
        except (QMPConnectionError, QMPError):
            pass

    def save_state(self, vm: VM, target: Path) -> None:
        """Write the paused VM's whole state to `target` (QEMU migration to a file)."""
        self.execute(vm, "migrate-set-parameters", {"max-bandwidth": 1 << 40})
        partial = target.with_name(f".{target.name}.part")
        quoted = shlex.quote(str(partial.absolute()))
        self.execute(vm, "migrate", {"uri": f"exec:cat > {quoted}"})
        deadline = time.monotonic() + _MIGRATION_TIMEOUT
        while True:
            info = self.execute(vm, "query-migrate") or {}
            status = info.get("status")
            if status == "completed":
                break
            if status in ("failed", "cancelled") or time.monotonic() > deadline:
                partial.unlink(missing_ok=True)
                raise DriverError(f"Saving the state of {vm.uuid} failed: {info.get('error-desc', status)}")
            time.sleep(0.05)
        partial.replace(target)

    def wait_incoming(self, vm: VM, timeout: float = _MIGRATION_TIMEOUT) -> None:
        """After a start from a state file: wait for the state to load, then let the VM run."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(vm)
            if status is None:
                raise DriverError(f"QEMU of {vm.uuid} exited while loading its saved state")
            if status not in ("inmigrate", "prelaunch"):
                break
            if time.monotonic() > deadline:
                raise DriverError(f"Loading the saved state of {vm.uuid} timed out")
            time.sleep(0.05)
        if status != "running":
            self.execute(vm, "cont")

    def send_ctrl_alt_del(self, vm: VM) -> None:
        keys = [{"type": "qcode", "data": key} for key in ("ctrl", "alt", "delete")]
        self.execute(vm, "send-key", {"keys": keys})

    # --- notices --------------------------------------------------------------------------------
    def _on_event(self, uuid: str, generation: int, event: dict[str, Any]) -> None:
        """On the QMP reader thread: never block, just ask the dispatcher to take a look."""
        if event.get("event") in _NOTICED_EVENTS:
            self.notices.put((uuid, generation))

    def _port_for(self, vm: VM, *, fresh: bool) -> int:
        with self._port_lock:
            if vm.record.ssh_port is not None and not fresh:
                self._ports.add(vm.record.ssh_port)
                return vm.record.ssh_port
            if vm.record.ssh_port is not None:
                self._ports.discard(vm.record.ssh_port)
            port = launch.free_port(self._ports)
            self._ports.add(port)
            vm.record.ssh_port = port
            return port

    def release_port(self, vm: VM) -> None:
        with self._port_lock:
            if vm.record.ssh_port is not None:
                self._ports.discard(vm.record.ssh_port)
        if self.serial_ports is not None:
            self.serial_ports.release(vm.record.serial_port)

    def _serial_for(self, vm: VM, *, fresh: bool) -> tuple[str, int] | None:
        """Where the VM's serial port listens on TCP: its stored port, a new one if it has none (or lost
        it to another process); None for a unix socket."""
        serial = self.serial_ports
        if serial is None or not serial.enabled:
            if serial is not None:
                serial.release(vm.record.serial_port)
            vm.record.serial_port = None
            return None
        if vm.record.serial_port is None or fresh:
            taken = vm.record.serial_port
            vm.record.serial_port = serial.acquire(avoid=taken)
            serial.release(taken)
        else:
            serial.keep(vm.record.serial_port)
        return serial.listen, vm.record.serial_port


NoticeHandler = Callable[[str, int], None]


def run_dispatcher(
    notices: queue.Queue[tuple[str, int] | None],
    handle: NoticeHandler,
    sweep: Callable[[], list[tuple[str, int]]] | None = None,
    sweep_interval: float = 2.0,
) -> None:
    """Deliver QMP notices one at a time until a None arrives.

    QMP events can race a dying QEMU (the socket closes before the process is gone), so whenever the
    queue stays quiet for `sweep_interval` seconds every running VM is looked at again: a VM that died or
    powered itself off is noticed within seconds even when its last event was missed.
    """
    while True:
        try:
            item = notices.get(timeout=sweep_interval if sweep else None)
        except queue.Empty:
            assert sweep is not None
            pending = sweep()
        else:
            if item is None:
                return
            pending = [item]
        for uuid, generation in pending:
            try:
                handle(uuid, generation)
            except Exception:
                LOG.exception("Handling a QMP notice for %s failed", uuid)
