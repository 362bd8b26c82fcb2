"""Image tasks (Glance's /v2/tasks): the record of each import, which its owner follows, and the
`os_glance_*` properties an import keeps on its image, as Glance maintains them.

An import makes a task (`api_image_import`, pending) in the transaction that accepts it and names it in
the image's `os_glance_import_task`, which is the image's import lock: a second import while the task is
pending or processing is a 409. `os_glance_importing_to_stores` lists the stores still to be written,
`os_glance_failed_import` those that failed; each store's outcome moves it from the first to nowhere (done)
or to the second. The task ends `success` (with the image id) or `failure` (with the reason), expiring
after Glance's task_time_to_live, and the lock is released.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.image import Image
from overcast.db.models.image_catalog import ImageTask
from overcast.db.pagination import paginate
from overcast.image import policies, registry

IMPORT_TASK = "api_image_import"
PENDING, PROCESSING, SUCCESS, FAILURE = "pending", "processing", "success", "failure"
STATUSES = (PENDING, PROCESSING, SUCCESS, FAILURE)
ACTIVE = (PENDING, PROCESSING)
# Glance's task_time_to_live.
TIME_TO_LIVE = timedelta(hours=48)
TASK_KEY = "os_glance_import_task"
IMPORTING_KEY = "os_glance_importing_to_stores"
FAILED_KEY = "os_glance_failed_import"
SORT_KEYS = ("id", "type", "status", "created_at", "updated_at")
MAX_LIMIT = 1000


@dataclass(frozen=True)
class TaskFilters:
    type: str | None = None
    status: str | None = None
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    marker: str | None = None
    limit: int = 25


def _stores(value: Any) -> list[str]:
    return [store for store in str(value or "").split(",") if store]


def start_import(
    session: Session,
    ctxt: RequestContext,
    image: Image,
    method: str,
    stores: list[str],
    request: dict[str, Any],
) -> str:
    """Record an import of `image` (locked FOR UPDATE by the caller) into `stores`; its task id."""
    current = image.properties.get(TASK_KEY)
    if current:
        running = session.scalars(
            select(ImageTask.id).where(ImageTask.id == current, ImageTask.status.in_(ACTIVE))
        ).first()
        if running:
            raise errors.Conflict(f"Image {image.id} has an active import task {current}.")
    task = ImageTask(
        id=str(uuid.uuid4()), type=IMPORT_TASK, status=PENDING, owner=image.owner or ctxt.project_id,
        user_id=ctxt.user_id, request_id=ctxt.request_id, image_id=image.id,
        input={"image_id": image.id, "import_req": request, "backend": stores}, message="",
    )  # fmt: skip
    session.add(task)
    image.properties = {
        **image.properties,
        TASK_KEY: task.id,
        IMPORTING_KEY: ",".join(stores),
        FAILED_KEY: "",
    }
    image.updated_at = utcnow()
    return task.id


def processing(db: Database, task_id: str) -> None:
    def write(session: Session) -> None:
        task = session.get(ImageTask, task_id)
        if task is not None and task.status == PENDING:
            task.status = PROCESSING

    db.write(write)


def store_done(db: Database, image_id: str, store_id: str, *, ok: bool) -> None:
    """One store of a running import is written (or failed): the image's properties say so."""

    def write(session: Session) -> None:
        image = session.scalars(select(Image).where(Image.id == image_id).with_for_update()).first()
        if image is None:
            return
        importing = [store for store in _stores(image.properties.get(IMPORTING_KEY)) if store != store_id]
        failed = _stores(image.properties.get(FAILED_KEY))
        if not ok and store_id not in failed:
            failed.append(store_id)
        image.properties = {
            **image.properties,
            IMPORTING_KEY: ",".join(importing),
            FAILED_KEY: ",".join(failed),
        }

    db.write(write)


def finish_import(db: Database, image_id: str, task_id: str, error: str | None = None) -> None:
    """The import ends: the task succeeds or fails, stores still listed as importing failed with it, and
    the image's lock is released."""

    def write(session: Session) -> None:
        task = session.get(ImageTask, task_id)
        if task is not None and task.status in ACTIVE:
            task.status = FAILURE if error else SUCCESS
            task.message = error or ""
            task.result = None if error else {"image_id": image_id}
            task.expires_at = utcnow() + TIME_TO_LIVE
        image = session.scalars(select(Image).where(Image.id == image_id).with_for_update()).first()
        if image is None or image.properties.get(TASK_KEY) != task_id:
            return
        properties = dict(image.properties)
        del properties[TASK_KEY]
        if error:
            failed = _stores(properties.get(FAILED_KEY))
            failed += [store for store in _stores(properties.get(IMPORTING_KEY)) if store not in failed]
            properties[FAILED_KEY] = ",".join(failed)
            properties[IMPORTING_KEY] = ""
        image.properties = properties

    db.write(write)


class TaskAPI:
    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, ctxt: RequestContext, filters: TaskFilters) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.GET_TASKS)
        if filters.sort_key not in SORT_KEYS:
            raise errors.BadRequest(
                f"Invalid sort key: {filters.sort_key}. Valid keys: {', '.join(SORT_KEYS)}."
            )
        if filters.sort_dir not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction: {filters.sort_dir}")
        if filters.status is not None and filters.status not in STATUSES:
            raise errors.BadRequest(f"Invalid status value: {filters.status}")
        if filters.limit < 0:
            raise errors.BadRequest("limit param must be positive")
        stmt = select(ImageTask).where(ImageTask.deleted.is_(False))
        if filters.type is not None:
            stmt = stmt.where(ImageTask.type == filters.type)
        if filters.status is not None:
            stmt = stmt.where(ImageTask.status == filters.status)
        with self.db.reader() as session:
            if filters.marker is not None and session.get(ImageTask, filters.marker) is None:
                raise errors.NotFound(f"Task with identifier {filters.marker} not found")
            page = paginate(
                stmt, ImageTask, sort_keys=[(filters.sort_key, filters.sort_dir)], marker=filters.marker,
                limit=min(filters.limit, MAX_LIMIT), marker_column="id", session=session,
            )  # fmt: skip
            return [view(task, full=False) for task in session.scalars(page)]

    def get(self, ctxt: RequestContext, task_id: str) -> dict[str, Any]:
        policy.enforce(ctxt, policies.GET_TASK)
        with self.db.reader() as session:
            task = session.get(ImageTask, task_id)
            if task is None or task.deleted:
                raise errors.NotFound(f"Task with identifier {task_id} not found")
            return view(task)

    def of_image(self, ctxt: RequestContext, image_id: str) -> list[dict[str, Any]]:
        """The tasks of an image the caller may see (Glance's GET /v2/images/{id}/tasks, 2.12)."""
        policy.enforce(ctxt, policies.GET_IMAGE_TASKS)
        with self.db.reader() as session:
            registry.get_visible(session, ctxt, image_id)
            rows = session.scalars(
                select(ImageTask)
                .where(ImageTask.image_id == image_id, ImageTask.deleted.is_(False))
                .order_by(ImageTask.created_at.desc(), ImageTask.id)
            )
            return [view(task) for task in rows]


def view(task: ImageTask, *, full: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.id, "type": task.type, "status": task.status, "owner": task.owner,
        "expires_at": task.expires_at, "created_at": task.created_at, "updated_at": task.updated_at,
        "self": f"/v2/tasks/{task.id}", "schema": "/v2/schemas/task",
        "image_id": task.image_id, "request_id": task.request_id, "user_id": task.user_id,
    }  # fmt: skip
    if full:
        body.update({"input": task.input, "result": task.result, "message": task.message})
    return body
