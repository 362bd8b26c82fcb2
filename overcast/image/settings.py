"""Image-only settings, read from OVERCAST_IMAGE_* variables (the shared Settings stays small)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

GIB = 1024**3


class ImageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_IMAGE_", extra="ignore")

    # Glance's image_size_cap: the largest image one upload may store (413 beyond it).
    size_cap: int = 1024 * GIB
    # Stores this API enables, by id; the first is the default (X-Image-Meta-Store picks another).
    # "id:file" adds a filesystem store of that id, as Glance's enabled_backends ("fast:file").
    enabled_stores: tuple[str, ...] = ("file",)
    # Filesystem store and staging area (import flow); empty means below Settings.data_dir.
    filesystem_dir: Path | None = None
    # Folders of the "id:file" stores, by id; a store not named here keeps data_dir's images-<id>.
    filesystem_store_dirs: dict[str, Path] = {}
    staging_dir: Path | None = None

    # Swift store: tempauth (v1) credentials and where the data goes.
    swift_auth_url: str = ""
    swift_user: str = ""
    swift_key: str = ""
    swift_container: str = "overcast-images"
    # Images are written as segments of this size behind one static large object manifest.
    swift_segment_size: int = 200 * 1024 * 1024

    # Per-project default of the storage quota (Glance's image_size_total, in MiB); -1 is unlimited.
    default_size_total_mib: int = 1024 * 1024
