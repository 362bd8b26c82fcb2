"""The fake volume driver: real bytes in a pool directory's sparse files, exports only remembered.

Backups, restores, image copies and uploads really move data with it; an attachment's connection_info
is `{"driver_volume_type": "fake", "data": {"volume_id"}}`, which the fake virt driver accepts. A test
can fail the next operations of a kind (`fail_next`) to drive the manager's error paths.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from overcast.volume.drivers.base import VolumeDriverError, VolumeMissing
from overcast.volume.drivers.filepool import FilePoolDriver, checked_id


class FakeVolumeDriver(FilePoolDriver):
    driver_volume_type = "fake"
    storage_protocol = "fake"

    def __init__(self, pool_dir: Path) -> None:
        super().__init__(pool_dir)
        self._exports: dict[str, dict[str, Any]] = {}
        self._failures: Counter[str] = Counter()
        self._lock = threading.Lock()

    def fail_next(self, operation: str, times: int = 1) -> None:
        """Make the next `times` calls of `operation` (a method name) raise VolumeDriverError."""
        with self._lock:
            self._failures[operation] += times

    def _maybe_fail(self, operation: str) -> None:
        with self._lock:
            if self._failures[operation] > 0:
                self._failures[operation] -= 1
                raise VolumeDriverError(f"The fake driver was told to fail {operation}.")

    def init_host(self, host: str) -> None:
        self._prepare_pool()

    def create_volume(self, volume_id: str, size_gb: int) -> None:
        self._maybe_fail("create_volume")
        super().create_volume(volume_id, size_gb)

    def delete_volume(self, volume_id: str) -> None:
        self._maybe_fail("delete_volume")
        super().delete_volume(volume_id)

    def extend_volume(self, volume_id: str, size_gb: int) -> None:
        self._maybe_fail("extend_volume")
        super().extend_volume(volume_id, size_gb)

    def create_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        self._maybe_fail("create_snapshot")
        super().create_snapshot(volume_id, snapshot_id)

    def export(
        self, attachment_id: str, volume_id: str, connector: dict[str, Any], *, read_only: bool = False
    ) -> dict[str, Any]:
        self._maybe_fail("export")
        checked_id(attachment_id)
        if not self.volume_path(volume_id).exists():
            raise VolumeMissing(f"Volume {volume_id} has no storage in {self.pool_dir}.")
        with self._lock:
            self._exports[attachment_id] = {
                "volume_id": volume_id,
                "connector": dict(connector),
                "read_only": read_only,
            }
        return {"driver_volume_type": self.driver_volume_type, "data": {"volume_id": volume_id}}

    def unexport(self, attachment_id: str) -> None:
        with self._lock:
            self._exports.pop(attachment_id, None)

    def exports(self) -> set[str]:
        with self._lock:
            return set(self._exports)

    def exported_read_only(self, attachment_id: str) -> bool:
        with self._lock:
            return bool(self._exports.get(attachment_id, {}).get("read_only"))

    def exported_volume(self, attachment_id: str) -> str | None:
        with self._lock:
            export = self._exports.get(attachment_id)
        return None if export is None else str(export["volume_id"])
