"""`overcast image build-guest`: build the guest image and make it the data of the seeded public image.

The cloud starts with the public image "overcast-tiny" active but without data (so the fake driver can
boot it); an admin may give it its data once. With the QEMU driver the all-in-one does this on its first
start, so `openstack server create --image overcast-tiny` boots a real VM.

The same guest is published for a direct kernel boot too, as EC2's images were: "overcast-tiny-kernel"
(aki), "overcast-tiny-ramdisk" (ari) and "overcast-tiny-direct", its root filesystem, whose kernel_id,
ramdisk_id and os_command_line name them; QEMU boots that kernel itself, with no firmware boot loader
reading it from the disk. overcast-tiny stays the whole disk (a boot loader and both partitions) for
whoever needs one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from overcast import errors
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.guest.builder import (
    GuestBuildError,
    GuestParts,
    build_guest_image,
    guest_image_path,
    guest_parts,
)
from overcast.guest.scripts import KERNEL_ARGS
from overcast.image.patch import ImageChanges

if TYPE_CHECKING:
    from overcast.image.api import ImageAPI

# Seeded by migration 0003 and kept by the image registry.
DEFAULT_IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"
DEFAULT_IMAGE_NAME = "overcast-tiny"
# The same guest for a direct kernel boot (EC2's AKI + ARI, and the machine image naming them).
KERNEL_IMAGE_ID = "47190adf-b909-457d-b91d-319f9d805370"
KERNEL_IMAGE_NAME = "overcast-tiny-kernel"
RAMDISK_IMAGE_ID = "f357f5f7-db56-4c90-9f19-5c9c02f481ce"
RAMDISK_IMAGE_NAME = "overcast-tiny-ramdisk"
DIRECT_IMAGE_ID = "ec058a8c-dc76-43cb-9c3e-612c86016ca0"
DIRECT_IMAGE_NAME = "overcast-tiny-direct"

_DIRECT_PROPERTIES = {
    "kernel_id": KERNEL_IMAGE_ID,
    "ramdisk_id": RAMDISK_IMAGE_ID,
    "os_command_line": KERNEL_ARGS,
}

Progress = Callable[[str], None]


class GuestImageUnavailable(errors.OvercastError):
    """The guest image cannot be built here (a missing Debian package, no kernel, ...)."""

    status = 503
    title = "serviceUnavailable"
    default_message = "The guest image cannot be built on this machine."


@dataclass(frozen=True)
class Published:
    path: Path
    image_id: str
    uploaded: bool  # False: the image already had data
    direct_image_id: str = DIRECT_IMAGE_ID


@dataclass(frozen=True)
class _Part:
    image_id: str
    name: str
    disk_format: str
    container_format: str
    properties: dict[str, str]


def _direct_boot_parts() -> list[tuple[_Part, Callable[[GuestParts], Path]]]:
    """The kernel and ramdisk images first: the machine image names them."""
    return [
        (_Part(KERNEL_IMAGE_ID, KERNEL_IMAGE_NAME, "aki", "aki", {}), lambda parts: parts.kernel),
        (_Part(RAMDISK_IMAGE_ID, RAMDISK_IMAGE_NAME, "ari", "ari", {}), lambda parts: parts.ramdisk),
        (_Part(DIRECT_IMAGE_ID, DIRECT_IMAGE_NAME, "qcow2", "bare", _DIRECT_PROPERTIES), lambda p: p.root),
    ]


def publish_guest_image(
    cloud: Cloud, *, force: bool = False, progress: Progress = lambda message: None
) -> Published:
    """Build the guest image (reused if built before) and upload it into overcast-tiny if it has no data;
    publish its direct-kernel-boot parts as public images too, those that do not have their data yet."""
    path = guest_image_path(cloud.settings.data_dir)
    from overcast.image.api import ImageAPI

    images = ImageAPI(cloud)
    ctxt = RequestContext.admin()
    record = images.get(ctxt, DEFAULT_IMAGE_ID)
    missing_parts = [part for part, _ in _direct_boot_parts() if not _has_data(images, ctxt, part.image_id)]
    if record.locations and not missing_parts and not force:
        progress(f"Image {DEFAULT_IMAGE_NAME} ({DEFAULT_IMAGE_ID}) already has its data.")
        return Published(path, DEFAULT_IMAGE_ID, uploaded=False)
    if force or not path.exists():
        progress(f"Building the guest image at {path} (once; from this host's Debian packages)...")
    try:
        build_guest_image(path, force=force)
    except GuestBuildError as exc:
        raise GuestImageUnavailable(f"Cannot build the guest image: {exc}") from exc
    _publish_direct_boot(images, ctxt, guest_parts(path), missing_parts, progress)
    if record.locations:
        progress(f"Image {DEFAULT_IMAGE_NAME} already has data; it can be given only once.")
        return Published(path, DEFAULT_IMAGE_ID, uploaded=False)
    wanted = {"disk_format": "qcow2", "container_format": "bare"}
    patch = [
        {"op": "replace", "path": f"/{name}", "value": value}
        for name, value in wanted.items()
        if getattr(record.image, name) != value
    ]
    if patch:
        images.update(ctxt, DEFAULT_IMAGE_ID, patch)
    progress(f"Uploading {path.stat().st_size // (1024 * 1024)} MiB as image {DEFAULT_IMAGE_NAME}...")
    images.upload(ctxt, DEFAULT_IMAGE_ID, path)
    progress(f"Image {DEFAULT_IMAGE_NAME} ({DEFAULT_IMAGE_ID}) boots the guest image.")
    return Published(path, DEFAULT_IMAGE_ID, uploaded=True)


def _has_data(images: ImageAPI, ctxt: RequestContext, image_id: str) -> bool:
    try:
        return bool(images.get(ctxt, image_id).locations)
    except errors.NotFound:
        return False


def _publish_direct_boot(
    images: ImageAPI, ctxt: RequestContext, parts: GuestParts, missing: list[_Part], progress: Progress
) -> None:
    """Create (with fixed ids, public) and upload the kernel, ramdisk and machine images still missing."""
    for part, file_of in _direct_boot_parts():
        if part not in missing:
            continue
        try:
            images.get(ctxt, part.image_id)
        except errors.NotFound:
            changes = ImageChanges(
                core={"name": part.name, "disk_format": part.disk_format,
                      "container_format": part.container_format, "visibility": "public"},
                properties=dict(part.properties),
            )  # fmt: skip
            images.create(ctxt, changes, image_id=part.image_id)
        images.upload(ctxt, part.image_id, file_of(parts))
        progress(f"Image {part.name} ({part.image_id}) uploaded.")
    if missing:
        progress(f"Image {DIRECT_IMAGE_NAME} ({DIRECT_IMAGE_ID}) boots the guest by direct kernel boot.")
