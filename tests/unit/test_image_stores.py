"""The filesystem store passes the store contract."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from overcast.image.stores import FilesystemStore, Store
from overcast.image.stores.base import exact_chunks
from overcast.image.stores.filesystem import STALE_AFTER
from tests.unit.image_store_contract import StoreContract


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
    assert list(exact_chunks(pieces, 3)) == [b"abc", b"def", b"ghi", b"jkl", b"mno", b"p"]
    assert list(exact_chunks([], 3)) == []
