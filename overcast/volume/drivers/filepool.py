"""Volumes as sparse raw files in one pool directory, the storage half of the fake and iSCSI drivers.

`<pool>/volume-<id>` holds a volume, `<pool>/snapshot-<id>` a snapshot. Copies (snapshots, clones)
walk the source's data extents with SEEK_DATA/SEEK_HOLE and leave its holes unwritten, so a 1 GiB
volume holding 10 MiB costs 10 MiB however often it is copied. A copy is written beside its final name
and renamed into place, so a crash leaves no half-copied volume under a real name.
"""

from __future__ import annotations

import contextlib
import os
import re
from abc import ABC
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from overcast.volume.drivers.base import (
    COPY_CHUNK,
    GiB,
    PoolCapacity,
    SnapshotMissing,
    VolumeDriver,
    VolumeDriverError,
    VolumeMissing,
)

SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def checked_id(object_id: str) -> str:
    """The id, refused when it could not be a file name inside the pool (nothing that climbs out)."""
    if not SAFE_ID.match(object_id) or object_id.startswith("."):
        raise VolumeDriverError(f"{object_id!r} is not a valid volume or snapshot id.")
    return object_id


def data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of each data run of the open file, holes skipped (the whole file where the
    filesystem cannot tell)."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError:
            # ENXIO: only a hole is left; EINVAL: the filesystem has no SEEK_DATA.
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, min(end, size) - start
        offset = end


def sparse_copy(source: Path, target: Path, size: int) -> None:
    """Copy `source` into a new file `target` of `size` bytes, keeping the source's holes."""
    partial = target.with_name(f".{target.name}.part")
    with open(source, "rb") as src, open(partial, "wb") as dst:
        source_size = os.fstat(src.fileno()).st_size
        dst.truncate(size)
        for start, length in data_extents(src.fileno(), min(source_size, size)):
            src.seek(start)
            dst.seek(start)
            remaining = length
            while remaining:
                chunk = src.read(min(COPY_CHUNK, remaining))
                if not chunk:
                    break
                dst.write(chunk)
                remaining -= len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(partial, target)


class FilePoolDriver(VolumeDriver, ABC):
    """The storage half of a driver: volumes and snapshots as sparse files; subclasses export them."""

    thin_provisioning = True

    def __init__(self, pool_dir: Path) -> None:
        self.pool_dir = Path(pool_dir)

    def _prepare_pool(self) -> None:
        self.pool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for partial in self.pool_dir.glob(".*.part"):
            partial.unlink(missing_ok=True)

    def volume_path(self, volume_id: str) -> Path:
        return self.pool_dir / f"volume-{checked_id(volume_id)}"

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self.pool_dir / f"snapshot-{checked_id(snapshot_id)}"

    def _existing_volume(self, volume_id: str) -> Path:
        path = self.volume_path(volume_id)
        if not path.exists():
            raise VolumeMissing(f"Volume {volume_id} has no storage in {self.pool_dir}.")
        return path

    def _existing_snapshot(self, snapshot_id: str) -> Path:
        path = self.snapshot_path(snapshot_id)
        if not path.exists():
            raise SnapshotMissing(f"Snapshot {snapshot_id} has no storage in {self.pool_dir}.")
        return path

    def capacity(self) -> PoolCapacity:
        stats = os.statvfs(self.pool_dir)
        return PoolCapacity(
            total_gb=round(stats.f_blocks * stats.f_frsize / GiB, 2),
            free_gb=round(stats.f_bavail * stats.f_frsize / GiB, 2),
        )

    def create_volume(self, volume_id: str, size_gb: int) -> None:
        path = self.volume_path(volume_id)
        partial = path.with_name(f".{path.name}.part")
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.truncate(size_gb * GiB)
        os.replace(partial, path)

    def delete_volume(self, volume_id: str) -> None:
        self.volume_path(volume_id).unlink(missing_ok=True)

    def extend_volume(self, volume_id: str, size_gb: int) -> None:
        path = self._existing_volume(volume_id)
        if path.stat().st_size > size_gb * GiB:
            raise VolumeDriverError(f"Volume {volume_id} is bigger than {size_gb} GiB: volumes only grow.")
        os.truncate(path, size_gb * GiB)

    def clone_volume(self, source_id: str, volume_id: str, size_gb: int) -> None:
        self._copy_grown(self._existing_volume(source_id), self.volume_path(volume_id), size_gb)

    def create_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        source = self._existing_volume(volume_id)
        sparse_copy(source, self.snapshot_path(snapshot_id), source.stat().st_size)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.snapshot_path(snapshot_id).unlink(missing_ok=True)

    def create_volume_from_snapshot(self, snapshot_id: str, volume_id: str, size_gb: int) -> None:
        self._copy_grown(self._existing_snapshot(snapshot_id), self.volume_path(volume_id), size_gb)

    def _copy_grown(self, source: Path, target: Path, size_gb: int) -> None:
        source_size = source.stat().st_size
        if size_gb * GiB < source_size:
            raise VolumeDriverError(f"{size_gb} GiB is smaller than the source ({source_size} bytes).")
        sparse_copy(source, target, size_gb * GiB)

    def local_path(self, volume_id: str) -> Path | None:
        return self._existing_volume(volume_id)

    def volume_size(self, volume_id: str) -> int:
        return self._existing_volume(volume_id).stat().st_size

    @contextlib.contextmanager
    def open_volume(self, volume_id: str, writable: bool) -> Iterator[BinaryIO]:
        path = self._existing_volume(volume_id)
        with open(path, "r+b" if writable else "rb") as handle:
            yield handle
            if writable:
                handle.flush()
                os.fsync(handle.fileno())

    @contextlib.contextmanager
    def open_snapshot(self, snapshot_id: str) -> Iterator[BinaryIO]:
        with open(self._existing_snapshot(snapshot_id), "rb") as handle:
            yield handle
