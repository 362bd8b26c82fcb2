"""The backup engine against the fake volume driver's real bytes and the real filesystem store."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest

from overcast.image.stores import FilesystemStore
from overcast.volume.backup import BackupCorrupt, BackupEngine, BackupSettings, Manifest, build_backup_store
from overcast.volume.drivers.fake import FakeVolumeDriver
from tests.unit.volume.driver_contract import read_at, write_at

CHUNK = 256 * 1024
SIZE = 1024**3


@pytest.fixture
def driver(tmp_path: Path) -> FakeVolumeDriver:
    driver = FakeVolumeDriver(tmp_path / "pool")
    driver.init_host("vol1")
    return driver


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(tmp_path / "backups")


@pytest.fixture
def engine(store: FilesystemStore) -> BackupEngine:
    return BackupEngine(store, chunk_size=CHUNK, compression="zlib", workers=2)


def backup(engine: BackupEngine, driver: FakeVolumeDriver, backup_id: str, volume_id: str,
           parent: Manifest | None = None) -> tuple[Manifest, str]:  # fmt: skip
    with driver.open_volume(volume_id, writable=False) as source:
        return engine.backup(backup_id, volume_id, source, driver.volume_size(volume_id), parent)


def stored_path(location: str | None) -> Path:
    assert location is not None and location.startswith("file://")
    return Path(location[len("file://") :])


def stored_files(store: FilesystemStore) -> set[str]:
    return {path.name for path in store.directory.iterdir()}


def test_full_backup_stores_only_data_chunks_and_restores_the_same_bytes(
    engine: BackupEngine, driver: FakeVolumeDriver, store: FilesystemStore
) -> None:
    driver.create_volume("vol-a", 1)
    text = b"overcast backup " * 1000
    random = os.urandom(CHUNK + 17)
    write_at(driver, "vol-a", 0, text)
    write_at(driver, "vol-a", 100 * CHUNK + 5, random)
    write_at(driver, "vol-a", SIZE - 3, b"end")

    manifest, location = backup(engine, driver, "bk-1", "vol-a")

    assert len(manifest.chunks) == SIZE // CHUNK
    assert [chunk.index for chunk in manifest.owned()] == [0, 100, 101, SIZE // CHUNK - 1]
    assert manifest.object_count == 5
    assert len(stored_files(store)) == 5
    first = manifest.chunks[0]
    assert first.compression == "zlib" and os.path.getsize(stored_path(first.location)) < CHUNK // 10
    # Random bytes do not shrink: stored plain rather than bigger.
    assert manifest.chunks[100].compression == "none"
    assert engine.read_manifest(location) == manifest

    driver.create_volume("vol-b", 2)
    with driver.open_volume("vol-b", writable=True) as target:
        engine.restore(manifest, target, target_is_zeroed=True)
    assert read_at(driver, "vol-b", 0, len(text)) == text
    assert read_at(driver, "vol-b", 100 * CHUNK + 5, len(random)) == random
    assert read_at(driver, "vol-b", SIZE - 3, 3) == b"end"
    assert read_at(driver, "vol-b", SIZE, 16) == bytes(16)


def test_incremental_stores_changed_chunks_and_each_backup_restores_its_own_state(
    engine: BackupEngine, driver: FakeVolumeDriver, store: FilesystemStore
) -> None:
    driver.create_volume("vol-a", 1)
    write_at(driver, "vol-a", 0, b"A" * (3 * CHUNK))
    full, _ = backup(engine, driver, "bk-full", "vol-a")
    write_at(driver, "vol-a", CHUNK + 10, b"changed")
    write_at(driver, "vol-a", 50 * CHUNK, b"new data")

    incremental, _ = backup(engine, driver, "bk-inc", "vol-a", parent=full)

    assert incremental.parent_id == "bk-full"
    assert [chunk.index for chunk in incremental.owned()] == [1, 50]
    assert incremental.chunks[0] == full.chunks[0] and incremental.chunks[0].owner == "bk-full"

    # Both restores onto one volume holding other bytes: zero chunks are written too.
    driver.create_volume("vol-r", 1)
    write_at(driver, "vol-r", 50 * CHUNK, b"junk" * 100)
    with driver.open_volume("vol-r", writable=True) as target:
        engine.restore(full, target)
    assert read_at(driver, "vol-r", 0, 3 * CHUNK) == b"A" * (3 * CHUNK)
    assert read_at(driver, "vol-r", 50 * CHUNK, 400) == bytes(400)
    with driver.open_volume("vol-r", writable=True) as target:
        engine.restore(incremental, target)
    assert read_at(driver, "vol-r", 0, 51 * CHUNK) == read_at(driver, "vol-a", 0, 51 * CHUNK)


def test_restore_refuses_a_chunk_whose_bytes_changed_in_the_store(
    engine: BackupEngine, driver: FakeVolumeDriver
) -> None:
    driver.create_volume("vol-a", 1)
    write_at(driver, "vol-a", 0, b"precious" * 100)
    manifest, _ = backup(engine, driver, "bk-1", "vol-a")
    chunk_file = stored_path(manifest.chunks[0].location)
    # A well-formed zlib stream of other bytes of the same length: only the hash can tell.
    forged = bytearray(b"precious" * 100 + bytes(CHUNK - 800))
    forged[0] = ord("P")
    chunk_file.write_bytes(zlib.compress(bytes(forged)))

    driver.create_volume("vol-b", 1)
    with driver.open_volume("vol-b", writable=True) as target, pytest.raises(BackupCorrupt, match="sha256"):
        engine.restore(manifest, target, target_is_zeroed=True)

    chunk_file.unlink()
    with driver.open_volume("vol-b", writable=True) as target, pytest.raises(BackupCorrupt, match="gone"):
        engine.restore(manifest, target, target_is_zeroed=True)


def test_delete_removes_only_what_the_backup_owns(
    engine: BackupEngine, driver: FakeVolumeDriver, store: FilesystemStore
) -> None:
    driver.create_volume("vol-a", 1)
    write_at(driver, "vol-a", 0, b"B" * (2 * CHUNK))
    full, full_location = backup(engine, driver, "bk-full", "vol-a")
    write_at(driver, "vol-a", 0, b"C")
    _, inc_location = backup(engine, driver, "bk-inc", "vol-a", parent=full)
    full_files = stored_files(store) - {n for n in stored_files(store) if n.startswith("bk-inc")}

    engine.delete("bk-inc", inc_location)

    assert stored_files(store) == full_files
    engine.delete("bk-inc", inc_location)  # again: nothing left to remove is fine
    engine.delete("bk-full", full_location)
    assert stored_files(store) == set()


def test_a_failed_backup_leaves_nothing_behind(driver: FakeVolumeDriver, store: FilesystemStore) -> None:
    class FailingStore(FilesystemStore):
        added = 0

        def add(self, image_id, chunks):  # type: ignore[no-untyped-def]
            FailingStore.added += 1
            if FailingStore.added == 3:
                raise OSError("disk full")
            return super().add(image_id, chunks)

    engine = BackupEngine(FailingStore(store.directory), chunk_size=CHUNK, workers=1)
    driver.create_volume("vol-a", 1)
    write_at(driver, "vol-a", 0, os.urandom(5 * CHUNK))
    with pytest.raises(OSError, match="disk full"):
        backup(engine, driver, "bk-1", "vol-a")
    assert stored_files(store) == set()


def test_a_parent_of_another_chunk_size_means_a_complete_copy(
    engine: BackupEngine, driver: FakeVolumeDriver
) -> None:
    driver.create_volume("vol-a", 1)
    write_at(driver, "vol-a", 0, b"D" * CHUNK)
    other = BackupEngine(engine.store, chunk_size=CHUNK * 2)
    parent, _ = backup(other, driver, "bk-old", "vol-a")
    incremental, _ = backup(engine, driver, "bk-new", "vol-a", parent=parent)
    assert [chunk.owner for chunk in incremental.owned()] == ["bk-new"]


def test_settings_pick_the_filesystem_store_below_the_data_directory(tmp_path: Path) -> None:
    store = build_backup_store(BackupSettings(), tmp_path)
    assert isinstance(store, FilesystemStore) and store.directory == tmp_path / "backups"
    with pytest.raises(Exception, match="compression"):
        BackupEngine(store, chunk_size=CHUNK, compression="lz4")
