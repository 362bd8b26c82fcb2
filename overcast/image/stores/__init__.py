"""Image stores: the filesystem store (default) and Swift; `build_stores` makes the enabled ones."""

from __future__ import annotations

from pathlib import Path

from overcast import errors
from overcast.image.settings import ImageSettings
from overcast.image.stores.base import CHUNK_SIZE, Store, StoreError, StoreNotFound
from overcast.image.stores.filesystem import FilesystemStore
from overcast.image.stores.swift import SwiftStore

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
    """The enabled stores by id, the default (first enabled) first."""
    stores: dict[str, Store] = {}
    for store_id in settings.enabled_stores:
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
