"""The fake volume driver passes the driver contract, holds its volumes as sparse files, and fails on
request so the manager's error paths can be driven."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from overcast.config import load_settings
from overcast.volume.drivers.base import GiB, VolumeDriverError
from overcast.volume.drivers.choice import (
    load_volume_driver,
    pool_dir_of,
    resolve_volume_driver_name,
    startup_line,
)
from overcast.volume.drivers.fake import FakeVolumeDriver
from tests.unit.volume.driver_contract import CONNECTOR, DriverContract, new_id, write_at


@pytest.fixture
def driver(tmp_path: Path) -> FakeVolumeDriver:
    fake = FakeVolumeDriver(tmp_path / "pool")
    fake.init_host("host-a")
    return fake


class TestFakeDriver(DriverContract):
    pass


def test_volumes_and_their_copies_stay_sparse(driver: FakeVolumeDriver) -> None:
    volume_id, clone_id, snapshot_id = new_id(), new_id(), new_id()
    driver.create_volume(volume_id, 4)
    write_at(driver, volume_id, 3 * GiB, b"x" * 65536)
    driver.clone_volume(volume_id, clone_id, 4)
    driver.create_snapshot(volume_id, snapshot_id)
    for path in (
        driver.volume_path(volume_id),
        driver.volume_path(clone_id),
        driver.snapshot_path(snapshot_id),
    ):
        assert path.stat().st_size == 4 * GiB
        assert path.stat().st_blocks * 512 < 4 * 1024 * 1024


def test_a_crash_mid_copy_leaves_no_volume_under_its_name(driver: FakeVolumeDriver) -> None:
    partial = driver.pool_dir / f".volume-{new_id()}.part"
    partial.write_bytes(b"half")
    driver.init_host("host-a")
    assert not partial.exists()


def test_fail_next_fails_that_many_calls(driver: FakeVolumeDriver) -> None:
    driver.fail_next("create_volume")
    with pytest.raises(VolumeDriverError):
        driver.create_volume(new_id(), 1)
    driver.create_volume(new_id(), 1)


def test_its_connection_info_names_the_volume(driver: FakeVolumeDriver) -> None:
    volume_id, attachment_id = new_id(), new_id()
    driver.create_volume(volume_id, 1)
    assert driver.export(attachment_id, volume_id, CONNECTOR) == {
        "driver_volume_type": "fake",
        "data": {"volume_id": volume_id},
    }
    assert driver.exported_volume(attachment_id) == volume_id


def test_pool_files_are_private(driver: FakeVolumeDriver) -> None:
    volume_id = new_id()
    driver.create_volume(volume_id, 1)
    assert driver.volume_path(volume_id).stat().st_mode & 0o077 == 0
    assert os.stat(driver.pool_dir).st_mode & 0o077 == 0


def test_auto_is_fake_without_tgt_and_the_pool_defaults_under_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    settings = load_settings(data_dir=tmp_path, compute_driver="qemu")
    assert resolve_volume_driver_name(settings) == "fake"
    assert pool_dir_of(settings) == tmp_path / "volumes"
    assert isinstance(load_volume_driver(settings, "host-a"), FakeVolumeDriver)
    assert "fake exports" in startup_line(settings) and "tgt and qemu-block-extra" in startup_line(settings)


def test_auto_is_fake_beside_the_fake_virt_driver(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, compute_driver="fake")
    assert resolve_volume_driver_name(settings) == "fake"
    assert "fake virt driver" in startup_line(settings)


def test_an_unknown_driver_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VolumeDriverError, match="Unknown volume driver"):
        load_volume_driver(load_settings(data_dir=tmp_path, volume_driver="lvm"), "host-a")
