"""The filesystem store (the default): one file per image below a directory."""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from overcast.cloud import make_private_dirs
from overcast.image.stores.base import CHUNK_SIZE, Chunk, Store, StoreNotFound
from overcast.image.stores.direct_io import FileWriter, disk_call, open_for_reading, read_chunks

PARTIAL_SUFFIX = ".partial"
STALE_AFTER = 3600.0


class FilesystemStore(Store):
    id = "file"
    description = "Local filesystem"

    def __init__(self, directory: Path, store_id: str = "file", description: str | None = None) -> None:
        self.id = store_id
        self.description = description or FilesystemStore.description
        self.directory = directory
        # Image data is the projects' own: only the user running Overcast may list or read it.
        make_private_dirs(directory)
        self._remove_stale_partials()

    def _remove_stale_partials(self) -> None:
        # Left by a process that died mid-upload (the registry never pointed at them). A live upload
        # touches its file continuously, so only files idle for STALE_AFTER seconds are removed.
        cutoff = time.time() - STALE_AFTER
        for stale in self.directory.glob(f"*{PARTIAL_SUFFIX}"):
            with contextlib.suppress(OSError):
                if stale.stat().st_mtime < cutoff:
                    stale.unlink()

    def _path(self, location: str) -> Path:
        if not location.startswith("file://"):
            raise StoreNotFound(f"Not a filesystem store location: {location}")
        path = Path(location[len("file://") :])
        if path.parent != self.directory:
            raise StoreNotFound(f"Location {location} is outside this store.")
        return path

    def add(self, image_id: str, chunks: Iterable[Chunk]) -> str:
        final = self.directory / image_id
        # A private name until complete: a reader can never see half the data under the final name.
        partial = self.directory / f"{image_id}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
        writer = FileWriter.create(partial)
        try:
            try:
                for chunk in chunks:
                    writer.write(chunk)
                writer.finish()
            finally:
                writer.close()
            disk_call(os.replace, partial, final)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        return f"file://{final}"

    def read(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self._path(location)
        try:
            fd = open_for_reading(path)
        except FileNotFoundError:
            raise StoreNotFound(f"Image data at {location} is gone.") from None
        return read_chunks(fd, offset, length, CHUNK_SIZE)

    def size(self, location: str) -> int:
        try:
            return self._path(location).stat().st_size
        except FileNotFoundError:
            raise StoreNotFound(f"Image data at {location} is gone.") from None

    def delete(self, location: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(location).unlink()

    def delete_partial(self, image_id: str) -> None:
        for partial in self.directory.glob(f"{glob.escape(image_id)}.*{PARTIAL_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
