"""Writing one image file: direct I/O where the filesystem allows it, the page cache otherwise.

An uploaded image is read back rarely and long after (a compute host caches it), so passing it through
the page cache only costs: the kernel copies every byte into cache pages (on a VM whose memory was
never touched that copy alone costs more CPU than hashing the data) and the final fsync writes the
whole image at once. With O_DIRECT the disk reads straight from one reused, page-aligned buffer and the
fsync has only metadata left. Direct writes must be multiples of the block size from aligned memory, so
data is gathered in the buffer and the unaligned tail of the file goes through the page cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from overcast.image.stores.base import StoreError

T = TypeVar("T")
# A multiple of every logical block size in use (512 and 4096); mmap memory is page aligned.
ALIGNMENT = 4096
DIRECT_BUFFER = 4 * 1024 * 1024
FLUSH_EVERY = 32 * 1024 * 1024


def disk_call(function: Callable[..., T], *args: Any) -> T:
    # Disk errors become StoreError; errors of the incoming stream (a client cut off) pass unchanged.
    try:
        return function(*args)
    except OSError as exc:
        raise StoreError(f"Writing image data failed: {exc.strerror or exc}") from exc


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[disk_call(os.write, fd, view) :]


class FileWriter:
    """Appends chunks to a new file and makes them durable on finish(); close() always."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @staticmethod
    def create(path: os.PathLike[str] | str) -> FileWriter:
        """A writer for a new file at `path` (FileExistsError-safe: the name must be free)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise StoreError(f"Cannot create image file: {exc.strerror}") from exc
        direct = getattr(os, "O_DIRECT", 0)
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | direct)
        except OSError:
            direct = 0  # tmpfs and some network filesystems refuse O_DIRECT
        return DirectFileWriter(fd) if direct else BufferedFileWriter(fd)

    def write(self, chunk: bytes) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Write what is pending and fsync."""
        disk_call(os.fsync, self.fd)

    def close(self) -> None:
        os.close(self.fd)


class DirectFileWriter(FileWriter):
    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.buffer = mmap.mmap(-1, DIRECT_BUFFER)
        self.filled = 0

    def write(self, chunk: bytes) -> None:
        data = memoryview(chunk)
        while data:
            room = DIRECT_BUFFER - self.filled
            taken = data[:room]
            self.buffer[self.filled : self.filled + len(taken)] = taken
            self.filled += len(taken)
            data = data[len(taken) :]
            if self.filled == DIRECT_BUFFER:
                write_all(self.fd, memoryview(self.buffer))
                self.filled = 0

    def finish(self) -> None:
        aligned = self.filled - self.filled % ALIGNMENT
        pending = memoryview(self.buffer)
        if aligned:
            write_all(self.fd, pending[:aligned])
        if aligned < self.filled:
            flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
            fcntl.fcntl(self.fd, fcntl.F_SETFL, flags & ~os.O_DIRECT)
            write_all(self.fd, bytes(pending[aligned : self.filled]))
        pending.release()
        self.filled = 0
        super().finish()

    def close(self) -> None:
        self.buffer.close()
        super().close()


class BufferedFileWriter(FileWriter):
    """Through the page cache, pushing data to disk in the background while the upload goes on.

    Without the pushes the kernel keeps a whole image dirty in memory and the final fsync writes it
    all at once, after the upload; flushing every FLUSH_EVERY bytes overlaps the disk with the network.
    """

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.unflushed = 0
        self.flusher: threading.Thread | None = None

    def write(self, chunk: bytes) -> None:
        write_all(self.fd, chunk)
        self.unflushed += len(chunk)
        if self.unflushed >= FLUSH_EVERY and (self.flusher is None or not self.flusher.is_alive()):
            self.unflushed = 0
            self.flusher = threading.Thread(target=self._flush, name="image-flush", daemon=True)
            self.flusher.start()

    def _flush(self) -> None:
        with contextlib.suppress(OSError):
            os.fdatasync(self.fd)

    def _join_flusher(self) -> None:
        if self.flusher is not None:
            self.flusher.join()

    def finish(self) -> None:
        self._join_flusher()
        super().finish()

    def close(self) -> None:
        self._join_flusher()
        super().close()
