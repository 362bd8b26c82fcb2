"""Direct kernel boot: a machine image whose properties name a kernel image (`kernel_id`) and a ramdisk
image (`ramdisk_id`) boots with QEMU's `-kernel`/`-initrd`/`-append`, with no boot loader on its disk, as
Nova's libvirt driver boots EC2's AMI + AKI + ARI. The kernel's arguments are the image's
`os_command_line`, else Nova's default.

The kernel and ramdisk are linked (or copied) from the compute host's image cache into the instance
folder, where Nova's libvirt driver keeps them too: the VM starts again from its own folder whatever the
cache prunes meanwhile, and a resize that sets the folder aside carries them along.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from overcast.virt.driver import DriverError, ImageRef

KERNEL_FILE = "kernel"
RAMDISK_FILE = "ramdisk"
RESCUE_KERNEL_FILE = "kernel.rescue"
RESCUE_RAMDISK_FILE = "ramdisk.rescue"
# Nova's command line for an image without os_command_line (its console list less hvc0: our VMs have no
# virtio console, and the last console named is the one /dev/console becomes).
DEFAULT_COMMAND_LINE = "root=/dev/vda console=tty0 console=ttyS0"
# x86's COMMAND_LINE_SIZE: QEMU refuses a longer -append only once it starts.
MAX_COMMAND_LINE = 2047


@dataclass(frozen=True)
class KernelBoot:
    """How a VM boots without firmware: its kernel and ramdisk (files in its folder) and their arguments."""

    kernel: str
    ramdisk: str | None
    command_line: str

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, data: dict[str, Any] | None) -> KernelBoot | None:
        return cls(**data) if data else None

    def files(self) -> list[str]:
        return [self.kernel] + ([self.ramdisk] if self.ramdisk else [])


def wants_kernel_boot(image: ImageRef) -> bool:
    return bool(image.properties.get("kernel_id"))


def command_line(properties: dict[str, Any]) -> str:
    text = " ".join(str(properties.get("os_command_line") or "").split())
    if len(text) > MAX_COMMAND_LINE:
        raise DriverError(f"The image's os_command_line is {len(text)} characters; a kernel takes at most "
                          f"{MAX_COMMAND_LINE}.")  # fmt: skip
    return text or DEFAULT_COMMAND_LINE


def install(image: ImageRef, folder: Path, *, rescue: bool = False) -> KernelBoot | None:
    """Put `image`'s kernel and ramdisk into `folder` (the rescue pair beside the VM's own when `rescue`);
    None for an image that boots from its disk."""
    if not wants_kernel_boot(image):
        return None
    kernel_id, ramdisk_id = image.properties.get("kernel_id"), image.properties.get("ramdisk_id")
    if not image.kernel_path or (ramdisk_id and not image.ramdisk_path):
        missing = "kernel" if not image.kernel_path else "ramdisk"
        raise DriverError(
            f"Image {image.id} boots kernel {kernel_id} with ramdisk {ramdisk_id or '(none)'}, but this host "
            f"was not given the {missing}'s file."
        )
    boot = KernelBoot(
        kernel=RESCUE_KERNEL_FILE if rescue else KERNEL_FILE,
        ramdisk=(RESCUE_RAMDISK_FILE if rescue else RAMDISK_FILE) if ramdisk_id else None,
        command_line=command_line(image.properties),
    )
    place(Path(image.kernel_path), folder / boot.kernel)
    if boot.ramdisk is not None and image.ramdisk_path:
        place(Path(image.ramdisk_path), folder / boot.ramdisk)
    return boot


def carry(boot: KernelBoot, source: Path, folder: Path) -> KernelBoot:
    """The same boot in `folder`, its files taken from the folder `source` (a resize's disks set aside)."""
    for name in boot.files():
        if not (source / name).is_file():
            raise DriverError(f"The {name} file of a direct kernel boot is missing from {source}.")
        place(source / name, folder / name)
    return boot


def remove(boot: KernelBoot | None, folder: Path) -> None:
    for name in boot.files() if boot else []:
        (folder / name).unlink(missing_ok=True)


def place(source: Path, dest: Path) -> None:
    """`source`'s data at `dest`: a hard link (cached images are never written), else a private copy."""
    staging = dest.with_name(f".{dest.name}.part")
    staging.unlink(missing_ok=True)
    try:
        os.link(source, staging)
    except OSError:
        try:
            shutil.copyfile(source, staging)
        except OSError as exc:
            raise DriverError(f"Cannot copy {source} for a direct kernel boot: {exc}") from exc
        staging.chmod(0o600)
    os.replace(staging, dest)
