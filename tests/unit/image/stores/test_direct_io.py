"""Image files written with direct I/O hold exactly the bytes given, whatever the chunk sizes."""

from __future__ import annotations

import fcntl
import os
import random
from pathlib import Path

import pytest

from overcast.image.stores.direct_io import (
    ALIGNMENT,
    DIRECT_BUFFER,
    BufferedFileWriter,
    DirectFileWriter,
    FileWriter,
    open_for_reading,
    read_chunks,
)

CHUNK = 64 * 1024

SIZES = [
    0, 1, ALIGNMENT - 1, ALIGNMENT, ALIGNMENT + 1, DIRECT_BUFFER,
    DIRECT_BUFFER + 4097, 3 * DIRECT_BUFFER - 5,
]


def _pieces(data: bytes, rng: random.Random) -> list[bytes]:
    pieces, offset = [], 0
    while offset < len(data):
        step = rng.choice([1, 511, ALIGNMENT, 65_537, DIRECT_BUFFER + 3])
        pieces.append(data[offset : offset + step])
        offset += step
    return pieces


def _write(writer: FileWriter, pieces: list[bytes]) -> None:
    try:
        for piece in pieces:
            writer.write(piece)
        writer.finish()
    finally:
        writer.close()


@pytest.mark.parametrize("size", SIZES)
def test_direct_writer_keeps_every_byte_of_unaligned_streams(tmp_path: Path, size: int) -> None:
    rng = random.Random(size)
    data = rng.randbytes(size)
    writer = FileWriter.create(tmp_path / "image")
    assert isinstance(writer, DirectFileWriter), "ext4 and tmpfs take O_DIRECT on this kernel"
    _write(writer, _pieces(data, rng))
    assert (tmp_path / "image").read_bytes() == data


def test_buffered_writer_keeps_every_byte(tmp_path: Path) -> None:
    rng = random.Random(7)
    data = rng.randbytes(DIRECT_BUFFER + 12_345)
    fd = os.open(tmp_path / "image", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    _write(BufferedFileWriter(fd), _pieces(data, rng))
    assert (tmp_path / "image").read_bytes() == data


def test_direct_writer_bypasses_the_page_cache(tmp_path: Path) -> None:
    writer = FileWriter.create(tmp_path / "image")
    try:
        assert fcntl.fcntl(writer.fd, fcntl.F_GETFL) & os.O_DIRECT
    finally:
        writer.close()


def test_an_existing_name_is_refused(tmp_path: Path) -> None:
    from overcast.image.stores.base import StoreError

    (tmp_path / "image").write_bytes(b"somebody else's")
    with pytest.raises(StoreError):
        FileWriter.create(tmp_path / "image")
    assert (tmp_path / "image").read_bytes() == b"somebody else's"


@pytest.mark.parametrize("direct", [True, False])
def test_reads_return_exactly_the_range_asked_for(tmp_path: Path, direct: bool) -> None:
    rng = random.Random(11)
    size = 3 * CHUNK + 777
    data = rng.randbytes(size)
    _write(FileWriter.create(tmp_path / "image"), [data])
    ranges = [(0, None), (0, size), (1, None), (ALIGNMENT - 1, 2), (CHUNK - 3, CHUNK + 9), (size - 1, None),
              (size - 5, 100), (size, None), (12_345, 0)]  # fmt: skip
    ranges += [(rng.randrange(size), rng.randrange(1, size)) for _ in range(20)]
    for offset, length in ranges:
        fd = open_for_reading(tmp_path / "image")
        if not direct:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
        chunks = list(read_chunks(fd, offset, length, CHUNK))
        end = size if length is None else offset + length
        assert b"".join(chunks) == data[offset:end], (offset, length)
        assert all(len(chunk) <= CHUNK for chunk in chunks)


def test_reading_opens_with_direct_io(tmp_path: Path) -> None:
    (tmp_path / "image").write_bytes(b"x" * 10)
    fd = open_for_reading(tmp_path / "image")
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
    finally:
        os.close(fd)
