"""What an upload's first bytes must (not) be for its disk_format: EC2's aki, ari and ami are raw data."""

from __future__ import annotations

import struct

import pytest

from overcast.image.formats import DISK_FORMATS, QCOW2_MAGIC, InvalidImageData, check


def _qcow2_header(virtual_size: int) -> bytes:
    header = QCOW2_MAGIC + struct.pack(">IQIIQ", 3, 0, 0, 16, virtual_size)
    return header + b"\0" * (80 - len(header))


@pytest.mark.parametrize("disk_format", ["aki", "ari", "ami"])
def test_ec2_formats_take_raw_data_of_its_own_size(disk_format: str) -> None:
    assert disk_format in DISK_FORMATS
    kernel = b"MZ\x00\x00" + b"\x90" * 1000  # a bzImage starts like any PE/boot sector: no known header
    inspection = check(disk_format, kernel, len(kernel))
    assert (inspection.format, inspection.virtual_size) == ("raw", len(kernel))


@pytest.mark.parametrize("disk_format", ["aki", "ari", "ami"])
def test_ec2_formats_refuse_qcow2_data(disk_format: str) -> None:
    with pytest.raises(InvalidImageData, match=f"not {disk_format}"):
        check(disk_format, _qcow2_header(1 << 30), 1024)
