"""Image files written and read with direct I/O where the filesystem allows it, the page cache otherwise.

An image is read back rarely and long after it was written (each compute host caches it), so passing
it through the page cache only costs: the kernel copies every byte into cache pages (on a VM whose
memory was never touched that copy alone costs more CPU than hashing the data), and the final fsync
writes the whole image at once. With O_DIRECT the disk reads from and writes to reused, page-aligned
buffers. Direct transfers must be whole blocks at aligned offsets, so writes gather data in a buffer
(the unaligned tail of the file goes through the page cache) and reads start at the block before the
first byte wanted.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from overcast.image.stores.base import Chunk, StoreError

T = TypeVar("T")
# A multiple of every logical block size in use (512 and 4096); mmap memory is page aligned.
ALIGNMENT = 4096
DIRECT_BUFFER = 4 * 1024 * 1024
FLUSH_EVERY = 32 * 1024 * 1024
READ_AHEAD = 4


def disk_call(function: Callable[..., T], *args: Any) -> T:
    # Disk errors become StoreError; errors of the incoming stream (a client cut off) pass unchanged.
    try:
        return function(*args)
    except OSError as exc:
        raise StoreError(f"Writing image data failed: {exc.strerror or exc}") from exc


def fill_buffer(buffer: mmap.mmap, filled: int, data: memoryview) -> tuple[int, memoryview]:
    """Copy what fits of `data` into `buffer` after its first `filled` bytes: (bytes now filled, the
    rest of `data`)."""
    taken = data[: len(buffer) - filled]
    buffer[filled : filled + len(taken)] = taken
    return filled + len(taken), data[len(taken) :]


def write_all(fd: int, data: Chunk) -> None:
    view = memoryview(data)
    while view:
        view = view[disk_call(os.write, fd, view) :]


class FileWriter:
    """Appends chunks to a new file and makes them durable on finish(); close() always."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @staticmethod
    def create(path: os.PathLike[str] | str) -> FileWriter:
        """A writer for a new file at `path` (StoreError when the name is taken)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise StoreError(f"Cannot create image file: {exc.strerror}") from exc
        return DirectFileWriter(fd) if _try_direct_io(fd) else BufferedFileWriter(fd)

    def write(self, chunk: Chunk) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Write what is pending and fsync."""
        disk_call(os.fsync, self.fd)

    def close(self) -> None:
        os.close(self.fd)


class DirectFileWriter(FileWriter):
    """Two aligned buffers: one fills while a writer thread hands the other to the disk, so the thread
    feeding us (hashing, receiving) does not wait for the device.

    A chunk that is a whole page-aligned buffer (the upload pipeline's blocks) skips the copy and goes
    to the disk from where it is, before write() returns: its owner refills it after that.
    """

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.filling = mmap.mmap(-1, DIRECT_BUFFER)
        self.spare = mmap.mmap(-1, DIRECT_BUFFER)
        self.filled = 0
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="image-write")
        self.writing: Future[None] | None = None

    def write(self, chunk: Chunk) -> None:
        data = memoryview(chunk)
        if self.filled == 0 and _whole_aligned_buffer(data):
            self._wait_for_disk()
            write_all(self.fd, data)
            return
        while data:
            self.filled, data = fill_buffer(self.filling, self.filled, data)
            if self.filled == DIRECT_BUFFER:
                self._wait_for_disk()
                self.writing = self.writer.submit(write_all, self.fd, memoryview(self.filling))
                self.filling, self.spare = self.spare, self.filling
                self.filled = 0

    def _wait_for_disk(self) -> None:
        if self.writing is not None:
            writing, self.writing = self.writing, None
            writing.result()

    def finish(self) -> None:
        self._wait_for_disk()
        aligned = self.filled - self.filled % ALIGNMENT
        pending = memoryview(self.filling)
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
        with contextlib.suppress(StoreError):
            self._wait_for_disk()  # an error here was raised by finish() already, or nobody asks
        self.writer.shutdown()
        self.filling.close()
        self.spare.close()
        super().close()


def _whole_aligned_buffer(view: memoryview) -> bool:
    # mmap memory starts on a page; a view as long as its mmap starts where the mmap does.
    return (
        isinstance(view.obj, mmap.mmap)
        and view.nbytes == len(view.obj)
        and view.nbytes % ALIGNMENT == 0
        and view.contiguous
    )


class BufferedFileWriter(FileWriter):
    """Through the page cache, pushing data to disk in the background while the upload goes on.

    Without the pushes the kernel keeps a whole image dirty in memory and the final fsync writes it
    all at once, after the upload; flushing every FLUSH_EVERY bytes overlaps the disk with the network.
    """

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self.unflushed = 0
        self.flusher: threading.Thread | None = None

    def write(self, chunk: Chunk) -> None:
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


def open_for_reading(path: os.PathLike[str] | str) -> int:
    """A descriptor for reading `path`, with O_DIRECT when the filesystem takes it."""
    fd = os.open(path, os.O_RDONLY)
    _try_direct_io(fd)
    return fd


def _try_direct_io(fd: int) -> bool:
    """Switch `fd` to O_DIRECT; False where the filesystem refuses it (some network filesystems)."""
    direct = getattr(os, "O_DIRECT", 0)
    if not direct:
        return False
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | direct)
    except OSError:
        return False
    return True


def read_chunks(fd: int, offset: int, length: int | None, chunk_size: int) -> Iterator[bytes]:
    """The bytes [offset, offset+length) (to the end when length is None) in chunks of at most
    chunk_size (a multiple of ALIGNMENT); closes `fd` when done."""
    try:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0):
            yield from _direct_chunks(fd, offset, length, chunk_size)
        else:
            yield from _buffered_chunks(fd, offset, length, chunk_size)
    finally:
        os.close(fd)


def _direct_chunks(fd: int, offset: int, length: int | None, chunk_size: int) -> Iterator[bytes]:
    # Direct reads get no readahead from the kernel: a reader thread keeps READ_AHEAD chunks in
    # flight so the disk works while the consumer sends the previous ones.
    first = offset - offset % ALIGNMENT
    end = None if length is None else offset + length
    buffer = mmap.mmap(-1, chunk_size)  # one thread reads, copying out before the next read

    def read(position: int) -> bytes:
        return buffer[: os.preadv(fd, [buffer], position)]

    reader = ThreadPoolExecutor(1, thread_name_prefix="image-read")
    try:
        ahead: deque[tuple[int, Future[bytes]]] = deque()
        scheduled = first
        while True:
            while len(ahead) < READ_AHEAD and (end is None or scheduled < end):
                ahead.append((scheduled, reader.submit(read, scheduled)))
                scheduled += chunk_size
            if not ahead:
                return
            position, reading = ahead.popleft()
            data = reading.result()
            low = max(offset - position, 0)
            high = len(data) if end is None else min(len(data), end - position)
            if high > low:
                yield data if (low, high) == (0, len(data)) else data[low:high]
            if len(data) < chunk_size:
                return  # the end of the file
    finally:
        reader.shutdown(cancel_futures=True)
        buffer.close()


def _buffered_chunks(fd: int, offset: int, length: int | None, chunk_size: int) -> Iterator[bytes]:
    with contextlib.suppress(OSError, AttributeError):
        os.posix_fadvise(fd, offset, length or 0, os.POSIX_FADV_SEQUENTIAL)
    remaining = length
    while remaining is None or remaining > 0:
        chunk = os.pread(fd, chunk_size if remaining is None else min(chunk_size, remaining), offset)
        if not chunk:
            return
        offset += len(chunk)
        if remaining is not None:
            remaining -= len(chunk)
        yield chunk
