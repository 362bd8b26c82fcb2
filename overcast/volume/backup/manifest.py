"""What a backup stored: one record per chunk of the volume, kept as JSON beside the chunks.

An incremental backup's manifest is complete on its own: chunks unchanged since its parent point at
the objects an ancestor stored (`owner`), so a restore reads one manifest and deleting a backup
removes only the objects it owns.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ChunkRecord:
    index: int
    # Of the chunk's plain bytes: what restore verifies and what an incremental backup compares.
    sha256: str
    length: int
    # Where the stored object is; None for a chunk of zeros, which is not stored.
    location: str | None
    # The backup that stored the object ("" for zeros).
    owner: str
    compression: str = "none"

    @property
    def is_zero(self) -> bool:
        return self.location is None


@dataclass
class Manifest:
    backup_id: str
    volume_id: str
    parent_id: str | None
    size_bytes: int
    chunk_size: int
    chunks: list[ChunkRecord] = field(default_factory=list)

    def owned(self) -> list[ChunkRecord]:
        return [chunk for chunk in self.chunks if chunk.owner == self.backup_id and chunk.location]

    @property
    def object_count(self) -> int:
        """Objects this backup wrote (its manifest included), as Cinder's object_count counts."""
        return len(self.owned()) + 1

    def to_json(self) -> bytes:
        document: dict[str, Any] = {"version": FORMAT_VERSION, **asdict(self)}
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        document = json.loads(data)
        if document.get("version") != FORMAT_VERSION:
            raise ValueError(f"Unknown backup manifest version {document.get('version')!r}.")
        chunks = [ChunkRecord(**chunk) for chunk in document["chunks"]]
        return cls(
            backup_id=document["backup_id"],
            volume_id=document["volume_id"],
            parent_id=document["parent_id"],
            size_bytes=document["size_bytes"],
            chunk_size=document["chunk_size"],
            chunks=chunks,
        )
