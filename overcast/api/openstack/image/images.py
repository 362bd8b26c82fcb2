"""/image/v2/images: create, list, show, JSON-patch update, delete, deactivate/reactivate, tags, members."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from overcast import errors
from overcast.api.deps import get_context
from overcast.api.json_body import load_json
from overcast.api.openstack.image import views
from overcast.api.openstack.image.errors import GlanceRoute
from overcast.context import RequestContext
from overcast.image.api import ImageAPI
from overcast.image.data import IMPORT_METHODS
from overcast.image.patch import from_create_body, from_v2_0
from overcast.image.registry import ImageFilters

router = APIRouter(route_class=GlanceRoute)
PATCH_MEDIA_TYPE = "application/openstack-images-v2.1-json-patch"
# Glance still takes v2.0's form, whose operations name the op as their key.
PATCH_MEDIA_TYPE_2_0 = "application/openstack-images-v2.0-json-patch"
DEFAULT_LIMIT = 25
TIME_OPERATORS = ("gt", "gte", "lt", "lte", "eq", "neq")


def service(request: Request) -> ImageAPI:
    image_api: ImageAPI = request.app.state.image
    return image_api


async def json_body(request: Request) -> Any:
    raw = await request.body()
    return load_json(raw) if raw else None


def import_headers(image_api: ImageAPI) -> dict[str, str]:
    return {
        "OpenStack-image-import-methods": ",".join(IMPORT_METHODS),
        "OpenStack-image-store-ids": ",".join(image_api.stores),
    }


# --- list ---------------------------------------------------------------------------------------------
def _int(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.BadRequest(f"{name} param must be an integer") from None


def _time(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f"Invalid time format for {name}: {value}") from None
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment


def _bool(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise errors.BadRequest(f"Invalid value for {name}: {value}")
    return value.lower() == "true"


def _sort(request: Request) -> tuple[tuple[str, str], ...]:
    query = request.query_params
    if "sort" in query:
        if "sort_key" in query or "sort_dir" in query:
            raise errors.BadRequest("The 'sort' parameter cannot be combined with sort_key and sort_dir.")
        pairs = []
        for item in query["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key, direction or "desc"))
        return tuple(pairs)
    keys = query.getlist("sort_key") or ["created_at"]
    directions = query.getlist("sort_dir") or ["desc"]
    if len(directions) not in (1, len(keys)):
        raise errors.BadRequest("Give one sort_dir, or one for each sort_key.")
    if len(directions) == 1:
        directions = directions * len(keys)
    return tuple(zip(keys, directions, strict=True))


def parse_filters(request: Request) -> ImageFilters:
    query = request.query_params
    time_filters = []
    for column in ("created_at", "updated_at"):
        if column in query:
            operator, _, value = query[column].partition(":")
            if operator not in TIME_OPERATORS or not value:
                raise errors.BadRequest(f"Invalid {column} filter {query[column]!r}: use OPERATOR:TIME.")
            time_filters.append((column, operator, _time(column, value)))
    ids: tuple[str, ...] = ()
    if "id" in query:
        value = query["id"]
        ids = tuple(value[3:].split(",")) if value.startswith("in:") else (value,)
    limit = _int("limit", query.get("limit"))
    if limit is not None and limit < 0:
        raise errors.BadRequest("limit param must be positive")
    member_status = query.get("member_status", "accepted")
    if member_status not in ("pending", "accepted", "rejected", "all"):
        raise errors.BadRequest(f"Invalid member_status value: {member_status}")
    return ImageFilters(
        name=query.get("name"), status=query.get("status"), visibility=query.get("visibility"),
        owner=query.get("owner"), member_status=member_status, tags=tuple(query.getlist("tag")),
        disk_format=query.get("disk_format"), container_format=query.get("container_format"),
        size_min=_int("size_min", query.get("size_min")), size_max=_int("size_max", query.get("size_max")),
        changes_since=_time("changes-since", query["changes-since"]) if "changes-since" in query else None,
        protected=_bool("protected", query.get("protected")),
        os_hidden=bool(_bool("os_hidden", query.get("os_hidden"))),
        ids=ids, sort=_sort(request), marker=query.get("marker"),
        limit=DEFAULT_LIMIT if limit is None else limit, time_filters=tuple(time_filters),
    )  # fmt: skip


@router.get("/image/v2/images")
def list_images(request: Request, ctxt: RequestContext = Depends(get_context)) -> dict[str, Any]:
    filters = parse_filters(request)
    records = service(request).list(ctxt, filters)
    body: dict[str, Any] = {
        "images": [views.image(record) for record in records],
        "first": "/v2/images",
        "schema": "/v2/schemas/images",
    }
    if records and len(records) >= filters.limit > 0:
        params = [(key, value) for key, value in request.query_params.multi_items() if key != "marker"]
        params.append(("marker", records[-1].image.id))
        body["next"] = "/v2/images?" + urlencode(params)
    return body


# --- create / show / update / delete ------------------------------------------------------------------
@router.post("/image/v2/images", status_code=201)
async def create_image(request: Request, ctxt: RequestContext = Depends(get_context)) -> Response:
    body = await json_body(request)
    changes = from_create_body(body)
    image_api = service(request)
    record = image_api.create(ctxt, changes, image_id=body.get("id"))
    location = f"{request.app.state.settings.base_url}/image/v2/images/{record.image.id}"
    headers = {"Location": location, **import_headers(image_api)}
    return JSONResponse(views.image(record), status_code=201, headers=headers)


# An empty id (GET /v2/images/) names no image: Glance answers 404, where a redirect to the list
# would hand a client that built the path from an empty id the wrong resource.
@router.get("/image/v2/images/")
@router.delete("/image/v2/images/")
@router.patch("/image/v2/images/")
def empty_image_id(request: Request, ctxt: RequestContext = Depends(get_context)) -> Response:
    image_api = service(request)
    if request.method == "GET":
        image_api.get(ctxt, "")
    elif request.method == "DELETE":
        image_api.delete(ctxt, "")
    else:
        image_api.update(ctxt, "", [])
    raise errors.NotFound("No image found with ID ''")  # what the calls above raise first


@router.get("/image/v2/images/{image_id}")
def show_image(image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Response:
    image_api = service(request)
    return JSONResponse(views.image(image_api.get(ctxt, image_id)), headers=import_headers(image_api))


@router.patch("/image/v2/images/{image_id}")
async def update_image(
    image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in (PATCH_MEDIA_TYPE, PATCH_MEDIA_TYPE_2_0):
        return JSONResponse(
            {"message": f"Unsupported Content-Type {content_type!r}: send {PATCH_MEDIA_TYPE}.",
             "code": "415 Unsupported Media Type", "title": "Unsupported Media Type"},
            status_code=415, headers={"Accept-Patch": f"{PATCH_MEDIA_TYPE}, {PATCH_MEDIA_TYPE_2_0}"},
        )  # fmt: skip
    operations = await json_body(request)
    if content_type == PATCH_MEDIA_TYPE_2_0:
        operations = from_v2_0(operations)
    record = service(request).update(ctxt, image_id, operations)
    return JSONResponse(views.image(record))


@router.delete("/image/v2/images/{image_id}", status_code=204)
def delete_image(image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Response:
    service(request).delete(ctxt, image_id)
    return Response(status_code=204)


@router.post("/image/v2/images/{image_id}/actions/deactivate", status_code=204)
def deactivate(image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Response:
    service(request).deactivate(ctxt, image_id)
    return Response(status_code=204)


@router.post("/image/v2/images/{image_id}/actions/reactivate", status_code=204)
def reactivate(image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Response:
    service(request).reactivate(ctxt, image_id)
    return Response(status_code=204)


# --- tags ---------------------------------------------------------------------------------------------
@router.put("/image/v2/images/{image_id}/tags/{tag}", status_code=204)
def add_tag(
    image_id: str, tag: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Response:
    service(request).add_tag(ctxt, image_id, tag)
    return Response(status_code=204)


@router.delete("/image/v2/images/{image_id}/tags/{tag}", status_code=204)
def remove_tag(
    image_id: str, tag: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Response:
    service(request).remove_tag(ctxt, image_id, tag)
    return Response(status_code=204)


# --- members ------------------------------------------------------------------------------------------
@router.get("/image/v2/images/{image_id}/members")
def list_members(
    image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> dict[str, Any]:
    rows = service(request).members.list(ctxt, image_id)
    return {"members": [views.member(row) for row in rows], "schema": "/v2/schemas/members"}


@router.post("/image/v2/images/{image_id}/members")
async def add_member(image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Any:
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("member"), str):
        raise errors.BadRequest('The request body must be {"member": "<project id>"}.')
    return views.member(service(request).members.add(ctxt, image_id, body["member"]))


@router.get("/image/v2/images/{image_id}/members/{member_id}")
def show_member(
    image_id: str, member_id: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Any:
    return views.member(service(request).members.get(ctxt, image_id, member_id))


@router.put("/image/v2/images/{image_id}/members/{member_id}")
async def update_member(
    image_id: str, member_id: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Any:
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise errors.BadRequest('The request body must be {"status": "accepted|rejected|pending"}.')
    return views.member(service(request).members.update(ctxt, image_id, member_id, body["status"]))


@router.delete("/image/v2/images/{image_id}/members/{member_id}", status_code=204)
def delete_member(
    image_id: str, member_id: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Response:
    service(request).members.delete(ctxt, image_id, member_id)
    return Response(status_code=204)
