"""The contract every volume driver passes (the fake in tests/unit/volume, iSCSI in tests/integration).

A test module subclasses `DriverContract` and provides the fixture `driver`: the driver under test,
`init_host` done, on an empty pool. Volume bytes are read back through `open_volume`/`open_snapshot`,
so the same assertions hold for every driver; a driver's own module checks its exports for real.
"""

from __future__ import annotations

import uuid

import pytest

from overcast.volume.drivers.base import GiB, SnapshotMissing, VolumeDriver, VolumeDriverError, VolumeMissing

CONNECTOR = {
    "host": "compute-1",
    "initiator": "iqn.2010-10.org.overcast:host:compute-1",
    "ip": "127.0.0.1",
    "multipath": False,
    "platform": "x86_64",
    "os_type": "linux",
}


def new_id() -> str:
    return str(uuid.uuid4())


def write_at(driver: VolumeDriver, volume_id: str, offset: int, data: bytes) -> None:
    with driver.open_volume(volume_id, writable=True) as volume:
        volume.seek(offset)
        volume.write(data)


def read_at(driver: VolumeDriver, volume_id: str, offset: int, length: int) -> bytes:
    with driver.open_volume(volume_id, writable=False) as volume:
        volume.seek(offset)
        return volume.read(length)


def read_snapshot_at(driver: VolumeDriver, snapshot_id: str, offset: int, length: int) -> bytes:
    with driver.open_snapshot(snapshot_id) as snapshot:
        snapshot.seek(offset)
        return snapshot.read(length)


class DriverContract:
    def test_the_driver_says_what_it_is(self, driver: VolumeDriver) -> None:
        assert driver.storage_protocol and driver.driver_version.count(".") == 2
        assert isinstance(driver.thin_provisioning, bool)

    def test_a_new_volume_has_its_size_and_reads_zeros(self, driver: VolumeDriver) -> None:
        volume_id = new_id()
        driver.create_volume(volume_id, 1)
        assert driver.volume_size(volume_id) == GiB
        assert read_at(driver, volume_id, 0, 4096) == bytes(4096)
        assert read_at(driver, volume_id, GiB - 4096, 4096) == bytes(4096)

    def test_written_bytes_read_back(self, driver: VolumeDriver) -> None:
        volume_id = new_id()
        driver.create_volume(volume_id, 1)
        write_at(driver, volume_id, 123 * 4096, b"overcast" * 512)
        assert read_at(driver, volume_id, 123 * 4096, 4096) == b"overcast" * 512

    def test_deleting_removes_the_volume_and_again_is_fine(self, driver: VolumeDriver) -> None:
        volume_id = new_id()
        driver.create_volume(volume_id, 1)
        driver.delete_volume(volume_id)
        with pytest.raises(VolumeMissing):
            driver.volume_size(volume_id)
        driver.delete_volume(volume_id)

    def test_extending_keeps_the_data_and_zero_fills(self, driver: VolumeDriver) -> None:
        volume_id = new_id()
        driver.create_volume(volume_id, 1)
        write_at(driver, volume_id, GiB - 5, b"tail!")
        driver.extend_volume(volume_id, 2)
        assert driver.volume_size(volume_id) == 2 * GiB
        assert read_at(driver, volume_id, GiB - 5, 10) == b"tail!" + bytes(5)
        assert read_at(driver, volume_id, 2 * GiB - 4096, 4096) == bytes(4096)

    def test_volumes_do_not_shrink(self, driver: VolumeDriver) -> None:
        volume_id = new_id()
        driver.create_volume(volume_id, 2)
        with pytest.raises(VolumeDriverError):
            driver.extend_volume(volume_id, 1)
        assert driver.volume_size(volume_id) == 2 * GiB

    def test_a_clone_is_a_copy_grown_to_its_size_and_independent(self, driver: VolumeDriver) -> None:
        source, clone = new_id(), new_id()
        driver.create_volume(source, 1)
        write_at(driver, source, 7 * 1024 * 1024, b"cloned data")
        driver.clone_volume(source, clone, 2)
        assert driver.volume_size(clone) == 2 * GiB
        assert read_at(driver, clone, 7 * 1024 * 1024, 11) == b"cloned data"
        write_at(driver, clone, 7 * 1024 * 1024, b"CHANGED")
        assert read_at(driver, source, 7 * 1024 * 1024, 11) == b"cloned data"

    def test_a_snapshot_keeps_the_bytes_of_its_moment(self, driver: VolumeDriver) -> None:
        volume_id, snapshot_id, restored = new_id(), new_id(), new_id()
        driver.create_volume(volume_id, 1)
        write_at(driver, volume_id, 4096, b"before")
        driver.create_snapshot(volume_id, snapshot_id)
        write_at(driver, volume_id, 4096, b"after!")
        assert read_snapshot_at(driver, snapshot_id, 4096, 6) == b"before"
        driver.create_volume_from_snapshot(snapshot_id, restored, 1)
        assert read_at(driver, restored, 4096, 6) == b"before"
        assert read_at(driver, volume_id, 4096, 6) == b"after!"

    def test_deleting_a_snapshot_keeps_its_volume_and_again_is_fine(self, driver: VolumeDriver) -> None:
        volume_id, snapshot_id = new_id(), new_id()
        driver.create_volume(volume_id, 1)
        driver.create_snapshot(volume_id, snapshot_id)
        driver.delete_snapshot(snapshot_id)
        with pytest.raises(SnapshotMissing):
            driver.create_volume_from_snapshot(snapshot_id, new_id(), 1)
        driver.delete_snapshot(snapshot_id)
        assert driver.volume_size(volume_id) == GiB

    def test_sources_that_do_not_exist_are_refused(self, driver: VolumeDriver) -> None:
        with pytest.raises(VolumeMissing):
            driver.clone_volume(new_id(), new_id(), 1)
        with pytest.raises(VolumeMissing):
            driver.create_snapshot(new_id(), new_id())
        with pytest.raises(VolumeMissing):
            driver.export(new_id(), new_id(), CONNECTOR)

    def test_a_copy_smaller_than_its_source_is_refused(self, driver: VolumeDriver) -> None:
        source = new_id()
        driver.create_volume(source, 2)
        with pytest.raises(VolumeDriverError):
            driver.clone_volume(source, new_id(), 1)

    def test_ids_cannot_name_files_outside_the_pool(self, driver: VolumeDriver) -> None:
        with pytest.raises(VolumeDriverError):
            driver.create_volume("../escape", 1)
        volume_id = new_id()
        driver.create_volume(volume_id, 1)
        with pytest.raises(VolumeDriverError):
            driver.export("../escape", volume_id, CONNECTOR)

    def test_capacity_is_positive_and_free_at_most_total(self, driver: VolumeDriver) -> None:
        capacity = driver.capacity()
        assert capacity.total_gb > 0
        assert 0 <= capacity.free_gb <= capacity.total_gb

    def test_an_export_is_listed_until_unexported_and_unexport_again_is_fine(
        self, driver: VolumeDriver
    ) -> None:
        volume_id, attachment_id = new_id(), new_id()
        driver.create_volume(volume_id, 1)
        info = driver.export(attachment_id, volume_id, CONNECTOR)
        assert info["driver_volume_type"] == driver.driver_volume_type
        assert isinstance(info["data"], dict)
        assert attachment_id in driver.exports()
        driver.unexport(attachment_id)
        assert attachment_id not in driver.exports()
        driver.unexport(attachment_id)

    def test_exporting_an_attachment_again_returns_the_same_connection(self, driver: VolumeDriver) -> None:
        volume_id, attachment_id = new_id(), new_id()
        driver.create_volume(volume_id, 1)
        first = driver.export(attachment_id, volume_id, CONNECTOR)
        assert driver.export(attachment_id, volume_id, CONNECTOR) == first
        driver.unexport(attachment_id)

    def test_each_attachment_has_its_own_export(self, driver: VolumeDriver) -> None:
        volume_id, first, second = new_id(), new_id(), new_id()
        driver.create_volume(volume_id, 1)
        driver.export(first, volume_id, CONNECTOR)
        driver.export(second, volume_id, CONNECTOR)
        assert {first, second} <= driver.exports()
        driver.unexport(first)
        assert driver.exports() & {first, second} == {second}
        driver.unexport(second)

    def test_a_restarted_driver_still_serves_its_volumes(self, driver: VolumeDriver) -> None:
        volume_id = new_id()
        driver.create_volume(volume_id, 1)
        write_at(driver, volume_id, 0, b"persistent")
        driver.cleanup_host()
        driver.init_host("host-a")
        assert read_at(driver, volume_id, 0, 10) == b"persistent"
