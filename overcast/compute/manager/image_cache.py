"""The compute host's image cache: each image's data fetched once per host, hash-verified, for drivers
that boot from local files (ImageRef.path).

Files live in `<data_dir>/image-cache/<host>/<image id>`. Glance images are immutable once active, so a
cached file stays valid until it is pruned (when no instance on the host uses its image any more).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.image.api import ImageAPI
from overcast.image.cache import fetch_to_path

LOG = logging.getLogger(__name__)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class HostImageCache:
    def __init__(self, cloud: Cloud, host: str, image_api: ImageAPI) -> None:
        self.cloud = cloud
        self.folder = cloud.settings.data_dir / "image-cache" / _file_name(host)
        self.image_api = image_api
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path_for(self, image_id: str) -> Path:
        return self.folder / _file_name(image_id)

    def fetch(self, ctxt: RequestContext, image_id: str) -> Path:
        """The local file of `image_id`, downloaded (as `ctxt`, which must see the image) if missing."""
        path = self.path_for(image_id)
        with self._lock_for(path.name):
            if not path.is_file():
                LOG.info("[%s] Fetching image %s into %s", ctxt.request_id, image_id, self.folder)
                fetch_to_path(self.image_api, ctxt, image_id, path)
        return path

    def prune(self, in_use: Iterable[str]) -> list[str]:
        """Remove the cached images not in `in_use` (image ids); returns the ids removed."""
        keep = {_file_name(image_id) for image_id in in_use}
        removed = []
        for cached in sorted(self.folder.iterdir()) if self.folder.is_dir() else []:
            if cached.name.startswith(".") or cached.name in keep:
                continue
            with self._lock_for(cached.name):
                cached.unlink(missing_ok=True)
            removed.append(cached.name)
        return removed

    def _lock_for(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())


def _file_name(text: str) -> str:
    return text if _SAFE_NAME.match(text) else hashlib.sha256(text.encode()).hexdigest()
