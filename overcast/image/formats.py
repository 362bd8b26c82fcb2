"""Disk formats: what an upload's header says it is, checked against the image's disk_format.

Only the first HEADER_BYTES of the data are needed. A raw image may hold anything except another
format's header (a "raw" file that is really qcow2 would let a guest read host files through a backing
file), and qcow2 images with a backing file or an external data file are refused for the same reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from overcast import errors

# EC2's kernel (aki), ramdisk (ari) and machine (ami: a filesystem) images are raw data too.
EC2_DISK_FORMATS = ("aki", "ari", "ami")
DISK_FORMATS = ("qcow2", "raw", "iso", *EC2_DISK_FORMATS)
CONTAINER_FORMATS = ("bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed")

QCOW2_MAGIC = b"QFI\xfb"
# ISO 9660: the primary volume descriptor starts at sector 16 (2048-byte sectors) with "\x01CD001".
ISO_DESCRIPTOR_OFFSET = 16 * 2048
ISO_MAGIC = b"CD001"
HEADER_BYTES = ISO_DESCRIPTOR_OFFSET + 8
_QCOW2_EXTERNAL_DATA_FILE = 1 << 2


class InvalidImageData(errors.BadRequest):
    default_message = "The image data does not match its disk_format."


@dataclass(frozen=True)
class Inspection:
    format: str
    # Bytes the guest sees (qcow2's virtual size); None when it is the data's own size.
    virtual_size: int | None = None


def detect(header: bytes) -> Inspection:
    """The format the first bytes of an image say it is ("raw" when no known header is found)."""
    if header.startswith(QCOW2_MAGIC):
        return _qcow2(header)
    if header[ISO_DESCRIPTOR_OFFSET + 1 : ISO_DESCRIPTOR_OFFSET + 6] == ISO_MAGIC:
        return Inspection("iso")
    return Inspection("raw")


def _qcow2(header: bytes) -> Inspection:
    if len(header) < 72:
        raise InvalidImageData("The qcow2 header is truncated.")
    version, backing_offset, _backing_size, cluster_bits, virtual_size = struct.unpack(">IQIIQ", header[4:32])
    if version not in (2, 3):
        raise InvalidImageData(f"Unsupported qcow2 version {version}.")
    if not 9 <= cluster_bits <= 21:
        raise InvalidImageData(f"Invalid qcow2 cluster size (cluster_bits={cluster_bits}).")
    if backing_offset:
        raise InvalidImageData("qcow2 images with a backing file are not allowed.")
    if version == 3 and len(header) >= 80:
        (incompatible,) = struct.unpack(">Q", header[72:80])
        if incompatible & _QCOW2_EXTERNAL_DATA_FILE:
            raise InvalidImageData("qcow2 images with an external data file are not allowed.")
    return Inspection("qcow2", virtual_size)


def check(disk_format: str, header: bytes, total_size: int) -> Inspection:
    """Refuse data whose header contradicts `disk_format`; the inspection when it agrees."""
    found = detect(header)
    if disk_format == "raw" or disk_format in EC2_DISK_FORMATS:
        if found.format != "raw" and found.format != "iso":
            raise InvalidImageData(f"Image data is in {found.format} format, not {disk_format}.")
        return Inspection("raw", total_size)
    if found.format != disk_format:
        raise InvalidImageData(
            f"Image disk_format is {disk_format} but the uploaded data is not {disk_format} "
            f"(it looks like {found.format})."
        )
    return Inspection(found.format, found.virtual_size if found.virtual_size is not None else total_size)
