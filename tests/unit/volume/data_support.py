"""A VolumeAPI whose volume host is in-process: the fake driver holding real bytes, the backup engine on a
filesystem store, and DataActions answering the snapshot and backup casts at once (as the manager would)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.volume import Volume
from overcast.image.stores import FilesystemStore
from overcast.volume import states
from overcast.volume.api.service import VolumeAPI
from overcast.volume.backup import BackupEngine
from overcast.volume.data_actions import DataActions
from overcast.volume.drivers.fake import FakeVolumeDriver
from tests.unit.volume.driver_contract import read_at, write_at
from tests.unit.volume.volume_api_support import HOST, RecordingHosts, register_volume_host, volume_api

CHUNK = 1024 * 1024


@dataclass
class InProcessHost(RecordingHosts):
    """Runs what the API casts on an in-process volume host right away."""

    data: DataActions | None = None
    driver: FakeVolumeDriver | None = None
    paused: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    hold: bool = False

    def _run(self, name: str, *args: Any) -> None:
        self.messages.append((name, HOST, {"args": args}))
        if self.hold:
            self.paused.append((name, args))
            return
        getattr(self.data, name)(RequestContext.admin(), *args)

    def release(self) -> None:
        """Deliver the held casts (a slow volume host catching up)."""
        self.hold = False
        for name, args in self.paused:
            getattr(self.data, name)(RequestContext.admin(), *args)
        self.paused.clear()

    def create_volume(self, ctxt: RequestContext, host: str, volume_id: str, source: dict[str, Any]) -> None:
        super().create_volume(ctxt, host, volume_id, source)
        assert self.data is not None and self.driver is not None
        with self.data.cloud.db.reader() as session:
            volume = session.get(Volume, volume_id)
            assert volume is not None
        if source.get("snapshot_id"):
            self.driver.create_volume_from_snapshot(source["snapshot_id"], volume_id, volume.size)
        else:
            self.driver.create_volume(volume_id, volume.size)
        if source.get("backup_id"):
            try:
                self.data.restore_into(source["backup_id"], volume_id, target_is_zeroed=True)
            finally:
                self.data.finish_restore_of_new_volume(source["backup_id"])
        self.data.cloud.db.write(
            lambda s: states.change_status(s, volume_id, {states.CREATING}, states.AVAILABLE)
        )

    def create_snapshot(self, ctxt: RequestContext, host: str, snapshot_id: str) -> None:
        self._run("create_snapshot", snapshot_id)

    def delete_snapshot(self, ctxt: RequestContext, host: str, snapshot_id: str) -> None:
        self._run("delete_snapshot", snapshot_id)

    def revert_to_snapshot(self, ctxt: RequestContext, host: str, volume_id: str, snapshot_id: str) -> None:
        self._run("revert_to_snapshot", volume_id, snapshot_id)

    def create_backup(self, ctxt: RequestContext, host: str, backup_id: str) -> None:
        self._run("create_backup", backup_id)

    def restore_backup(self, ctxt: RequestContext, host: str, backup_id: str, volume_id: str) -> None:
        self._run("restore_backup", backup_id, volume_id)

    def delete_backup(self, ctxt: RequestContext, host: str, backup_id: str) -> None:
        self._run("delete_backup", backup_id)


def in_process_cloud(db: Database, tmp_path: Path) -> tuple[VolumeAPI, InProcessHost]:
    register_volume_host(db)
    host = InProcessHost()
    api = volume_api(db, tmp_path, host)
    host.driver = FakeVolumeDriver(tmp_path / "pool")
    host.driver.init_host(HOST)
    engine = BackupEngine(FilesystemStore(tmp_path / "backups"), chunk_size=CHUNK)
    host.data = DataActions(api.cloud, HOST, host.driver, engine)
    return api, host


def write_volume(host: InProcessHost, volume_id: str, offset: int, data: bytes) -> None:
    assert host.driver is not None
    write_at(host.driver, volume_id, offset, data)


def read_volume(host: InProcessHost, volume_id: str, offset: int, length: int) -> bytes:
    assert host.driver is not None
    return read_at(host.driver, volume_id, offset, length)


def usage(api: VolumeAPI, project: str | None) -> dict[str, int]:
    with api.db.reader() as session:
        return api.quota_engine.get_usage(session, project or "")
