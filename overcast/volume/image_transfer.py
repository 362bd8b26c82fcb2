"""Image → volume and volume → image: the bytes between the image service and a volume driver.

An image is fetched to a private scratch file (hash verified), converted to raw by qemu-img when it is
not raw already, checked to fit the volume and written onto it keeping holes; a volume is uploaded raw
as it is, or converted first when the image asks for another disk format (qcow2: its holes cost
nothing).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from overcast import errors
from overcast.context import RequestContext
from overcast.image.api import ImageAPI
from overcast.image.cache import fetch_to_path
from overcast.volume.drivers.base import COPY_CHUNK, VolumeDriver, VolumeDriverError, copy_stream

QEMU_IMG_TIMEOUT = 3600.0
# Image properties Cinder does not copy into the volume's image metadata.
_NOT_COPIED = frozenset({"direct_url", "locations", "os_hidden", "stores"})


class ImageDoesNotFit(errors.BadRequest):
    default_message = "The image does not fit in the volume."


def _qemu_img(*args: str) -> str:
    if shutil.which("qemu-img") is None:
        raise VolumeDriverError("qemu-img is not installed: only raw images can be copied.")
    result = subprocess.run(
        ["qemu-img", *args], capture_output=True, text=True, timeout=QEMU_IMG_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise VolumeDriverError(f"qemu-img {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def inspect(path: Path) -> tuple[str, int]:
    """The file's format and virtual size, as qemu-img reads them (raw when qemu-img is missing)."""
    if shutil.which("qemu-img") is None:
        return "raw", path.stat().st_size
    info: dict[str, Any] = json.loads(_qemu_img("info", "--output", "json", str(path)))
    return str(info["format"]), int(info["virtual-size"])


def copy_image_to_volume(
    images: ImageAPI,
    ctxt: RequestContext,
    image_id: str,
    driver: VolumeDriver,
    volume_id: str,
    scratch: Path,
    *,
    target_is_zero: bool = True,
) -> dict[str, str]:
    """Write image `image_id` onto the volume (all zeros unless `target_is_zero` is False: a reimage,
    whose old data the image's zeros must overwrite); returns the image's properties that become the
    volume's image metadata (Cinder's volume_image_metadata)."""
    scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=scratch) as work:
        fetched = Path(work) / "image"
        record = fetch_to_path(images, ctxt, image_id, fetched)
        disk_format, virtual_size = inspect(fetched)
        volume_size = driver.volume_size(volume_id)
        if virtual_size > volume_size:
            raise ImageDoesNotFit(
                f"Image virtual size is {-(-virtual_size // 1024**3)}GB and doesn't fit in a volume of "
                f"size {volume_size // 1024**3}GB."
            )
        target = driver.local_path(volume_id)
        if disk_format != "raw" and target is not None:
            # Straight onto the volume's file, whose zeros need no writing.
            zeros = ["--target-is-zero"] if target_is_zero else []
            _qemu_img("convert", "-n", *zeros, "-f", disk_format, "-O", "raw", str(fetched), str(target))
        else:
            raw = fetched
            if disk_format != "raw":
                raw = Path(work) / "raw"
                _qemu_img("convert", "-f", disk_format, "-O", "raw", str(fetched), str(raw))
            with raw.open("rb") as source:
                if target_is_zero:
                    driver.write_volume_from(volume_id, source)
                else:
                    with driver.open_volume(volume_id, writable=True) as volume:
                        copy_stream(source, volume)
    image = record.image
    metadata = {"image_id": image.id, "image_name": image.name or "", "checksum": image.checksum or ""}
    metadata.update(
        disk_format=image.disk_format or "",
        container_format=image.container_format or "",
        size=str(image.size or 0),
        min_disk=str(image.min_disk or 0),
        min_ram=str(image.min_ram or 0),
    )
    for key, value in (image.properties or {}).items():
        if key not in _NOT_COPIED:
            metadata[str(key)] = str(value)
    return metadata


def upload_volume_to_image(
    images: ImageAPI, driver: VolumeDriver, volume_id: str, image_id: str, disk_format: str, scratch: Path
) -> None:
    """Upload the volume's bytes as the queued image's data, in the image's disk format."""
    ctxt = RequestContext.admin()
    if disk_format in ("raw", ""):
        with driver.open_volume(volume_id, writable=False) as volume:
            images.data.upload(ctxt, image_id, _chunks(volume))
        return
    scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=scratch) as work:
        raw, converted = driver.local_path(volume_id), Path(work) / "converted"
        if raw is None:
            raw = Path(work) / "raw"
            with driver.open_volume(volume_id, writable=False) as volume, raw.open("wb") as target:
                size = copy_stream(volume, target, skip_zeros=True)
                target.truncate(size)
        _qemu_img("convert", "-f", "raw", "-O", disk_format, str(raw), str(converted))
        with converted.open("rb") as data:
            images.data.upload(ctxt, image_id, _chunks(data))


def _chunks(stream: Any) -> Iterator[bytes]:
    while chunk := stream.read(COPY_CHUNK):
        yield chunk
