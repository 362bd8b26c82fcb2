"""The guest image builder: its cpio and MBR writers, module ordering, and a real build."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from overcast.guest.builder import build_guest_image, missing_packages, module_load_order
from overcast.guest.layout import CpioWriter, Partition, read_mbr_partitions, write_mbr


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="busybox is not installed")
def test_cpio_archive_extracts_with_busybox(tmp_path: Path) -> None:
    archive = CpioWriter()
    archive.directory("bin")
    archive.file("bin/hello", b"#!/bin/sh\necho hello\n", 0o755)
    archive.file("odd-size", b"x" * 5)
    archive.char_device("console", 5, 1)
    (tmp_path / "initrd").write_bytes(archive.getvalue())
    out = tmp_path / "out"
    out.mkdir()
    listing = subprocess.run(["/bin/busybox", "cpio", "-t"], input=archive.getvalue(), capture_output=True,
                             check=True).stdout.decode().split()  # fmt: skip
    assert listing == ["bin", "bin/hello", "odd-size", "console"]
    subprocess.run(["/bin/busybox", "cpio", "-i", "-d"], input=archive.getvalue(), cwd=out, check=True,
                   capture_output=True)  # fmt: skip
    assert (out / "bin/hello").read_bytes() == b"#!/bin/sh\necho hello\n"
    assert (out / "bin/hello").stat().st_mode & 0o777 == 0o755
    assert (out / "odd-size").read_bytes() == b"xxxxx"


def test_mbr_partition_table_round_trips_through_sfdisk(tmp_path: Path) -> None:
    disk = tmp_path / "disk.raw"
    with disk.open("wb") as handle:
        handle.truncate(8 * 1024 * 1024)
    parts = [Partition(2048, 4096, 0x06, bootable=True), Partition(6144, 8192, 0x83)]
    write_mbr(disk, b"\xeb\xfe", parts)
    assert read_mbr_partitions(disk) == parts
    if shutil.which("sfdisk") is None:
        return
    table = json.loads(
        subprocess.run(["sfdisk", "--json", str(disk)], capture_output=True, check=True).stdout
    )
    found = [
        (p["start"], p["size"], p["type"], p.get("bootable", False))
        for p in table["partitiontable"]["partitions"]
    ]
    assert found == [(2048, 4096, "6", True), (6144, 8192, "83", False)]


def test_modules_load_after_their_dependencies(tmp_path: Path) -> None:
    (tmp_path / "modules.dep").write_text(
        "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko "
        "kernel/drivers/virtio/virtio_ring.ko\n"
        "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
        "kernel/net/core/failover.ko:\n"
        "kernel/drivers/virtio/virtio_ring.ko:\n"
    )
    (tmp_path / "modules.builtin").write_text("kernel/fs/ext4/ext4.ko\n")
    order = module_load_order(tmp_path, ["virtio_net", "ext4", "failover"])
    names = [Path(p).stem for p in order]
    assert names.index("failover") < names.index("net_failover") < names.index("virtio_net")
    assert names.index("virtio_ring") < names.index("virtio_net")
    assert "ext4" not in names and len(names) == len(set(names))


@pytest.mark.skipif(bool(missing_packages()), reason="guest image prerequisites are not installed")
def test_build_makes_a_bootable_two_partition_qcow2(tmp_path: Path) -> None:
    dest = build_guest_image(tmp_path / "guest.qcow2")
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(dest)], capture_output=True,
                                     check=True).stdout)  # fmt: skip
    assert info["format"] == "qcow2"
    raw = tmp_path / "guest.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(dest), str(raw)], check=True)
    boot, root = read_mbr_partitions(raw)
    assert boot.bootable and boot.type_id == 0x06 and root.type_id == 0x83
    with raw.open("rb") as handle:
        handle.seek(root.start_sector * 512 + 1024 + 0x38)
        assert handle.read(2) == b"\x53\xef"  # ext4 superblock magic
    mtime = dest.stat().st_mtime_ns
    assert build_guest_image(dest) == dest and dest.stat().st_mtime_ns == mtime  # cached, not rebuilt
    assert stat.S_ISREG(dest.stat().st_mode) and not list(tmp_path.glob("overcast-guest-*"))
