"""Image stores: the filesystem store (default) and Swift; `build_stores` makes the enabled ones."""

from __future__ import annotations

import re
from pathlib import Path

from overcast import errors
from overcast.image.settings import ImageSettings
from overcast.image.stores.base import CHUNK_SIZE, Store, StoreError, StoreNotFound
from overcast.image.stores.filesystem import FilesystemStore
from overcast.image.stores.swift import SwiftStore

STORE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

__all__ = [
    "CHUNK_SIZE",
    "FilesystemStore",
    "Store",
    "StoreError",
    "StoreNotFound",
    "SwiftStore",
    "build_stores",
]


def build_stores(settings: ImageSettings, data_dir: Path) -> dict[str, Store]:
    """The enabled stores by id, the default (first enabled) first.

    An entry is a store type ("file", "swift": the store's id is its type) or, as Glance's
    enabled_backends, "id:type" ("fast:file,cheap:file": several filesystem stores, each in its folder
    of filesystem_store_dirs, else data_dir's images-<id>).
    """
    stores: dict[str, Store] = {}
    for entry in settings.enabled_stores:
        store_id, _, kind = entry.partition(":")
        if kind == "file" and store_id != "file":
            if store_id in stores or not STORE_ID.fullmatch(store_id):
                raise errors.BadRequest(f"Invalid or repeated image store id {store_id!r} in enabled_stores.")
            folder = settings.filesystem_store_dirs.get(store_id) or data_dir / f"images-{store_id}"
            stores[store_id] = FilesystemStore(folder, store_id, f"Local filesystem ({store_id})")
            continue
        store_id = kind or store_id
        if store_id == "file":
            stores[store_id] = FilesystemStore(settings.filesystem_dir or data_dir / "images")
        elif store_id == "swift":
            stores[store_id] = SwiftStore(
                settings.swift_auth_url, settings.swift_user, settings.swift_key,
                container=settings.swift_container, segment_size=settings.swift_segment_size,
            )  # fmt: skip
        else:
            raise errors.BadRequest(f"Unknown image store {store_id!r} in enabled_stores.")
    if not stores:
        raise errors.BadRequest("At least one image store must be enabled.")
    return stores
