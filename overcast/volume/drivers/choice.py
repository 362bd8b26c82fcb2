"""Which volume driver a volume host runs: the `volume_driver` setting, "auto" resolved here.

"auto" is iscsi when this process can serve volumes for real (root on Linux with tgt's tgtd and tgtadm,
and QEMU's iSCSI client, qemu-block-extra, for the VMs to connect with) and the VMs are QEMU's; else the
fake driver, whose volumes hold real bytes but whose exports only the fake virt driver uses.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from overcast.config import Settings
from overcast.virt.driver import resolve_driver_name
from overcast.volume.drivers.base import VolumeDriver, VolumeDriverError

DRIVERS = ("iscsi", "fake")
TGT_TOOLS = ("tgtd", "tgtadm")
# Where Debian's qemu-block-extra puts QEMU's iSCSI block driver module.
QEMU_ISCSI_MODULES = (
    Path("/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so"),
    Path("/usr/lib/aarch64-linux-gnu/qemu/block-iscsi.so"),
    Path("/usr/lib/qemu/block-iscsi.so"),
)


def qemu_speaks_iscsi() -> bool:
    return any(module.exists() for module in QEMU_ISCSI_MODULES)


def can_serve_iscsi() -> bool:
    return (
        sys.platform.startswith("linux")
        and os.geteuid() == 0
        and all(shutil.which(tool) for tool in TGT_TOOLS)
        and qemu_speaks_iscsi()
    )


def resolve_volume_driver_name(settings: Settings) -> str:
    name = settings.volume_driver.lower()
    if name != "auto":
        return name
    qemu = resolve_driver_name(settings.compute_driver) == "qemu"
    return "iscsi" if qemu and can_serve_iscsi() else "fake"


def pool_dir_of(settings: Settings) -> Path:
    return settings.volume_pool_dir or settings.data_dir / "volumes"


def load_volume_driver(settings: Settings, host: str) -> VolumeDriver:
    name = resolve_volume_driver_name(settings)
    if name == "fake":
        from overcast.volume.drivers.fake import FakeVolumeDriver

        return FakeVolumeDriver(pool_dir_of(settings))
    if name == "iscsi":
        from overcast.volume.drivers.iscsi import IscsiVolumeDriver

        return IscsiVolumeDriver(
            pool_dir_of(settings), portal_address=settings.iscsi_portal_address, port=settings.iscsi_port
        )
    raise VolumeDriverError(f"Unknown volume driver {name!r}; known: auto, {', '.join(DRIVERS)}.")


def startup_line(settings: Settings) -> str:
    """What the all-in-one says at start-up about its volumes, and why when they are not iSCSI."""
    name = resolve_volume_driver_name(settings)
    pool = pool_dir_of(settings)
    if name == "iscsi":
        return (
            f"Volumes: sparse files in {pool}, exported over iSCSI by tgtd on "
            f"{settings.iscsi_portal_address}:{settings.iscsi_port}"
        )
    if settings.volume_driver.lower() != "auto":
        why = f"the volume driver is {name}"
    elif resolve_driver_name(settings.compute_driver) != "qemu":
        why = "the fake virt driver's VMs connect to no iSCSI target"
    else:
        why = "iSCSI exports need root on Linux with tgt and qemu-block-extra"
    return f"Volumes: sparse files in {pool}, fake exports ({why})"
