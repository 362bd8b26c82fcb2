"""Choose KVM or TCG by booting a tiny VM under KVM and checking that the guest really runs.

/dev/kvm being there is not enough: under broken nested virtualisation the firmware runs but the guest
kernel hangs. The probe boots the host's guest kernel with no root disk and waits for it to reach
its "Kernel panic" (that is, it ran its whole boot); without a kernel it boots a 512-byte boot sector
that writes to the serial port and exits through isa-debug-exit. The verdict is cached per host,
QEMU version and host kernel in `<data_dir>/accel.json`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PROBE_TIMEOUT = 15.0
KERNEL_GLOB = "vmlinuz-*-cloud-amd64"
_KERNEL_DONE = "Kernel panic"
_BOOT_SECTOR_MESSAGE = b"OVERCAST-ACCEL-OK\n"
# Real mode: ds=0, print the message to COM1 (0x3f8), then write to isa-debug-exit (0xf4) and halt.
_BOOT_SECTOR_CODE = bytes.fromhex("31c08ed8fcbaf803be1a7cac84c07403eeebf8b001e6f4f4ebfd")


@dataclass(frozen=True)
class Accelerator:
    name: str  # "kvm" or "tcg"
    cpu: str  # -cpu model: "host" under KVM, "max" under TCG
    reason: str


TCG = Accelerator("tcg", "max", "")


def boot_sector() -> bytes:
    code = _BOOT_SECTOR_CODE + _BOOT_SECTOR_MESSAGE + b"\0"
    return code.ljust(510, b"\0") + b"\x55\xaa"


def detect_accelerator(
    data_dir: Path, *, qemu: str = "qemu-system-x86_64", kernel: Path | None = None, refresh: bool = False
) -> Accelerator:
    """KVM if a probe VM runs under it on this host, else TCG (cached in data_dir/accel.json)."""
    cache = data_dir / "accel.json"
    key = {"host": platform.node(), "host_kernel": platform.release(), "qemu": qemu_version_string(qemu)}
    if not refresh:
        cached = _read_cache(cache)
        if cached is not None and cached.get("key") == key:
            return Accelerator(str(cached["name"]), str(cached["cpu"]), str(cached["reason"]))
    result = probe_kvm(qemu=qemu, kernel=kernel if kernel is not None else find_probe_kernel())
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = cache.with_suffix(".part")
    staging.write_text(json.dumps({"key": key, **asdict(result)}, indent=2))
    os.replace(staging, cache)
    return result


def probe_kvm(*, qemu: str = "qemu-system-x86_64", kernel: Path | None = None,
              timeout: float = PROBE_TIMEOUT) -> Accelerator:  # fmt: skip
    device = Path("/dev/kvm")
    if not device.exists():
        return Accelerator("tcg", "max", "no /dev/kvm")
    if not os.access(device, os.R_OK | os.W_OK):
        return Accelerator("tcg", "max", "/dev/kvm is not usable by this user")
    with tempfile.TemporaryDirectory(prefix="overcast-accel-") as tmp:
        console = Path(tmp) / "console.log"
        args = [qemu, "-accel", "kvm", "-cpu", "host", "-m", "128", "-nodefaults", "-no-user-config",
                "-display", "none", "-no-reboot", "-serial", f"file:{console}"]  # fmt: skip
        if kernel is not None:
            args += ["-kernel", str(kernel), "-append", "console=ttyS0 panic=-1 quiet"]
            expected = _KERNEL_DONE.encode()
            what = f"guest kernel {kernel.name}"
        else:
            disk = Path(tmp) / "boot.img"
            disk.write_bytes(boot_sector())
            args += [
                "-drive",
                f"file={disk},format=raw,if=ide",
                "-device",
                "isa-debug-exit,iobase=0xf4,iosize=4",
            ]
            expected = _BOOT_SECTOR_MESSAGE.strip()
            what = "boot sector"
        ran, detail = _run_until(args, console, expected, timeout)
    if ran:
        return Accelerator("kvm", "host", f"{what} ran under KVM")
    return Accelerator("tcg", "max", f"KVM probe failed ({what}): {detail}")


def _run_until(args: list[str], console: Path, expected: bytes, timeout: float) -> tuple[bool, str]:
    try:
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        return False, str(exc)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if console.exists() and expected in console.read_bytes():
                return True, ""
            if process.poll() is not None:
                if console.exists() and expected in console.read_bytes():
                    return True, ""
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                return False, f"qemu exited with {process.returncode}: {stderr.strip()[-500:]}"
            time.sleep(0.05)
        return False, f"guest made no progress within {timeout:.0f}s"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stderr:
            process.stderr.close()


def find_probe_kernel() -> Path | None:
    kernels = sorted(Path("/boot").glob(KERNEL_GLOB))
    return kernels[-1] if kernels else None


def qemu_version_string(qemu: str = "qemu-system-x86_64") -> str:
    try:
        result = subprocess.run([qemu, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = result.stdout.splitlines()[0] if result.stdout else ""
    return first.removeprefix("QEMU emulator version ").strip()


def _read_cache(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
