"""Choosing KVM or TCG: the probe's boot sector, and the per-host cache of the verdict."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from overcast.virt.qemu.accel import boot_sector, detect_accelerator, qemu_version_string


def test_boot_sector_is_a_bootable_sector_with_the_message() -> None:
    sector = boot_sector()
    assert len(sector) == 512 and sector[-2:] == b"\x55\xaa"
    assert b"OVERCAST-ACCEL-OK\n\0" in sector


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU is not installed")
def test_boot_sector_prints_and_exits_under_tcg(tmp_path: Path) -> None:
    disk = tmp_path / "boot.img"
    disk.write_bytes(boot_sector())
    result = subprocess.run(
        ["qemu-system-x86_64", "-accel", "tcg", "-m", "32", "-nodefaults", "-display", "none",
         "-serial", "stdio", "-drive", f"file={disk},format=raw,if=ide",
         "-device", "isa-debug-exit,iobase=0xf4,iosize=4"],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert b"OVERCAST-ACCEL-OK" in result.stdout
    assert result.returncode == 3  # isa-debug-exit: (1 << 1) | 1


def _key(qemu: str) -> dict[str, str]:
    return {"host": platform.node(), "host_kernel": platform.release(), "qemu": qemu_version_string(qemu)}


def test_a_cached_verdict_for_this_host_is_reused(tmp_path: Path) -> None:
    cache = {"key": _key("/bin/false"), "name": "kvm", "cpu": "host", "reason": "probed earlier"}
    (tmp_path / "accel.json").write_text(json.dumps(cache))
    accel = detect_accelerator(tmp_path, qemu="/bin/false")
    assert (accel.name, accel.cpu, accel.reason) == ("kvm", "host", "probed earlier")


def test_a_stale_verdict_is_probed_again(tmp_path: Path) -> None:
    stale = {"key": {**_key("/bin/false"), "host_kernel": "0.0.0-other"}, "name": "kvm", "cpu": "host",
             "reason": "another kernel"}  # fmt: skip
    (tmp_path / "accel.json").write_text(json.dumps(stale))
    accel = detect_accelerator(tmp_path, qemu="/bin/false", kernel=None)  # /bin/false cannot run any VM
    assert (accel.name, accel.cpu) == ("tcg", "max")
    assert json.loads((tmp_path / "accel.json").read_text())["key"] == _key("/bin/false")
