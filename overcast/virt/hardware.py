"""The host's hardware: a plain description (configured for the fake) and its detection on a real host.

The QEMU driver reports `detect_host_hardware()`; the fake driver reports whatever its config says.
Detection reads Linux's /proc and /sys only, so it works unprivileged and without extra packages.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from overcast.virt.driver import Device

# PCI class codes (first two bytes of /sys/bus/pci/devices/*/class) of display controllers.
_GPU_PCI_CLASSES = ("0x0300", "0x0302")
_WANTED_CPU_FLAGS = ("vmx", "svm", "sse4_2", "avx", "avx2", "avx512f", "aes", "pdpe1gb", "rdrand")


@dataclass
class HostHardware:
    vcpus: int = 16
    memory_mb: int = 65536
    local_gb: int = 1000
    cpu_arch: str = "x86_64"
    cpu_model: str = "Haswell-noTSX"
    cpu_features: list[str] = field(default_factory=lambda: ["sse4_2", "avx", "avx2", "aes", "vmx"])
    devices: list[Device] = field(default_factory=list)


def encode_version(major: int, minor: int = 0, micro: int = 0) -> int:
    """Nova's integer hypervisor version: 8.2.1 -> 8002001."""
    return major * 1_000_000 + minor * 1_000 + micro


def detect_host_hardware(
    instances_path: str = "/", proc: Path = Path("/proc"), sys_pci: Path = Path("/sys/bus/pci/devices")
) -> HostHardware:
    model, features = _cpu_model_and_features(proc / "cpuinfo")
    disk = os.statvfs(instances_path)
    return HostHardware(
        vcpus=os.cpu_count() or 1,
        memory_mb=_memory_mb(proc / "meminfo"),
        local_gb=disk.f_blocks * disk.f_frsize // 1024**3,
        cpu_arch=platform.machine() or "x86_64",
        cpu_model=model,
        cpu_features=features,
        devices=_gpus(sys_pci),
    )


def _memory_mb(meminfo: Path) -> int:
    for line in _read_lines(meminfo):
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def _cpu_model_and_features(cpuinfo: Path) -> tuple[str, list[str]]:
    model, flags = "unknown", set[str]()
    for line in _read_lines(cpuinfo):
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return model, [flag for flag in _WANTED_CPU_FLAGS if flag in flags]


def _gpus(sys_pci: Path) -> list[Device]:
    counts: dict[tuple[str, str], int] = {}
    for device in sorted(sys_pci.glob("*")) if sys_pci.is_dir() else []:
        pci_class = _read_text(device / "class")
        if not pci_class.startswith(_GPU_PCI_CLASSES):
            continue
        key = (
            _read_text(device / "vendor").removeprefix("0x"),
            _read_text(device / "device").removeprefix("0x"),
        )
        counts[key] = counts.get(key, 0) + 1
    return [
        Device(kind="gpu", vendor_id=vendor, product_id=product, model=f"{vendor}:{product}", count=count)
        for (vendor, product), count in counts.items()
    ]


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
