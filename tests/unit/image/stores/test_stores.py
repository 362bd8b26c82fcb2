"""The filesystem store passes the store contract."""

from __future__ import annotations

import mmap
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from overcast.image.stores import FilesystemStore, Store
from overcast.image.stores.base import exact_chunks
from overcast.image.stores.direct_io import DIRECT_BUFFER, FileWriter
from overcast.image.stores.filesystem import STALE_AFTER
from tests.unit.image.stores.store_contract import StoreContract, through_one_buffer


class TestFilesystemStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Store:
        return FilesystemStore(tmp_path / "images")

    @pytest.fixture
    def stored_names(self, tmp_path: Path) -> Callable[[], set[str]]:
        return lambda: {path.name for path in (tmp_path / "images").iterdir()}


def test_stale_partial_files_are_removed_at_start(tmp_path: Path) -> None:
    directory = tmp_path / "images"
    directory.mkdir()
    stale, live = directory / "a.1234.partial", directory / "b.5678.partial"
    stale.write_bytes(b"left by a crash")
    live.write_bytes(b"being written")
    old = time.time() - STALE_AFTER - 10
    os.utime(stale, (old, old))
    FilesystemStore(directory)
    assert not stale.exists() and live.exists()


def test_exact_chunks_recuts_a_stream() -> None:
    pieces = [b"ab", b"cdefg", b"", b"h", b"ijklmnop"]
    assert [bytes(chunk) for chunk in exact_chunks(pieces, 3)] == [
        b"abc",
        b"def",
        b"ghi",
        b"jkl",
        b"mno",
        b"p",
    ]
    assert list(exact_chunks([], 3)) == []


def test_exact_chunks_copies_what_it_carries_over_a_reused_buffer() -> None:
    data = bytes(range(256)) * 40
    recut = [bytes(chunk) for chunk in exact_chunks(through_one_buffer(data, bytearray(1000)), 768)]
    assert b"".join(recut) == data
    assert [len(chunk) for chunk in recut] == [768] * 13 + [256]


def test_direct_writes_mix_whole_aligned_buffers_and_uneven_pieces(tmp_path: Path) -> None:
    data = os.urandom(DIRECT_BUFFER * 3 + 5000)
    aligned = mmap.mmap(-1, DIRECT_BUFFER)
    writer = FileWriter.create(tmp_path / "image")
    try:
        # Whole buffers (written from where they are), then an odd piece, then a whole buffer again
        # while the writer holds a partly filled buffer of its own.
        for start in (0, DIRECT_BUFFER):
            aligned[:] = data[start : start + DIRECT_BUFFER]
            writer.write(memoryview(aligned))
        writer.write(data[2 * DIRECT_BUFFER : 2 * DIRECT_BUFFER + 5000])
        aligned[:] = data[2 * DIRECT_BUFFER + 5000 :]
        writer.write(memoryview(aligned))
        aligned[:] = bytes(DIRECT_BUFFER)  # the caller reuses its buffer once write() returns
        writer.finish()
    finally:
        writer.close()
    assert (tmp_path / "image").read_bytes() == data
