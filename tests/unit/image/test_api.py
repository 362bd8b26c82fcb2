"""The image service below HTTP: state machine, data checks, quotas, visibility and sharing."""

from __future__ import annotations

import hashlib
import os
import struct
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.image import formats
from overcast.image.api import SIZE_QUOTA, ImageAPI
from overcast.image.cache import ImageDataCorrupt, fetch_to_path
from overcast.image.data import DataPipeline, DataSummary, ImageTooLarge, RangeNotSatisfiable, parse_range
from overcast.image.patch import ImageChanges, from_create_body
from overcast.image.registry import ImageFilters
from overcast.image.settings import ImageSettings

MIB = 1024 * 1024
TINY_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"
ALICE = RequestContext(user_id="u-alice", project_id="p-alice", roles=("member",))
BOB = RequestContext(user_id="u-bob", project_id="p-bob", roles=("member",))
ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin", "member"), is_admin=True)


def qcow2_header(virtual_size: int, backing: int = 0, version: int = 3) -> bytes:
    header = b"QFI\xfb" + struct.pack(">IQIIQ", version, backing, 0, 16, virtual_size)
    return header.ljust(104, b"\0")


@pytest.fixture
def images(db: Database, tmp_path: Path) -> Iterator[ImageAPI]:
    settings = load_settings(data_dir=tmp_path)
    cloud = Cloud(settings=settings, db=db, transport=get_transport(f"inproc://image-{uuid.uuid4().hex}"))
    yield ImageAPI(cloud, ImageSettings(size_cap=8 * MIB))
    cloud.transport.close()


def create(images: ImageAPI, ctxt: RequestContext = ALICE, **body: object) -> str:
    fields = {"name": "img", "disk_format": "raw", "container_format": "bare", **body}
    return images.create(ctxt, from_create_body(fields)).image.id


def test_upload_hashes_and_activates(images: ImageAPI) -> None:
    image_id = create(images)
    data = os.urandom(MIB * 3 + 5)
    record = images.upload(ALICE, image_id, [data[:100], data[100:]])
    image = record.image
    assert (image.status, image.size, image.virtual_size) == ("active", len(data), len(data))
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert (image.os_hash_algo, image.os_hash_value) == ("sha512", hashlib.sha512(data).hexdigest())
    assert record.stores == ("file",)
    download = images.data.download(ALICE, image_id, "bytes=10-19")
    assert download is not None and download.partial
    assert b"".join(download.chunks) == data[10:20]
    with pytest.raises(errors.Conflict):
        images.upload(ALICE, image_id, [b"again"])


def test_pipeline_hashes_many_uneven_chunks_in_order() -> None:
    data = os.urandom(5 * MIB + 3)
    pieces = [data[start : start + 700_001] for start in range(0, len(data), 700_001)]
    pipeline = DataPipeline(pieces, len(data), "raw")
    # Each block is a view of a reused buffer: copied before the next one is asked for.
    assert b"".join([bytes(block) for block in pipeline]) == data
    md5, sha512 = hashlib.md5(data).hexdigest(), hashlib.sha512(data).hexdigest()
    assert pipeline.summary() == DataSummary(len(data), md5, sha512, len(data))


def test_a_pipeline_abandoned_midway_stops_its_hash_threads() -> None:
    def hash_threads() -> list[threading.Thread]:
        return [
            thread
            for thread in threading.enumerate()
            if thread.name.startswith(("image-md5", "image-sha512"))
        ]

    before = hash_threads()
    stream = iter(DataPipeline([bytes(MIB)] * 16, 16 * MIB, "raw"))
    for _ in range(2):
        next(stream)
    assert len(hash_threads()) == len(before) + 2
    stream.close()  # what a store that fails mid-write does
    assert hash_threads() == before


def test_download_of_an_image_without_data_is_empty(images: ImageAPI) -> None:
    assert images.data.download(ALICE, create(images)) is None


def test_wrong_format_is_refused_and_the_image_stays_queued(images: ImageAPI) -> None:
    image_id = create(images, disk_format="qcow2")
    with pytest.raises(formats.InvalidImageData, match="not qcow2"):
        images.upload(ALICE, image_id, [os.urandom(70000)])
    assert images.get(ALICE, image_id).image.status == "queued"
    assert list(images.stores["file"].directory.iterdir()) == []  # type: ignore[attr-defined]
    record = images.upload(ALICE, image_id, [qcow2_header(10 * 1024**3) + bytes(65536)])
    assert record.image.virtual_size == 10 * 1024**3


def test_format_inspection() -> None:
    assert formats.detect(qcow2_header(1024)).format == "qcow2"
    iso = bytes(formats.ISO_DESCRIPTOR_OFFSET) + b"\x01CD001\x01" + bytes(100)
    assert formats.check("iso", iso, len(iso)).format == "iso"
    assert formats.check("raw", iso, len(iso)).format == "raw"
    with pytest.raises(formats.InvalidImageData, match="backing file"):
        formats.check("qcow2", qcow2_header(1024, backing=512), 1024)
    with pytest.raises(formats.InvalidImageData, match="not raw"):
        formats.check("raw", qcow2_header(1024), 1024)
    with pytest.raises(formats.InvalidImageData):
        formats.check("iso", os.urandom(40000), 40000)


def test_too_large_uploads_stop_at_the_cap(images: ImageAPI) -> None:
    image_id = create(images)
    with pytest.raises(ImageTooLarge):
        images.upload(ALICE, image_id, iter([bytes(MIB)] * 9))
    assert images.get(ALICE, image_id).image.status == "queued"
    with pytest.raises(ImageTooLarge):
        images.data.upload(ALICE, image_id, [b"x"], declared_size=9 * MIB)


def test_a_cut_off_upload_is_killed_and_leaves_no_data(images: ImageAPI) -> None:
    image_id = create(images)

    def cut_off() -> Iterator[bytes]:
        yield bytes(2 * MIB)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        images.upload(ALICE, image_id, cut_off())
    assert images.get(ALICE, image_id).image.status == "killed"
    assert list(images.stores["file"].directory.iterdir()) == []  # type: ignore[attr-defined]
    assert images.data.download(ALICE, image_id) is None


def test_storage_and_count_quotas(images: ImageAPI) -> None:
    with images.db.writer() as session:
        images.quotas.set_limits(session, "p-alice", {SIZE_QUOTA: 2, "images": 2})
    first = create(images)
    images.upload(ALICE, first, [bytes(MIB + 1)])  # counts as 2 MiB
    second = create(images)
    with pytest.raises(ImageTooLarge):
        images.upload(ALICE, second, [bytes(10)])
    with pytest.raises(errors.QuotaExceeded):
        create(images)
    images.delete(ALICE, first)
    assert images.upload(ALICE, second, [bytes(10)]).image.status == "active"
    with images.db.reader() as session:
        assert images.quotas.get_usage(session, "p-alice")[SIZE_QUOTA] == 1


def test_visibility_and_sharing(images: ImageAPI) -> None:
    with pytest.raises(errors.Forbidden, match="publicize"):
        create(images, visibility="public")
    public = create(images, ADMIN, visibility="public")
    private = create(images, visibility="private")
    shared = create(images, visibility="shared")
    community = create(images, visibility="community")

    def listed(ctxt: RequestContext, **filters: object) -> set[str]:
        return {record.image.id for record in images.list(ctxt, ImageFilters(**filters))}  # type: ignore[arg-type]

    assert {public, private, shared, community} <= listed(ALICE)
    assert listed(BOB) == {public, TINY_ID}
    assert listed(BOB, visibility="community") == {community}
    with pytest.raises(errors.NotFound):
        images.get(BOB, private)
    assert images.get(BOB, community).image.id == community

    images.members.add(ALICE, shared, "p-bob")
    assert images.get(BOB, shared).image.id == shared  # visible once shared, listed once accepted
    assert shared not in listed(BOB)
    with pytest.raises(errors.Forbidden):
        images.members.update(ALICE, shared, "p-bob", "accepted")
    images.members.update(BOB, shared, "p-bob", "accepted")
    assert shared in listed(BOB)
    with pytest.raises(errors.Forbidden):
        images.members.add(ALICE, private, "p-bob")
    with pytest.raises(errors.Conflict):
        images.members.add(ALICE, shared, "p-bob")
    with pytest.raises(errors.Forbidden):
        images.delete(BOB, shared)


def test_json_patch(images: ImageAPI) -> None:
    image_id = create(images, hw_disk_bus="virtio")
    record = images.update(ALICE, image_id, [
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/hw_architecture", "value": "x86_64"},
        {"op": "remove", "path": "/hw_disk_bus"},
        {"op": "add", "path": "/os~1distro", "value": "debian"},
        {"op": "replace", "path": "/tags", "value": ["a", "b", "a"]},
        {"op": "replace", "path": "/min_ram", "value": 256},
    ])  # fmt: skip
    assert record.image.name == "renamed" and record.image.min_ram == 256
    assert record.image.properties == {"hw_architecture": "x86_64", "os/distro": "debian"}
    assert record.tags == ("a", "b")
    for operations, error in (
        ([{"op": "replace", "path": "/status", "value": "active"}], errors.Forbidden),
        ([{"op": "replace", "path": "/a/b", "value": "x"}], errors.BadRequest),
        ([{"op": "replace", "path": "name", "value": "x"}], errors.BadRequest),
        ([{"op": "move", "path": "/name", "from": "/x"}], errors.BadRequest),
        ([{"op": "remove", "path": "/missing"}], errors.Conflict),
        ([{"op": "replace", "path": "/min_ram", "value": -1}], errors.BadRequest),
        ([{"op": "replace", "path": "/visibility", "value": "public"}], errors.Forbidden),
        ({"op": "replace"}, errors.BadRequest),
    ):
        with pytest.raises(error):
            images.update(ALICE, image_id, operations)


def test_protected_images_and_deactivation(images: ImageAPI) -> None:
    image_id = create(images, protected=True)
    with pytest.raises(errors.Forbidden):
        images.deactivate(ALICE, image_id)  # still queued
    images.upload(ALICE, image_id, [b"data"])
    images.deactivate(ALICE, image_id)
    with pytest.raises(errors.Forbidden):
        images.data.download(ALICE, image_id)
    images.reactivate(ALICE, image_id)
    with pytest.raises(errors.Forbidden, match="protected"):
        images.delete(ALICE, image_id)
    images.update(ALICE, image_id, [{"op": "replace", "path": "/protected", "value": False}])
    images.delete(ALICE, image_id)
    with pytest.raises(errors.NotFound):
        images.get(ALICE, image_id)
    assert list(images.stores["file"].directory.iterdir()) == []  # type: ignore[attr-defined]


def test_staged_import(images: ImageAPI) -> None:
    image_id = create(images)
    images.data.stage(ALICE, image_id, [b"staged data"])
    assert images.get(ALICE, image_id).image.status == "uploading"
    work = images.data.begin_import(ALICE, image_id, "glance-direct")
    assert images.get(ALICE, image_id).image.status == "importing"
    work()
    record = images.get(ALICE, image_id)
    assert (
        record.image.status == "active" and record.image.checksum == hashlib.md5(b"staged data").hexdigest()
    )
    with pytest.raises(errors.BadRequest):
        images.data.begin_import(ALICE, image_id, "web-download")


def test_fetch_to_path_verifies_the_hash(images: ImageAPI, tmp_path: Path) -> None:
    image_id = create(images)
    images.upload(ALICE, image_id, [b"disk contents"])
    target = tmp_path / "cache" / image_id
    fetch_to_path(images, ALICE, image_id, target)
    assert target.read_bytes() == b"disk contents"
    location = images.get(ALICE, image_id).locations[0][1]
    Path(location.removeprefix("file://")).write_bytes(b"disk c0ntents")
    target.unlink()
    with pytest.raises(ImageDataCorrupt):
        fetch_to_path(images, ALICE, image_id, target)
    assert list(target.parent.iterdir()) == []


def test_range_parsing() -> None:
    assert parse_range(None, 100) == (0, 100, False)
    assert parse_range("bytes=10-", 100) == (10, 90, True)
    assert parse_range("bytes=-10", 100) == (90, 10, True)
    assert parse_range("bytes=0-1000", 100) == (0, 100, True)
    for bad in ("bytes=100-", "bytes=5-2", "items=0-1", "bytes=0-1,3-4"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(bad, 100)


def test_snapshot_images_for_compute(images: ImageAPI) -> None:
    record = images.create_snapshot(ADMIN, "snap", owner="p-alice", properties={"instance_uuid": "i-1"})
    assert record.image.owner == "p-alice" and record.image.visibility == "private"
    images.upload(ADMIN, record.image.id, [qcow2_header(MIB) + bytes(100)])
    assert images.get(ALICE, record.image.id).image.properties["image_type"] == "snapshot"
    assert images.create(ALICE, ImageChanges()).image.status == "queued"
