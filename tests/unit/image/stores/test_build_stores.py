"""Which stores an API enables: "file", "swift", and Glance's "id:file" for several filesystem stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast import errors
from overcast.image.settings import ImageSettings
from overcast.image.stores import FilesystemStore, build_stores


def test_several_filesystem_stores_each_in_their_folder(tmp_path: Path) -> None:
    settings = ImageSettings(
        enabled_stores=("fast:file", "file", "cheap:file"),
        filesystem_store_dirs={"cheap": tmp_path / "slow-disk"},
    )
    stores = build_stores(settings, tmp_path / "data")
    assert list(stores) == ["fast", "file", "cheap"]
    folders = {
        store_id: store.directory for store_id, store in stores.items() if isinstance(store, FilesystemStore)
    }
    assert folders == {
        "fast": tmp_path / "data" / "images-fast",
        "file": tmp_path / "data" / "images",
        "cheap": tmp_path / "slow-disk",
    }
    assert (stores["fast"].id, stores["fast"].description) == ("fast", "Local filesystem (fast)")
    location = stores["cheap"].add("an-image", [b"data"])
    assert b"".join(stores["cheap"].read(location)) == b"data"
    with pytest.raises(errors.NotFound):
        stores["fast"].size(location)  # another store's location


@pytest.mark.parametrize("enabled", [("a:file", "a:file"), ("../up:file",), ("nfs",), ()])
def test_bad_store_settings_are_refused(tmp_path: Path, enabled: tuple[str, ...]) -> None:
    with pytest.raises(errors.BadRequest):
        build_stores(ImageSettings(enabled_stores=enabled), tmp_path)
