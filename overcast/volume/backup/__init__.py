"""The volume backup engine: a volume's bytes as hashed, compressed chunks in an image store.

`BackupEngine` writes and reads them, `Manifest` lists them, `build_backup_store` picks the store.
"""

from __future__ import annotations

from overcast.volume.backup.engine import BackupCorrupt, BackupEngine
from overcast.volume.backup.manifest import ChunkRecord, Manifest
from overcast.volume.backup.settings import BackupSettings, build_backup_store

__all__ = ["BackupCorrupt", "BackupEngine", "BackupSettings", "ChunkRecord", "Manifest", "build_backup_store"]
