"""The volume driver interface: what the volume service asks of one host's storage pool.

A volume is `size_gb` GiB of bytes named by the volume's id; a snapshot is a frozen copy of one, named
by the snapshot's id. Each attachment of a volume to a VM gets its own export (`export`), which hands
back the connection_info `data` the compute host connects with; `unexport` removes it. Removing what is
absent is fine everywhere, so a retried delete or detach after a crash converges.

Image copies, uploads and backups read and write volume bytes through `open_volume` and
`open_snapshot`, so they work with every driver.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from overcast import errors

GiB = 1024**3
# Copies move this much at a time: big enough for sequential speed, small enough to stay off the heap.
COPY_CHUNK = 4 * 1024 * 1024


class VolumeDriverError(errors.OvercastError):
    default_message = "The volume driver failed."


class VolumeMissing(VolumeDriverError):
    default_message = "The volume's storage does not exist on this host."


class SnapshotMissing(VolumeDriverError):
    default_message = "The snapshot's storage does not exist on this host."


class PoolFull(VolumeDriverError):
    default_message = "The storage pool has not enough free space."


@dataclass(frozen=True)
class PoolCapacity:
    """What the pool can hold and has free, in GiB (what the scheduler places new volumes by)."""

    total_gb: float
    free_gb: float


class VolumeDriver(ABC):
    # The driver_volume_type of the connection_info its exports return (Cinder's spelling).
    driver_volume_type: str = ""
    # What the backend says of itself in Cinder's capabilities (GET /capabilities/{host}): how a host
    # reaches its volumes (Cinder's spelling: iSCSI, ...), the driver's version, and whether a volume
    # takes space only as it is written.
    storage_protocol: str = ""
    driver_version: str = "1.0.0"
    thin_provisioning: bool = False

    @abstractmethod
    def init_host(self, host: str) -> None:
        """Ready the pool (and the export daemon, if any) and re-create the exports it held."""

    def cleanup_host(self) -> None:  # noqa: B027 (an optional hook: most drivers run nothing of their own)
        """The service is stopping: release what this process runs (exports may stay)."""

    @abstractmethod
    def capacity(self) -> PoolCapacity: ...

    @abstractmethod
    def create_volume(self, volume_id: str, size_gb: int) -> None:
        """An all-zero volume of `size_gb` GiB."""

    @abstractmethod
    def delete_volume(self, volume_id: str) -> None:
        """Remove the volume's storage (absent is fine)."""

    @abstractmethod
    def extend_volume(self, volume_id: str, size_gb: int) -> None:
        """Grow the volume to `size_gb` GiB, the new bytes zero; its exports serve the new size."""

    @abstractmethod
    def clone_volume(self, source_id: str, volume_id: str, size_gb: int) -> None:
        """A new volume holding the source's bytes, grown to `size_gb` GiB."""

    @abstractmethod
    def create_snapshot(self, volume_id: str, snapshot_id: str) -> None: ...

    @abstractmethod
    def delete_snapshot(self, snapshot_id: str) -> None:
        """Remove the snapshot's storage (absent is fine)."""

    @abstractmethod
    def create_volume_from_snapshot(self, snapshot_id: str, volume_id: str, size_gb: int) -> None: ...

    @abstractmethod
    def volume_size(self, volume_id: str) -> int:
        """The volume's size in bytes (VolumeMissing if it has no storage here)."""

    @abstractmethod
    def open_volume(self, volume_id: str, writable: bool) -> contextlib.AbstractContextManager[BinaryIO]:
        """A seekable binary file over the volume's bytes (the caller writes only within its size)."""

    @abstractmethod
    def open_snapshot(self, snapshot_id: str) -> contextlib.AbstractContextManager[BinaryIO]: ...

    @abstractmethod
    def export(
        self, attachment_id: str, volume_id: str, connector: dict[str, Any], *, read_only: bool = False
    ) -> dict[str, Any]:
        """Export the volume to the connector's initiator for one attachment (refusing writes when
        `read_only`); returns connection_info (`driver_volume_type` and `data`). Exporting an attachment
        again returns the same credentials."""

    @abstractmethod
    def unexport(self, attachment_id: str) -> None:
        """Remove the attachment's export (absent is fine)."""

    @abstractmethod
    def exports(self) -> set[str]:
        """The ids of the attachments exported now."""

    def repair_exports(self) -> None:  # noqa: B027 (only drivers with an export daemon have drift to repair)
        """Make the export daemon hold every export again (one removed behind the driver's back)."""

    def local_path(self, volume_id: str) -> Path | None:
        """The file holding the volume, when it is one on this host (tools like qemu-img then work on it
        in place); None otherwise."""
        return None

    def write_volume_from(self, volume_id: str, source: BinaryIO) -> None:
        """Copy a raw byte stream onto the start of the volume, leaving runs of zeros unwritten when the
        volume was all zeros (drivers with sparse storage keep their holes)."""
        with self.open_volume(volume_id, writable=True) as target:
            copy_stream(source, target, skip_zeros=True)


def copy_stream(source: BinaryIO, target: BinaryIO, *, skip_zeros: bool = False) -> int:
    """Copy `source` to `target` in COPY_CHUNK pieces; with `skip_zeros`, all-zero chunks are seeked
    over instead of written (the target must already read zeros there)."""
    copied = 0
    zero = bytes(COPY_CHUNK)
    while True:
        chunk = source.read(COPY_CHUNK)
        if not chunk:
            break
        if skip_zeros and chunk == zero[: len(chunk)]:
            target.seek(len(chunk), 1)
        else:
            target.write(chunk)
        copied += len(chunk)
    return copied
