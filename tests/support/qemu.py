"""Real QEMU for tests and benchmarks: the guest image (built once per process), drivers in throw-away
data folders, SSH into guests with dropbear's client, and a sweep that kills every QEMU a test left.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overcast.guest import build_guest_image, guest_image_path
from overcast.guest.builder import ensure_prerequisites, guest_parts
from overcast.virt.driver import ImageRef
from overcast.virt.qemu.driver import QemuDriver
from overcast.virt.qemu.launch import PID_FILE

if TYPE_CHECKING:
    from tests.support.cloud import InProcessCloud

QEMU = "qemu-system-x86_64"
_lock = threading.Lock()
_workdir: Path | None = None


def qemu_available() -> bool:
    return shutil.which(QEMU) is not None


def workdir() -> Path:
    """One temporary folder per process for images, keys and driver data; removed (VMs first) at exit."""
    global _workdir
    with _lock:
        if _workdir is None:
            _workdir = Path(tempfile.mkdtemp(prefix="overcast-qemu-tests-"))
            atexit.register(_cleanup, _workdir)
        return _workdir


def _cleanup(folder: Path) -> None:
    kill_leftover_vms(folder)
    shutil.rmtree(folder, ignore_errors=True)


def guest_image() -> Path:
    """The guest image, built (installing its Debian packages if needed) once per process."""
    path = workdir() / "guest.qcow2"
    with _lock:
        if not path.exists():
            ensure_prerequisites()
            build_guest_image(path)
    return path


@contextmanager
def cloud_with_guest(data_dir: Path, drivers: dict[str, QemuDriver]) -> Iterator[InProcessCloud]:
    """An in-process cloud whose compute hosts (the keys of `drivers`) run real VMs, with the tiny
    guest image published as the default public image."""
    from overcast.guest.publish import publish_guest_image
    from tests.support.cloud import InProcessCloud

    guest = guest_image_path(data_dir)
    guest.parent.mkdir(parents=True, exist_ok=True)
    built = guest_image()  # built once per test process, with its direct-kernel-boot parts
    for source, target in zip(guest_parts(built).all(), guest_parts(guest).all(), strict=True):
        shutil.copyfile(source, target)
    shutil.copyfile(built, guest)
    running = InProcessCloud(data_dir, compute_hosts=tuple(drivers), drivers=dict(drivers))
    try:
        assert publish_guest_image(running.cloud).uploaded
        yield running
    finally:
        running.stop()


def guest_image_ref() -> ImageRef:
    return ImageRef(id="overcast-guest", path=str(guest_image()))


def new_data_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="data-", dir=workdir()))


def make_driver(data_dir: Path | None = None, **options: Any) -> QemuDriver:
    """A QEMU driver under TCG that waits for guests to boot (the tests look at the booted guest)."""
    settings: dict[str, Any] = {"accelerator": "tcg", "boot_timeout": 120.0, "soft_reboot_timeout": 30.0}
    settings.update(options)
    return QemuDriver(data_dir or new_data_dir(), **settings)


def kill_leftover_vms(folder: Path) -> list[int]:
    """SIGKILL every QEMU whose pid file lies under `folder`; returns the pids killed."""
    killed = []
    for pid_file in folder.rglob(PID_FILE):
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"process=overcast-" in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    return killed


def ssh_key() -> tuple[Path, str]:
    """A dropbear ed25519 key pair: (private key file, OpenSSH public key line)."""
    key = workdir() / "id_ed25519"
    with _lock:
        if not key.exists():
            subprocess.run(["dropbearkey", "-t", "ed25519", "-f", str(key)], capture_output=True, check=True)
    public = subprocess.run(["dropbearkey", "-y", "-f", str(key)], capture_output=True, text=True, check=True)
    line = next(text for text in public.stdout.splitlines() if text.startswith("ssh-"))
    return key, line


def ssh(port: int, command: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run `command` in the guest as root over the forwarded port (host keys accepted blindly)."""
    key, _ = ssh_key()
    env = dict(os.environ, HOME=str(workdir()))
    return subprocess.run(
        ["dbclient", "-y", "-y", "-i", str(key), "-p", str(port), "root@127.0.0.1", command],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
