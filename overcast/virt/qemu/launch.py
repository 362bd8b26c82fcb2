"""Starting and stopping QEMU processes: the command line, the launch, pid checks.

QEMU runs in its instance folder (relative paths keep the QMP socket path short) as the leader of its
own session, so VMs outlive the compute worker that started them. We do not use `-daemonize`: QEMU 7.2
cannot run `exec:` migrations (our suspend) once daemonized, and a child we started is one we can reap.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from overcast.virt.driver import DriverError

CONSOLE_FILE = "console.log"
SERIAL_SOCKET = "serial.sock"
QMP_SOCKET = "qmp.sock"
PID_FILE = "qemu.pid"
LOG_FILE = "qemu.log"
GUEST_SSH_PORT = 22
INSTANCE_DIR_MODE = 0o700
SOCKET_MODE = 0o600


@dataclass(frozen=True)
class DiskSpec:
    path: str  # relative to the instance folder, or absolute
    format: str = "qcow2"
    readonly: bool = False
    boot: bool = False
    options: str = ""  # more -drive options (",throttling.bps-total=N": the flavor's disk QoS)


@dataclass(frozen=True)
class LaunchConfig:
    uuid: str
    name: str
    vcpus: int
    memory_mb: int
    accelerator: str  # "kvm" | "tcg"
    cpu: str  # "host" | "max"
    disks: list[DiskSpec]
    ssh_port: int | None = None  # host port forwarded to the guest's 22, on 127.0.0.1 only
    mac_address: str | None = None
    # One NIC per VIF the network agent wired: (port id, tap device, MAC). None: QEMU's user-mode NAT.
    taps: tuple[tuple[str, str, str], ...] = ()
    serial_tcp: tuple[str, int] | None = None  # (listen host, port) of the serial port; None: a unix socket
    incoming: str | None = None  # state file to resume from
    # Direct kernel boot (kernel_boot.py): kernel and initrd files, the kernel's arguments; none of the
    # disks is then a boot device, so the firmware hands over to the kernel at once.
    kernel: str | None = None
    initrd: str | None = None
    append: str | None = None
    machine: str = "q35"
    extra_args: list[str] = field(default_factory=list)


# Empty PCIe root ports a running VM's new NICs are hot-plugged into (q35's root bus takes none).
HOTPLUG_PORTS = 4
_FIRST_HOTPLUG_CHASSIS = 100


def nic_ids(port_id: str) -> tuple[str, str]:
    """QEMU's ids of a port's back end and NIC, the same at boot and when hot-plugged."""
    short = port_id.replace("-", "")[:12]
    return f"tap-{short}", f"nic-{short}"


def hotplug_port(index: int) -> str:
    return f"hotplug{index}"


def tap_netdev(netdev_id: str, device: str) -> str:
    """A NIC's back end on a tap the network agent made and plugged: QEMU runs no script on it."""
    return f"tap,id={netdev_id},ifname={device},script=no,downscript=no"


def nic_device(netdev_id: str, mac: str | None, *, nic_id: str | None = None, bus: str | None = None) -> str:
    # No iPXE option ROM: we never boot from the network.
    device = f"virtio-net-pci,netdev={netdev_id}" + (f",id={nic_id}" if nic_id else "") + ",romfile="
    return device + (f",mac={mac}" if mac else "") + (f",bus={bus}" if bus else "")


def _network_args(config: LaunchConfig) -> list[str]:
    args: list[str] = []
    if config.taps:
        # Each NIC on a root port of its own, so any of them can be unplugged later.
        for index, (port_id, device, mac) in enumerate(config.taps):
            netdev_id, nic_id = nic_ids(port_id)
            args += ["-device", f"pcie-root-port,id=port-{nic_id},chassis={index + 1}"]
            args += ["-netdev", tap_netdev(netdev_id, device)]
            args += ["-device", nic_device(netdev_id, mac, nic_id=nic_id, bus=f"port-{nic_id}")]
    else:
        netdev = "user,id=net0"
        if config.ssh_port is not None:
            netdev += f",hostfwd=tcp:127.0.0.1:{config.ssh_port}-:{GUEST_SSH_PORT}"
        args += ["-netdev", netdev, "-device", nic_device("net0", config.mac_address)]
    for index in range(HOTPLUG_PORTS):
        chassis = _FIRST_HOTPLUG_CHASSIS + index
        args += ["-device", f"pcie-root-port,id={hotplug_port(index)},chassis={chassis}"]
    return args


def build_qemu_command(config: LaunchConfig, qemu: str = "qemu-system-x86_64") -> list[str]:
    args = [
        qemu,
        "-name", f"guest={config.name},process=overcast-{config.uuid}",
        "-uuid", config.uuid,
        "-machine", config.machine,
        "-accel", config.accelerator,
        "-cpu", config.cpu,
        "-smp", str(config.vcpus),
        "-m", str(config.memory_mb),
        "-nodefaults", "-no-user-config", "-display", "none",
    ]  # fmt: skip
    for index, disk in enumerate(config.disks):
        drive = f"file={disk.path},if=none,id=disk{index},format={disk.format},cache=writeback"
        if disk.readonly:
            drive += ",readonly=on"
        drive += disk.options
        boots = disk.boot and config.kernel is None
        device = f"virtio-blk-pci,drive=disk{index}" + (",bootindex=1" if boots else "")
        args += ["-drive", drive, "-device", device]
    if config.kernel is not None:
        args += ["-kernel", config.kernel] + (["-initrd", config.initrd] if config.initrd else [])
        args += ["-append", config.append or ""]
    args += _network_args(config)
    # The serial port is a socket for an interactive console (os-remote-consoles) whose output QEMU
    # also appends to the console log, connected or not. On TCP the API's proxy can be on another host.
    if config.serial_tcp is not None:
        listener = f"host={config.serial_tcp[0]},port={config.serial_tcp[1]},telnet=off"
    else:
        listener = f"path={SERIAL_SOCKET}"
    args += [
        "-chardev", f"socket,id=console,{listener},server=on,wait=off,logfile={CONSOLE_FILE},logappend=on",
        "-serial", "chardev:console",
        # A guest kernel that panics tells QEMU through pvpanic; QEMU then holds it paused in the
        # guest-panicked state, which the driver reports as CRASHED.
        "-device", "pvpanic-pci", "-action", "panic=pause",
        "-qmp", f"unix:{QMP_SOCKET},server=on,wait=off",
        "-pidfile", PID_FILE,
    ]  # fmt: skip
    if config.incoming:
        args += ["-incoming", f"exec:cat {config.incoming}"]
    return args + list(config.extra_args)


def launch(command: list[str], instance_dir: Path, timeout: float = 30.0) -> subprocess.Popen[bytes]:
    """Start QEMU in `instance_dir`; returns once its QMP socket is listening (QEMU finished its set-up).

    The serial and QMP sockets are the VM's console and its controls: the folder is the owner's alone
    (0700) and QEMU creates its sockets and files under umask 077, so no other local user can connect."""
    instance_dir.chmod(INSTANCE_DIR_MODE)
    for leftover in (PID_FILE, QMP_SOCKET, SERIAL_SOCKET):
        (instance_dir / leftover).unlink(missing_ok=True)
    log = instance_dir / LOG_FILE
    try:
        with log.open("ab") as stderr:
            process = subprocess.Popen(
                command, cwd=instance_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=stderr, start_new_session=True, umask=0o077,
            )  # fmt: skip
    except OSError as exc:
        raise DriverError(f"Cannot start QEMU: {exc}") from exc
    deadline = time.monotonic() + timeout
    while not (instance_dir / QMP_SOCKET).exists() or read_pid(instance_dir) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            process.wait()
            errors = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise DriverError(f"QEMU failed to start ({process.returncode}): {' '.join(errors)}")
        time.sleep(0.01)
    with contextlib.suppress(FileNotFoundError):  # a TCP serial port has no socket file
        (instance_dir / SERIAL_SOCKET).chmod(SOCKET_MODE)
    return process


def read_pid(instance_dir: Path) -> int | None:
    try:
        return int((instance_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int | None, uuid: str) -> bool:
    """Is `pid` a live (non-zombie) QEMU for instance `uuid`? Guards against pid reuse."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    # The daemon's parent may be an init that never reaps: a zombie is a dead VM.
    return state not in ("Z", "X") and f"process=overcast-{uuid}".encode() in cmdline


def process_cpu_time_ns(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def wait_dead(pid: int, uuid: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid, uuid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def kill(pid: int | None, uuid: str, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL; returns once the QEMU of `uuid` is gone."""
    if pid is None or not pid_alive(pid, uuid):
        return
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, timeout)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if wait_dead(pid, uuid, wait):
            return
    raise DriverError(f"QEMU process {pid} of instance {uuid} does not die")


def free_port(reserved: set[int]) -> int:
    """A free TCP port on 127.0.0.1 not in `reserved` (the caller reserves it until QEMU binds it)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in reserved:
            return port
    raise DriverError("No free port on 127.0.0.1 for the guest's SSH forward")
