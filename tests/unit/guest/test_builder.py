"""The guest image builder: its cpio and MBR writers, module ordering, and a real build."""

from __future__ import annotations

import gzip
import json
import lzma
import shutil
import stat
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from overcast.guest.builder import (
    build_guest_image,
    guest_parts,
    has_pvh_entry,
    missing_packages,
    module_load_order,
    pvh_kernel,
)
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
    # The direct kernel boot's kernel is Debian's vmlinux, which QEMU enters through its PVH note.
    assert has_pvh_entry(guest_parts(dest).kernel.read_bytes())


# --- the kernel for a direct kernel boot -------------------------------------------------------------
def _elf_with_notes(notes: list[tuple[bytes, int]]) -> bytes:
    """A minimal 64-bit ELF whose one program header is a PT_NOTE holding `notes` (name, type)."""
    note_bytes = b""
    for name, kind in notes:
        description = b"\x50\x08\x00\x01\x00\x00\x00\x00"
        note_bytes += struct.pack("<III", len(name), len(description), kind)
        note_bytes += name.ljust((len(name) + 3) // 4 * 4, b"\0") + description
    header = b"\x7fELF\x02\x01\x01".ljust(16, b"\0")
    header += struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    program_header = struct.pack("<IIQQQQQQ", 4, 4, 64 + 56, 0, 0, len(note_bytes), len(note_bytes), 4)
    return header + program_header + note_bytes


def _bzimage(elf: bytes, compress: Callable[[bytes], bytes]) -> bytes:
    """A bzImage (boot protocol 2.15) whose payload is `elf` compressed, then its size as the kernel's
    build appends it."""
    setup = bytearray(2 * 512)  # the boot sector and one setup sector
    setup[0x1F1] = 1
    payload = compress(elf) + struct.pack("<I", len(elf))
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x20F)
    decompressor = b"\x90" * 64  # where the payload sits inside the protected-mode code
    struct.pack_into("<II", setup, 0x248, len(decompressor), len(payload))
    return bytes(setup) + decompressor + payload + b"\0" * 16


def _lz4_legacy(data: bytes) -> bytes:
    return subprocess.run(["lz4", "-l", "-c"], input=data, capture_output=True, check=True).stdout


PVH_NOTE = (b"Xen\0", 18)


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, lzma.compress,
     pytest.param(_lz4_legacy, marks=pytest.mark.skipif(not shutil.which("lz4"), reason="no lz4"))],
    ids=["gzip", "xz", "lz4"],
)  # fmt: skip
def test_pvh_kernel_is_the_uncompressed_elf_of_a_bzimage(compress: Callable[[bytes], bytes]) -> None:
    elf = _elf_with_notes([(b"Xen\0", 6), PVH_NOTE])
    assert has_pvh_entry(elf)
    assert pvh_kernel(_bzimage(elf, compress)) == elf


def test_a_kernel_without_a_pvh_entry_boots_as_the_bzimage() -> None:
    elf = _elf_with_notes([(b"Xen\0", 6), (b"GNU\0", 18)])  # type 18 of another owner is not PVH
    assert not has_pvh_entry(elf)
    assert pvh_kernel(_bzimage(elf, gzip.compress)) is None
    assert pvh_kernel(b"MZ" + b"\0" * 4096) is None  # not a bzImage
    truncated = _bzimage(_elf_with_notes([PVH_NOTE]), gzip.compress)[:-40]
    assert pvh_kernel(truncated) is None
