"""The disk side of a QEMU cold resize, without booting a guest (qemu-img and the config drive tool only).

The source's side is laid out as migrate_disk_and_power_off leaves it (a `<uuid>_resize` folder with the
overlay, its record and owner), on one host's folder; the destination is a driver on another folder
(another compute host on the same machine) or on the same one. Power stays off, so no QEMU runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from overcast.context import RequestContext
from overcast.virt.driver import DriverError, ImageRef, InstanceNotFound, InstanceSpec, PowerState
from overcast.virt.qemu import disks
from overcast.virt.qemu.driver import QemuDriver
from overcast.virt.qemu.instance import CONFIG_DRIVE, ROOT_DISK, InstanceRecord
from overcast.virt.qemu.resize import OWNER_FILE, set_aside_name

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-img") is None or not (shutil.which("genisoimage") or shutil.which("xorriso")),
    reason="qemu-img or genisoimage is not installed",
)
CTXT = RequestContext.admin()
MiB = 1024**2
VIF = {"id": "vif-1", "address": "fa:16:3e:00:00:07"}


@pytest.fixture
def drivers(tmp_path: Path) -> Iterator[tuple[QemuDriver, QemuDriver]]:
    made = []
    for host in ("source", "dest"):
        driver = QemuDriver(tmp_path / host, accelerator="tcg")
        driver.init_host(host)
        made.append(driver)
    yield made[0], made[1]
    for driver in made:
        driver.shutdown()


def _spec(**values: Any) -> InstanceSpec:
    defaults: dict[str, Any] = dict(
        uuid=str(uuidlib.uuid4()), name="vm", hostname="vm", vcpus=1, memory_mb=128, root_gb=0,
        image=ImageRef(id="img-1"), network_info=[VIF],
    )  # fmt: skip
    defaults.update(values)
    return InstanceSpec(**defaults)


def _set_aside(driver: QemuDriver, spec: InstanceSpec, size: int = 64 * MiB) -> dict[str, Any]:
    """What migrate_disk_and_power_off leaves on `driver`'s host, and what it returns."""
    base = driver.images.base_dir / spec.image.id
    base.parent.mkdir(parents=True, exist_ok=True)
    disks.qemu_img("create", "-q", "-f", "qcow2", str(base), str(size))
    aside = driver.instances_dir / set_aside_name(spec.uuid)
    aside.mkdir(parents=True)
    disks.create_overlay(base, aside / ROOT_DISK)
    InstanceRecord(spec=spec.to_dict(), ssh_port=45678, vifs={"vif-1": VIF}).save(aside)
    (aside / OWNER_FILE).write_text(json.dumps({"host": driver.host}))
    return {"host": driver.host, "folder": str(aside)}


def _virtual_size(path: Path) -> int:
    return int(disks.image_info(path)["virtual-size"])


def test_another_host_copies_the_disk_rebases_it_on_its_own_base_and_grows_it(
    drivers: tuple[QemuDriver, QemuDriver],
) -> None:
    source, dest = drivers
    old = _spec()
    moved = _set_aside(source, old)
    new = replace(old, vcpus=2, memory_mb=256, root_gb=1, network_info=[])

    dest.finish_migration(CTXT, replace(new, migration_data=moved), True, False)

    disk = dest.instances_dir / old.uuid / ROOT_DISK
    assert disks.backing_file(disk) == dest.images.base_dir / "img-1"  # its own cached copy of the base
    subprocess.run(["qemu-img", "check", "-q", str(disk)], check=True)
    assert _virtual_size(disk) == disks.GiB
    assert (dest.instances_dir / old.uuid / CONFIG_DRIVE).is_file()
    info = dest.get_info(old.uuid)
    assert (info.state, info.num_cpu, info.max_mem_kb) == (PowerState.SHUTDOWN, 2, 256 * 1024)
    network = dest.get_instance_network(old.uuid)
    assert network["mac_address"] == VIF["address"]  # the NIC moved with the disk
    assert network["ssh_port"] != 45678  # another host: another forward

    source.confirm_migration(CTXT, old.uuid)
    assert not (source.instances_dir / set_aside_name(old.uuid)).exists()
    assert list(source.images.base_dir.iterdir()) == []  # no overlay of the source uses it any more


def test_a_disk_never_shrinks(drivers: tuple[QemuDriver, QemuDriver]) -> None:
    _, host = drivers
    old = _spec()
    _set_aside(host, old, size=2 * disks.GiB)
    host.finish_migration(CTXT, replace(old, root_gb=1), True, False)
    assert _virtual_size(host.instances_dir / old.uuid / ROOT_DISK) == 2 * disks.GiB


def test_an_unreachable_source_disk_fails_and_leaves_nothing(drivers: tuple[QemuDriver, QemuDriver]) -> None:
    source, dest = drivers
    old = _spec()
    moved = _set_aside(source, old)
    shutil.rmtree(moved["folder"])  # what a destination on another machine sees of the source's folder
    with pytest.raises(DriverError, match="not reachable"):
        dest.finish_migration(CTXT, replace(old, migration_data=moved), True, False)
    assert dest.list_instance_uuids() == []
    assert not (dest.instances_dir / old.uuid).exists()

    elsewhere = {"folder": str(source.instances_dir / "someone-else_resize")}
    with pytest.raises(DriverError, match="not where a resize"):
        dest.finish_migration(CTXT, replace(old, migration_data=elsewhere), True, False)


def test_same_host_revert_puts_the_old_vm_back_and_the_base_stays_while_used(
    drivers: tuple[QemuDriver, QemuDriver],
) -> None:
    host, _ = drivers
    old = _spec()
    _set_aside(host, old)
    new = replace(old, vcpus=2, root_gb=1)
    host.finish_migration(CTXT, new, True, False)  # no migration data: the folder on this host
    assert host.get_instance_network(old.uuid)["ssh_port"] == 45678  # same host: the same forward

    host.finish_revert_migration(CTXT, old, power_on=False)
    info = host.get_info(old.uuid)
    assert (info.state, info.num_cpu) == (PowerState.SHUTDOWN, 1)
    folder = host.instances_dir / old.uuid
    assert _virtual_size(folder / ROOT_DISK) == 64 * MiB  # the old, unresized disk
    assert not (host.instances_dir / set_aside_name(old.uuid)).exists()
    assert list(host.images.base_dir.iterdir()) == [host.images.base_dir / "img-1"]
    with pytest.raises(InstanceNotFound):
        host.finish_revert_migration(CTXT, old, power_on=False)  # nothing is set aside any more


def test_a_restarted_driver_ignores_folders_set_aside_and_delete_removes_them(tmp_path: Path) -> None:
    first = QemuDriver(tmp_path, accelerator="tcg")
    first.init_host("host-1")
    old = _spec()
    _set_aside(first, old)
    first.finish_migration(CTXT, replace(old, root_gb=1), True, False)
    first.shutdown()

    second = QemuDriver(tmp_path, accelerator="tcg")
    second.init_host("host-1")
    try:
        assert second.list_instance_uuids() == [old.uuid]
        second.destroy(CTXT, old.uuid)  # deleted while waiting for confirmation: both folders go
        assert sorted(p.name for p in second.instances_dir.iterdir()) == ["_base"]
        assert list(second.images.base_dir.iterdir()) == []
    finally:
        second.shutdown()


def test_a_host_leaves_alone_what_another_host_set_aside_in_a_shared_folder(tmp_path: Path) -> None:
    source, dest = QemuDriver(tmp_path, accelerator="tcg"), QemuDriver(tmp_path, accelerator="tcg")
    source.init_host("source")
    dest.init_host("dest")
    old = _spec()
    _set_aside(source, old)
    try:
        dest.finish_migration(CTXT, old, True, False)
        dest.destroy(CTXT, old.uuid)  # a revert on the destination
        assert (tmp_path / "instances" / set_aside_name(old.uuid) / ROOT_DISK).is_file()
        source.finish_revert_migration(CTXT, old, power_on=False)
        assert source.get_info(old.uuid).state == PowerState.SHUTDOWN
    finally:
        source.shutdown()
        dest.shutdown()


def _export(driver: QemuDriver, uuid: str, into: Path, *, standalone: bool) -> Path:
    """What the source uploads: kept at `into` (the image service would refuse a backing reference)."""

    def upload(data: Any) -> None:
        assert isinstance(data, Path)
        shutil.copyfile(data, into)

    driver.export_migration_disk(CTXT, uuid, upload, standalone=standalone)
    return into


@pytest.mark.parametrize("standalone", [False, True])
def test_an_exported_disk_arrives_with_its_data_and_without_the_source_folder(
    drivers: tuple[QemuDriver, QemuDriver], tmp_path: Path, standalone: bool
) -> None:
    source, dest = drivers
    old = _spec()
    moved = _set_aside(source, old)
    overlay = Path(moved["folder"]) / ROOT_DISK
    base = source.images.base_dir / "img-1"
    for pattern, path in (("write -P 0xa5 0 2M", base), ("write -P 0x5a 1M 1M", overlay)):  # base shows
        subprocess.run(["qemu-io", "-c", pattern, str(path)], check=True, capture_output=True)
    exported = _export(source, old.uuid, tmp_path / "transfer", standalone=standalone)
    assert disks.backing_file(exported) is None
    assert not (Path(moved["folder"]) / "transfer.qcow2").exists()  # only while it uploads
    base_copy = tmp_path / "base-fetched"  # the destination manager's cached copy of the image
    shutil.copyfile(base, base_copy)
    arrived = {"host": "source", "folder": str(tmp_path / "unreachable" / set_aside_name(old.uuid)),
               "disk_path": str(exported), "base_image_id": None if standalone else "img-1",
               "base_path": str(base_copy)}  # fmt: skip

    dest.finish_migration(CTXT, replace(old, root_gb=1, migration_data=arrived), True, False)

    disk = dest.instances_dir / old.uuid / ROOT_DISK
    expected_backing = None if standalone else dest.images.base_dir / "img-1"
    assert disks.backing_file(disk) == expected_backing
    assert _virtual_size(disk) == disks.GiB
    # Same guest-visible data as the source's disk (qemu-img compare reads both through their chains).
    disks.qemu_img("compare", "-q", str(overlay), str(disk))
    assert dest.get_instance_network(old.uuid)["mac_address"] == VIF["address"]


def test_a_base_not_on_the_destination_and_not_fetched_fails_and_leaves_nothing(
    drivers: tuple[QemuDriver, QemuDriver], tmp_path: Path
) -> None:
    source, dest = drivers
    old = _spec()
    _set_aside(source, old)
    exported = _export(source, old.uuid, tmp_path / "transfer", standalone=False)
    arrived = {"disk_path": str(exported), "base_image_id": "img-1"}
    with pytest.raises(DriverError, match="not cached"):
        dest.finish_migration(CTXT, replace(old, migration_data=arrived), True, False)
    assert dest.list_instance_uuids() == [] and not (dest.instances_dir / old.uuid).exists()
