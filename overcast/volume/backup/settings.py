"""Backup-only settings, read from OVERCAST_BACKUP_* variables, and the store backups go to."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from overcast.image.settings import ImageSettings
from overcast.image.stores import FilesystemStore, Store, SwiftStore

MIB = 1024 * 1024


class BackupSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_BACKUP_", extra="ignore")

    # Cinder's backup_file_size / chunked driver's chunk: the unit that is hashed, compressed, stored
    # and compared by an incremental backup.
    chunk_size: int = 32 * MIB
    # Cinder's backup_compression_algorithm (zstd is not in this Python's standard library).
    compression: Literal["zlib", "bz2", "none"] = "zlib"
    # Which image store layer holds the chunks: "file" (below data_dir/backups unless filesystem_dir
    # says otherwise) or "swift" (the image service's Swift credentials, container below).
    store: Literal["file", "swift"] = "file"
    filesystem_dir: Path | None = None
    swift_container: str = "overcast-backups"
    # Chunks compressed and stored at once: compression and hashing release the GIL.
    workers: int = 2


def build_backup_store(
    settings: BackupSettings, data_dir: Path, image_settings: ImageSettings | None = None
) -> Store:
    if settings.store == "swift":
        swift = image_settings or ImageSettings()
        return SwiftStore(
            swift.swift_auth_url,
            swift.swift_user,
            swift.swift_key,
            container=settings.swift_container,
            segment_size=swift.swift_segment_size,
        )
    return FilesystemStore(settings.filesystem_dir or data_dir / "backups")
