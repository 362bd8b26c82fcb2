"""The Swift store passes the same store contract as the filesystem store, against a real Swift."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.image.api import ImageAPI
from overcast.image.patch import from_create_body
from overcast.image.settings import ImageSettings
from overcast.image.stores import FilesystemStore, Store, SwiftStore
from tests.support.swift import KEY, USER, SwiftCluster
from tests.support.waiting import WAIT_SECONDS
from tests.unit.image.stores.store_contract import MIB, StoreContract


def _listing(store: SwiftStore, container: str) -> set[str]:
    response = store._request("GET", container, params={"format": "json"})
    if response.status_code == 404:
        return set()
    return {f"{container}/{item['name']}" for item in response.json()}


class TestSwiftStore(StoreContract):
    @pytest.fixture
    def store(self, swift: SwiftCluster) -> SwiftStore:
        # Segments of 1 MiB, so a 2 MiB image is a manifest over three segments.
        return SwiftStore(
            swift.auth_url, USER, KEY, container=f"images-{uuid.uuid4().hex[:8]}", segment_size=MIB
        )

    @pytest.fixture
    def stored_names(self, store: SwiftStore) -> Callable[[], set[str]]:
        return lambda: _listing(store, store.container) | _listing(store, store.segment_container)


def test_large_images_are_stored_as_segments(swift: SwiftCluster) -> None:
    store = SwiftStore(swift.auth_url, USER, KEY, container="segmented", segment_size=MIB)
    data = bytes(range(256)) * (10 * 4096 + 1)  # 10 MiB + 256 bytes
    location = store.add("image-1", [data[i : i + 300_000] for i in range(0, len(data), 300_000)])
    assert len(_listing(store, store.segment_container)) == 11
    assert store.size(location) == len(data)
    assert b"".join(store.read(location, 5 * MIB - 10, 20)) == data[5 * MIB - 10 : 5 * MIB + 10]
    store.delete(location)
    assert _listing(store, store.segment_container) == set()


def test_an_expired_token_is_renewed(swift: SwiftCluster) -> None:
    store: Store = SwiftStore(swift.auth_url, USER, KEY, container="renewal")
    assert isinstance(store, SwiftStore)
    location = store.add("image-1", [b"data"])
    store._token = "AUTH_tk_not_a_valid_token"
    assert store.size(location) == 4
    assert httpx.get(swift.auth_url, timeout=WAIT_SECONDS).status_code == 401


def test_an_image_lives_in_either_store(swift: SwiftCluster, db: Database, tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    cloud = Cloud(settings=settings, db=db, transport=get_transport(f"inproc://swift-{uuid.uuid4().hex}"))
    stores = {
        "file": FilesystemStore(tmp_path / "images"),
        "swift": SwiftStore(swift.auth_url, USER, KEY, container="either", segment_size=MIB),
    }
    images = ImageAPI(cloud, ImageSettings(), stores=stores)
    ctxt = RequestContext(user_id="u", project_id="p", roles=("admin", "member"), is_admin=True)
    image_id = images.create(
        ctxt, from_create_body({"disk_format": "raw", "container_format": "bare"})
    ).image.id
    data = bytes(range(256)) * 12000
    record = images.data.upload(ctxt, image_id, [data], store_id="swift")
    assert record.stores == ("swift",)
    images.data.begin_import(ctxt, image_id, "copy-image", stores=["file"])()
    record = images.get(ctxt, image_id)
    assert record.stores == ("swift", "file")
    for store_id, location in record.locations:
        assert b"".join(stores[store_id].read(location)) == data
    images.delete(ctxt, image_id)
    assert _listing(stores["swift"], "either") == set()  # type: ignore[arg-type]
    cloud.transport.close()
