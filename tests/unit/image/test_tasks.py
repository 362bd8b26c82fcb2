"""Import tasks and the os_glance_* properties an import keeps on its image (image/tasks.py, data.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.db import Database
from overcast.image.api import ImageAPI
from overcast.image.patch import from_create_body
from overcast.image.settings import ImageSettings
from overcast.image.stores import FilesystemStore, StoreError
from overcast.image.tasks import TaskFilters
from tests.unit.image.test_api import ADMIN, ALICE, BOB


class BrokenStore(FilesystemStore):
    def add(self, image_id: str, chunks: object) -> str:
        raise StoreError("the disk is full")


@pytest.fixture
def images(db: Database, tmp_path: Path) -> Iterator[ImageAPI]:
    cloud = Cloud(settings=load_settings(data_dir=tmp_path), db=db,
                  transport=get_transport(f"inproc://image-{uuid.uuid4().hex}"))  # fmt: skip
    stores = {
        "fast": FilesystemStore(tmp_path / "fast", "fast"),
        "cheap": FilesystemStore(tmp_path / "cheap", "cheap"),
        "broken": BrokenStore(tmp_path / "broken", "broken"),
    }
    yield ImageAPI(cloud, ImageSettings(size_cap=1024 * 1024), stores=stores)
    cloud.transport.close()


def staged(images: ImageAPI) -> str:
    image_id = images.create(ALICE, from_create_body({"name": "i", "disk_format": "raw",
                                                      "container_format": "bare"})).image.id  # fmt: skip
    images.data.stage(ALICE, image_id, [b"staged data"])
    return image_id


def test_an_import_is_a_task_and_locks_its_image(images: ImageAPI) -> None:
    image_id = staged(images)
    work = images.data.begin_import(ALICE, image_id, "glance-direct", ["fast", "cheap"])
    properties = images.get(ALICE, image_id).image.properties
    task_id = properties["os_glance_import_task"]
    assert (properties["os_glance_importing_to_stores"], properties["os_glance_failed_import"]) == (
        "fast,cheap",
        "",
    )
    assert images.tasks.get(ADMIN, task_id)["status"] == "pending"
    work()
    properties = images.get(ALICE, image_id).image.properties
    assert "os_glance_import_task" not in properties
    assert (properties["os_glance_importing_to_stores"], properties["os_glance_failed_import"]) == ("", "")
    task = images.tasks.get(ADMIN, task_id)
    assert (task["status"], task["result"], task["image_id"], task["user_id"]) == (
        "success",
        {"image_id": image_id},
        image_id,
        "u-alice",
    )
    assert task["expires_at"] is not None and task["input"]["backend"] == ["fast", "cheap"]
    assert [t["id"] for t in images.tasks.of_image(ALICE, image_id)] == [task_id]
    with pytest.raises(errors.NotFound):
        images.tasks.of_image(BOB, image_id)
    with pytest.raises(errors.Forbidden):
        images.tasks.find(ALICE, TaskFilters())
    assert [t["id"] for t in images.tasks.find(ADMIN, TaskFilters(status="success"))] == [task_id]
    assert "input" not in images.tasks.find(ADMIN, TaskFilters())[0]


def test_a_second_import_while_one_runs_is_refused(images: ImageAPI) -> None:
    image_id = staged(images)
    work = images.data.begin_import(ALICE, image_id, "glance-direct", ["fast"])
    work()
    # Active now: copying it (an admin's) while a copy is pending is a 409, as is copying where it is.
    copying = images.data.begin_import(ADMIN, image_id, "copy-image", ["cheap"])
    with pytest.raises(errors.Conflict):
        images.data.begin_import(ADMIN, image_id, "copy-image", ["cheap"])
    copying()
    with pytest.raises(errors.Conflict):
        images.data.begin_import(ADMIN, image_id, "copy-image", ["fast", "cheap"])


def test_a_store_that_fails_is_listed_as_failed(images: ImageAPI) -> None:
    image_id = staged(images)
    images.data.begin_import(ALICE, image_id, "glance-direct", ["fast", "broken"], all_must_succeed=False)()
    record = images.get(ALICE, image_id)
    assert record.image.status == "active" and record.stores == ("fast",)
    assert record.image.properties["os_glance_failed_import"] == "broken"
    assert record.image.properties["os_glance_importing_to_stores"] == ""
    # All must succeed: the import fails, its task says why, the image is queued again.
    image_id = staged(images)
    images.data.begin_import(ALICE, image_id, "glance-direct", ["broken", "fast"])()
    record = images.get(ALICE, image_id)
    assert record.image.status == "queued"
    assert record.image.properties["os_glance_failed_import"] == "broken,fast"
    (task,) = images.tasks.of_image(ALICE, image_id)
    assert (task["status"], task["message"]) == ("failure", "the disk is full")


def test_task_listing_checks_its_parameters(images: ImageAPI) -> None:
    for filters in (TaskFilters(sort_key="owner"), TaskFilters(sort_dir="up"), TaskFilters(status="done"),
                    TaskFilters(limit=-1)):  # fmt: skip
        with pytest.raises(errors.BadRequest):
            images.tasks.find(ADMIN, filters)
    with pytest.raises(errors.NotFound):
        images.tasks.find(ADMIN, TaskFilters(marker=str(uuid.uuid4())))
    with pytest.raises(errors.NotFound):
        images.tasks.get(ADMIN, "nope")
