"""`overcast image build-guest`: build the guest image and make it the data of the seeded public image.

The cloud starts with the public image "overcast-tiny" active but without data (so the fake driver can
boot it); an admin may give it its data once. With the QEMU driver the all-in-one does this on its first
start, so `openstack server create --image overcast-tiny` boots a real VM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from overcast import errors
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.guest.builder import GuestBuildError, build_guest_image, guest_image_path

# Seeded by migration 0003 and kept by the image registry.
DEFAULT_IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"
DEFAULT_IMAGE_NAME = "overcast-tiny"

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


def publish_guest_image(
    cloud: Cloud, *, force: bool = False, progress: Progress = lambda message: None
) -> Published:
    """Build the guest image (reused if built before) and upload it into overcast-tiny if it has no data."""
    path = guest_image_path(cloud.settings.data_dir)
    from overcast.image.api import ImageAPI

    images = ImageAPI(cloud)
    ctxt = RequestContext.admin()
    record = images.get(ctxt, DEFAULT_IMAGE_ID)
    if record.locations and not force:
        progress(f"Image {DEFAULT_IMAGE_NAME} ({DEFAULT_IMAGE_ID}) already has its data.")
        return Published(path, DEFAULT_IMAGE_ID, uploaded=False)
    if force or not path.exists():
        progress(f"Building the guest image at {path} (once; from this host's Debian packages)...")
    try:
        build_guest_image(path, force=force)
    except GuestBuildError as exc:
        raise GuestImageUnavailable(f"Cannot build the guest image: {exc}") from exc
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
