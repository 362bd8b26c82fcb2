"""Fetching an image's data to a local file with its hash verified (the compute hosts' image cache)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from overcast import errors
from overcast.cloud import make_private_dirs
from overcast.context import RequestContext
from overcast.image.api import ImageAPI
from overcast.image.registry import ImageRecord


class ImageDataCorrupt(errors.OvercastError):
    status = 500
    title = "computeFault"
    default_message = "The image data does not match its recorded hash."


def fetch_to_path(images: ImageAPI, ctxt: RequestContext, image_id: str, destination: Path) -> ImageRecord:
    """Stream image `image_id` into `destination`, verifying its os_hash_value (or md5 checksum).

    The data goes to a temporary file beside `destination` that is renamed into place only once the
    hash matches, so a reader never sees a partial or corrupt file at `destination`. Raises NotFound
    (no such image for `ctxt`), Conflict (the image has no data yet) or ImageDataCorrupt.
    """
    download = images.data.download(ctxt, image_id)
    if download is None:
        raise errors.Conflict(
            f"Image {image_id} has no data yet (status {images.get(ctxt, image_id).image.status})."
        )
    image = download.record.image
    algo = image.os_hash_algo or "md5"
    expected = image.os_hash_value if image.os_hash_algo else image.checksum
    hasher = hashlib.new(algo)
    make_private_dirs(destination.parent)
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.part")
    try:
        # Private images are their project's alone, on compute hosts too.
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            for chunk in download.chunks:
                hasher.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if expected is not None and hasher.hexdigest() != expected:
            raise ImageDataCorrupt(f"Image {image_id}: {algo} of the downloaded data does not match.")
        os.replace(partial, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return download.record
