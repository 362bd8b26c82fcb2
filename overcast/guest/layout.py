"""Byte-level formats the builder writes itself: a newc cpio archive and an MBR partition table.

Writing them in Python keeps the build unprivileged (no loop devices, no mounts, no fakeroot).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

SECTOR = 512
_CPIO_MAGIC = b"070701"


@dataclass(frozen=True)
class CpioEntry:
    name: str  # path inside the archive, without leading slash
    mode: int  # full st_mode (file type bits included)
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)  # (major, minor) of a device node


class CpioWriter:
    """An initramfs in the kernel's `newc` format: entries in order, then the trailer."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._inode = 1

    def add(self, entry: CpioEntry) -> None:
        name = entry.name.encode() + b"\0"
        fields = (
            self._inode, entry.mode, 0, 0, 1, 0, len(entry.data), 0, 0,
            entry.rdev[0], entry.rdev[1], len(name), 0,
        )  # fmt: skip
        self._inode += 1
        header = _CPIO_MAGIC + b"".join(b"%08X" % value for value in fields)
        self._chunks.append(_pad4(header + name))
        self._chunks.append(_pad4(entry.data))

    def directory(self, name: str) -> None:
        self.add(CpioEntry(name, stat.S_IFDIR | 0o755))

    def file(self, name: str, data: bytes, perms: int = 0o644) -> None:
        self.add(CpioEntry(name, stat.S_IFREG | perms, data))

    def char_device(self, name: str, major: int, minor: int) -> None:
        self.add(CpioEntry(name, stat.S_IFCHR | 0o600, rdev=(major, minor)))

    def getvalue(self) -> bytes:
        trailer = CpioWriter()
        trailer._inode = 0
        trailer.add(CpioEntry("TRAILER!!!", 0))
        return b"".join(self._chunks + trailer._chunks)


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


@dataclass(frozen=True)
class Partition:
    start_sector: int
    sectors: int
    type_id: int  # 0x0C FAT32 LBA, 0x06 FAT16, 0x83 Linux
    bootable: bool = False


def write_mbr(disk: Path, boot_code: bytes, partitions: list[Partition]) -> None:
    """Write boot code and a DOS partition table into sector 0 of `disk` (LBA only: CHS fields maxed)."""
    if len(boot_code) > 440:
        raise ValueError("MBR boot code is at most 440 bytes")
    if len(partitions) > 4:
        raise ValueError("an MBR holds at most 4 primary partitions")
    table = bytearray(64)
    for index, part in enumerate(partitions):
        entry = bytes([0x80 if part.bootable else 0x00, 0xFE, 0xFF, 0xFF, part.type_id, 0xFE, 0xFF, 0xFF])
        entry += part.start_sector.to_bytes(4, "little") + part.sectors.to_bytes(4, "little")
        table[index * 16 : index * 16 + 16] = entry
    sector = boot_code.ljust(440, b"\0") + b"\0" * 6 + bytes(table) + b"\x55\xaa"
    with disk.open("r+b") as handle:
        handle.write(sector)


def read_mbr_partitions(disk: Path) -> list[Partition]:
    """The primary partitions of `disk` (used by tests and by the image check)."""
    with disk.open("rb") as handle:
        sector = handle.read(SECTOR)
    if sector[510:512] != b"\x55\xaa":
        return []
    found = []
    for index in range(4):
        entry = sector[446 + index * 16 : 446 + index * 16 + 16]
        if entry[4] == 0:
            continue
        found.append(
            Partition(
                start_sector=int.from_bytes(entry[8:12], "little"),
                sectors=int.from_bytes(entry[12:16], "little"),
                type_id=entry[4],
                bootable=entry[0] == 0x80,
            )
        )
    return found


def copy_into(disk: Path, image: Path, start_sector: int) -> None:
    """Copy a filesystem image file into `disk` at a sector offset."""
    with disk.open("r+b") as out, image.open("rb") as src:
        out.seek(start_sector * SECTOR)
        while chunk := src.read(1 << 20):
            out.write(chunk)
