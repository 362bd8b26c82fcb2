"""/image/v2/tasks (admins: Glance's tasks_api_access), /image/v2/images/{id}/tasks (the image's imports,
for whoever sees the image) and the task schemas."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request

from overcast import errors
from overcast.api.deps import get_context
from overcast.api.openstack.image.errors import GlanceRoute
from overcast.api.openstack.image.images import service
from overcast.api.openstack.image.metadefs import rendered
from overcast.context import RequestContext
from overcast.image.tasks import STATUSES, TaskFilters

router = APIRouter(route_class=GlanceRoute)
DEFAULT_LIMIT = 25

_TIME = {"type": ["null", "string"], "description": "Datetime in ISO 8601"}
TASK_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string", "description": "An identifier for the task"},
    "type": {"type": "string", "enum": ["import", "api_image_import"], "description": "The type of task"},
    "status": {"type": "string", "enum": list(STATUSES), "description": "The current status of this task"},
    "input": {"type": ["null", "object"], "description": "The parameters required by task"},
    "result": {"type": ["null", "object"], "description": "The result of current task"},
    "owner": {"type": "string", "description": "An identifier for the owner of this task"},
    "message": {"type": "string", "description": "Human-readable informative message"},
    "image_id": {"type": ["null", "string"], "description": "Image associated with the task"},
    "request_id": {"type": ["null", "string"], "description": "Request ID of the request that made it"},
    "user_id": {"type": ["null", "string"], "description": "User who made the request"},
    "expires_at": _TIME,
    "created_at": _TIME,
    "updated_at": _TIME,
    "self": {"type": "string"},
    "schema": {"type": "string"},
}


def task_schema() -> dict[str, Any]:
    return {
        "name": "task",
        "properties": TASK_PROPERTIES,
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}],
    }


@router.get("/image/v2/schemas/task")
def get_task_schema() -> dict[str, Any]:
    return task_schema()


@router.get("/image/v2/schemas/tasks")
def get_tasks_schema() -> dict[str, Any]:
    return {
        "name": "tasks",
        "properties": {"tasks": {"type": "array", "items": task_schema()}, "schema": {"type": "string"},
                       "first": {"type": "string"}, "next": {"type": "string"}},
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }  # fmt: skip


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isascii() or not value.isdigit():
        raise errors.BadRequest("limit param must be a positive integer")
    return int(value)


@router.get("/image/v2/tasks")
def list_tasks(request: Request, ctxt: RequestContext = Depends(get_context)) -> dict[str, Any]:
    query = request.query_params
    filters = TaskFilters(
        type=query.get("type"), status=query.get("status"), sort_key=query.get("sort_key", "created_at"),
        sort_dir=query.get("sort_dir", "desc"), marker=query.get("marker"), limit=_limit(query.get("limit")),
    )  # fmt: skip
    found = service(request).tasks.find(ctxt, filters)
    body: dict[str, Any] = {"tasks": rendered(found), "first": "/v2/tasks", "schema": "/v2/schemas/tasks"}
    if found and len(found) >= filters.limit > 0:
        params = [(key, value) for key, value in query.multi_items() if key != "marker"]
        body["next"] = "/v2/tasks?" + urlencode([*params, ("marker", found[-1]["id"])])
    return body


@router.get("/image/v2/tasks/{task_id}")
def show_task(task_id: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Any:
    return rendered(service(request).tasks.get(ctxt, task_id))


@router.get("/image/v2/images/{image_id}/tasks")
def image_tasks(image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Any:
    return {"tasks": rendered(service(request).tasks.of_image(ctxt, image_id))}
