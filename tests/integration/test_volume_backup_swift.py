"""Volume backups in a real Swift: the backup engine through the image service's Swift store, as
OVERCAST_BACKUP_STORE=swift builds it, backing up, incrementally backing up, restoring and deleting a
fake-driver volume's bytes, leaving no object behind."""

from __future__ import annotations

import os
from pathlib import Path

from overcast.image.settings import ImageSettings
from overcast.image.stores import SwiftStore
from overcast.volume.backup import BackupEngine, BackupSettings, build_backup_store
from overcast.volume.drivers.fake import FakeVolumeDriver
from tests.support.swift import KEY, USER, SwiftCluster
from tests.unit.volume.driver_contract import read_at, write_at

MIB = 1024 * 1024


def objects(store: SwiftStore) -> set[str]:
    found: set[str] = set()
    for container in (store.container, store.segment_container):
        response = store._request("GET", container, params={"format": "json"})
        if response.status_code != 404:
            found |= {f"{container}/{item['name']}" for item in response.json()}
    return found


def test_backups_round_trip_through_swift(swift: SwiftCluster, tmp_path: Path) -> None:
    settings = BackupSettings(store="swift", swift_container="volume-backups", chunk_size=MIB)
    credentials = ImageSettings(swift_auth_url=swift.auth_url, swift_user=USER, swift_key=KEY)
    store = build_backup_store(settings, tmp_path, credentials)
    assert isinstance(store, SwiftStore)
    engine = BackupEngine(store, chunk_size=settings.chunk_size, compression="zlib")
    driver = FakeVolumeDriver(tmp_path / "pool")
    driver.init_host("volume-1")
    driver.create_volume("vol", 1)
    first = os.urandom(2 * MIB) + b"text " * 100_000
    write_at(driver, "vol", 0, first)

    with driver.open_volume("vol", writable=False) as source:
        full, full_location = engine.backup("full", "vol", source, driver.volume_size("vol"))
    write_at(driver, "vol", 300 * MIB, b"later bytes")
    with driver.open_volume("vol", writable=False) as source:
        incremental, inc_location = engine.backup("inc", "vol", source, driver.volume_size("vol"), full)
    assert [chunk.index for chunk in incremental.owned()] == [300]

    driver.create_volume("restored", 1)
    with driver.open_volume("restored", writable=True) as target:
        engine.restore(incremental, target, target_is_zeroed=True)
    assert read_at(driver, "restored", 0, len(first)) == first
    assert read_at(driver, "restored", 300 * MIB, 11) == b"later bytes"

    engine.delete("inc", inc_location)
    engine.delete("full", full_location)
    assert objects(store) == set()
