"""Backup and restore of a volume's bytes through an image store, chunk by chunk.

A volume is read in fixed chunks. A chunk of zeros (a hole in a sparse volume, found with SEEK_DATA
when the source is a real file, or read as zeros) is recorded and not stored; any other chunk is
hashed (sha256 of its plain bytes), compressed (kept plain when that does not shrink it) and stored
as one object. An incremental backup stores only the chunks whose hash differs from its parent's.
Restore verifies every chunk's hash before writing it.
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import hashlib
import os
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from overcast import errors
from overcast.image.stores import Store, StoreNotFound
from overcast.volume.backup.manifest import ChunkRecord, Manifest

# Fast levels: a backup is bounded by reading and storing, not by the last percent of ratio.
_COMPRESSORS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "zlib": (lambda data: zlib.compress(data, 1), zlib.decompress),
    "bz2": (lambda data: bz2.compress(data, 1), bz2.decompress),
    "none": (bytes, bytes),
}


# A chunk whose first _SAMPLE bytes do not shrink below this ratio is stored plain.
_SAMPLE = 256 * 1024
_INCOMPRESSIBLE = 0.97


class BackupCorrupt(errors.Conflict):
    default_message = "The backup's data does not match its manifest."


def chunk_name(backup_id: str, index: int) -> str:
    # "<backup>.<...>" so the filesystem store's delete_partial(backup_id) also finds chunks a dead
    # process left half-written.
    return f"{backup_id}.chunk-{index:08d}"


def manifest_name(backup_id: str) -> str:
    return f"{backup_id}.manifest"


class BackupEngine:
    def __init__(self, store: Store, *, chunk_size: int, compression: str = "zlib", workers: int = 2) -> None:
        if compression not in _COMPRESSORS:
            raise errors.BadRequest(f"Unknown backup compression {compression!r}.")
        if chunk_size <= 0:
            raise errors.BadRequest("The backup chunk size must be positive.")
        self.store = store
        self.chunk_size = chunk_size
        self.compression = compression
        self.workers = max(1, workers)
        self._zeros = bytes(chunk_size)

    # --- backup -----------------------------------------------------------------------------------
    def backup(
        self,
        backup_id: str,
        volume_id: str,
        source: BinaryIO,
        size_bytes: int,
        parent: Manifest | None = None,
    ) -> tuple[Manifest, str]:
        """Store `size_bytes` of `source`; return the manifest and where it is stored.

        With a `parent`, chunks whose hash is unchanged point at the parent's objects. If anything
        fails, what this backup stored so far is removed and the error propagates.
        """
        previous = self._comparable(parent)
        manifest = Manifest(
            backup_id=backup_id,
            volume_id=volume_id,
            parent_id=parent.backup_id if parent else None,
            size_bytes=size_bytes,
            chunk_size=self.chunk_size,
        )
        in_flight: deque[Future[ChunkRecord]] = deque()
        try:
            with ThreadPoolExecutor(self.workers, thread_name_prefix=f"backup-{backup_id[:8]}") as pool:
                for index, data in self._read_chunks(source, size_bytes):
                    in_flight.append(
                        pool.submit(self._store_chunk, backup_id, index, data, previous.get(index))
                    )
                    # Bounded so memory holds a few chunks, not the volume.
                    while len(in_flight) > self.workers * 2:
                        manifest.chunks.append(in_flight.popleft().result())
                while in_flight:
                    manifest.chunks.append(in_flight.popleft().result())
            location = self.store.add(manifest_name(backup_id), [manifest.to_json()])
        except BaseException:
            # The pool has finished what was in flight: those chunks are stored too.
            manifest.chunks.extend(
                future.result()
                for future in in_flight
                if not future.cancelled() and future.exception() is None
            )
            self._remove_owned(backup_id, manifest)
            raise
        return manifest, location

    def _comparable(self, parent: Manifest | None) -> dict[int, ChunkRecord]:
        # Chunks of another size cover other byte ranges: nothing to compare, a full copy it is.
        if parent is None or parent.chunk_size != self.chunk_size:
            return {}
        return {chunk.index: chunk for chunk in parent.chunks}

    def _read_chunks(self, source: BinaryIO, size_bytes: int) -> Iterator[tuple[int, bytes | None]]:
        """(index, bytes) per chunk, bytes None for a chunk that is all hole."""
        fileno = file_descriptor(source)
        for index, offset in enumerate(range(0, size_bytes, self.chunk_size)):
            length = min(self.chunk_size, size_bytes - offset)
            if fileno is not None and is_hole(fileno, offset, length):
                yield index, None
                continue
            source.seek(offset)
            data = source.read(length)
            if len(data) != length:
                raise errors.Conflict(
                    f"The volume ended at byte {offset + len(data)}, before its size {size_bytes}."
                )
            yield index, data

    def _store_chunk(
        self, backup_id: str, index: int, data: bytes | None, previous: ChunkRecord | None
    ) -> ChunkRecord:
        length = self.chunk_size if data is None else len(data)
        if data is None or data == self._zeros[:length]:
            return ChunkRecord(index=index, sha256=_zero_hash(length), length=length, location=None, owner="")
        digest = hashlib.sha256(data).hexdigest()
        if previous is not None and previous.sha256 == digest and previous.length == length:
            return previous
        packed, compression = self._pack(data)
        location = self.store.add(chunk_name(backup_id, index), [packed])
        return ChunkRecord(
            index=index,
            sha256=digest,
            length=length,
            location=location,
            owner=backup_id,
            compression=compression,
        )

    def _pack(self, data: bytes) -> tuple[bytes, str]:
        """The chunk compressed, or plain when compression would not pay (judged on a sample first:
        compressing random or already compressed bytes costs the most and gains nothing)."""
        compress = _COMPRESSORS[self.compression][0]
        if self.compression != "none" and len(data) > 2 * _SAMPLE:
            sample = data[:_SAMPLE]
            if len(compress(sample)) >= _INCOMPRESSIBLE * len(sample):
                return data, "none"
        packed = compress(data)
        if len(packed) >= len(data):
            return data, "none"
        return packed, self.compression

    # --- restore ----------------------------------------------------------------------------------
    def read_manifest(self, location: str) -> Manifest:
        try:
            return Manifest.from_json(b"".join(self.store.read(location)))
        except StoreNotFound:
            raise BackupCorrupt(f"The backup's manifest at {location} is gone.") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupCorrupt(f"The backup's manifest at {location} is unreadable: {exc}") from None

    def restore(self, manifest: Manifest, target: BinaryIO, *, target_is_zeroed: bool = False) -> None:
        """Write the backup's bytes to the start of `target`, verifying each chunk's hash.

        Zero chunks are written as zeros unless `target_is_zeroed` (a new, empty volume) or the
        target is a sparse file with a hole there.
        """
        with ThreadPoolExecutor(self.workers, thread_name_prefix=f"restore-{manifest.backup_id[:8]}") as pool:
            in_flight: deque[tuple[ChunkRecord, Future[bytes]]] = deque()
            fileno = file_descriptor(target)
            for chunk in manifest.chunks:
                if chunk.is_zero:
                    offset = chunk.index * manifest.chunk_size
                    already_zero = target_is_zeroed or (
                        fileno is not None and is_hole(fileno, offset, chunk.length)
                    )
                    if not already_zero:
                        in_flight.append((chunk, pool.submit(bytes, chunk.length)))
                else:
                    in_flight.append((chunk, pool.submit(self._load_chunk, chunk)))
                while len(in_flight) > self.workers * 2:
                    self._write(target, manifest, *in_flight.popleft())
            while in_flight:
                self._write(target, manifest, *in_flight.popleft())
        target.flush()

    def _write(self, target: BinaryIO, manifest: Manifest, chunk: ChunkRecord, loaded: Future[bytes]) -> None:
        target.seek(chunk.index * manifest.chunk_size)
        target.write(loaded.result())

    def _load_chunk(self, chunk: ChunkRecord) -> bytes:
        assert chunk.location is not None
        try:
            packed = b"".join(self.store.read(chunk.location))
        except StoreNotFound:
            raise BackupCorrupt(f"Chunk {chunk.index} of the backup is gone from the store.") from None
        try:
            data = _COMPRESSORS[chunk.compression][1](packed)
        except (KeyError, OSError, ValueError, zlib.error) as exc:
            raise BackupCorrupt(f"Chunk {chunk.index} of the backup cannot be decompressed: {exc}") from None
        if len(data) != chunk.length or hashlib.sha256(data).hexdigest() != chunk.sha256:
            raise BackupCorrupt(f"Chunk {chunk.index} of the backup does not match its sha256.")
        return data

    # --- delete -----------------------------------------------------------------------------------
    def delete(self, backup_id: str, manifest_location: str | None) -> None:
        """Remove the objects the backup owns and its manifest (an ancestor's stay); idempotent."""
        manifest = None
        if manifest_location:
            with contextlib.suppress(BackupCorrupt):
                manifest = self.read_manifest(manifest_location)
        if manifest is not None:
            self._remove_owned(backup_id, manifest)
        if manifest_location:
            self.store.delete(manifest_location)
        # A backup that died mid-way has no manifest: what its process was writing goes too.
        self.store.delete_partial(backup_id)

    def _remove_owned(self, backup_id: str, manifest: Manifest) -> None:
        for chunk in manifest.chunks:
            if chunk.owner == backup_id and chunk.location:
                with contextlib.suppress(StoreNotFound):
                    self.store.delete(chunk.location)


def file_descriptor(source: BinaryIO) -> int | None:
    try:
        return source.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def is_hole(fileno: int, offset: int, length: int) -> bool:
    """Whether [offset, offset+length) of a sparse file holds no data (False when it cannot tell)."""
    if not hasattr(os, "SEEK_DATA"):
        return False
    # A buffered file object trusts the descriptor's position to be where it left it.
    position = os.lseek(fileno, 0, os.SEEK_CUR)
    try:
        next_data = os.lseek(fileno, offset, os.SEEK_DATA)
    except OSError as exc:
        # ENXIO: no data at or after offset, so the rest of the file is a hole.
        return exc.errno == errno.ENXIO
    finally:
        os.lseek(fileno, position, os.SEEK_SET)
    return next_data >= offset + length


_ZERO_HASHES: dict[int, str] = {}


def _zero_hash(length: int) -> str:
    if length not in _ZERO_HASHES:
        _ZERO_HASHES[length] = hashlib.sha256(bytes(length)).hexdigest()
    return _ZERO_HASHES[length]
