"""The filesystem store (the default): one file per image below a directory."""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from overcast.image.stores.base import CHUNK_SIZE, Store, StoreError, StoreNotFound

T = TypeVar("T")
PARTIAL_SUFFIX = ".partial"
STALE_AFTER = 3600.0
FLUSH_EVERY = 32 * 1024 * 1024


class FilesystemStore(Store):
    id = "file"
    description = "Local filesystem"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
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

    def add(self, image_id: str, chunks: Iterable[bytes]) -> str:
        final = self.directory / image_id
        # A private name until complete: a reader can never see half the data under the final name.
        partial = self.directory / f"{image_id}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise StoreError(f"Cannot create image file: {exc.strerror}") from exc
        flusher = _Flusher(fd)
        try:
            try:
                for chunk in chunks:
                    self._write(fd, chunk)
                    flusher.wrote(len(chunk))
                flusher.finish()
                _disk_call(os.fsync, fd)
            finally:
                flusher.finish()
                os.close(fd)
            _disk_call(os.replace, partial, final)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        return f"file://{final}"

    @staticmethod
    def _write(fd: int, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[_disk_call(os.write, fd, view) :]

    def read(self, location: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        path = self._path(location)
        try:
            handle = path.open("rb", buffering=0)
        except FileNotFoundError:
            raise StoreNotFound(f"Image data at {location} is gone.") from None
        return self._chunks(handle, offset, length)

    @staticmethod
    def _chunks(handle: object, offset: int, length: int | None) -> Iterator[bytes]:
        import io

        assert isinstance(handle, io.RawIOBase)
        with handle:
            handle.seek(offset)
            remaining = length
            while remaining is None or remaining > 0:
                want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                chunk = handle.read(want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def size(self, location: str) -> int:
        try:
            return self._path(location).stat().st_size
        except FileNotFoundError:
            raise StoreNotFound(f"Image data at {location} is gone.") from None

    def delete(self, location: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(location).unlink()


def _disk_call(function: Callable[..., T], *args: Any) -> T:
    # Disk errors become StoreError; errors of the incoming stream (a client cut off) pass unchanged.
    try:
        return function(*args)
    except OSError as exc:
        raise StoreError(f"Writing image data failed: {exc.strerror or exc}") from exc


class _Flusher:
    """Pushes written data to disk in the background while the upload goes on.

    Without it the kernel keeps a whole image dirty in memory and the final fsync writes it all at
    once, after the upload; flushing every FLUSH_EVERY bytes overlaps the disk with the network.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.unflushed = 0
        self.thread: threading.Thread | None = None

    def wrote(self, size: int) -> None:
        self.unflushed += size
        if self.unflushed >= FLUSH_EVERY and (self.thread is None or not self.thread.is_alive()):
            self.unflushed = 0
            self.thread = threading.Thread(target=self._flush, name="image-flush", daemon=True)
            self.thread.start()

    def _flush(self) -> None:
        with contextlib.suppress(OSError):
            os.fdatasync(self.fd)

    def finish(self) -> None:
        if self.thread is not None:
            self.thread.join()
