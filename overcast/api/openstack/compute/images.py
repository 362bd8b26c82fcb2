"""Nova's image proxy: /images, /images/detail, /images/{id} (show, delete) and /images/{id}/metadata,
up to 2.35 (404 after, as Nova), answered from the image service in Nova's image format.

A compute image shows Glance's status as Nova's (queued and saving are SAVING, with a progress), its
min_ram/min_disk as minRam/minDisk, its properties as `metadata`, and the server a snapshot came from.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, parse_int, require_version
from overcast.api.openstack.compute.microversion import MIN_VERSION
from overcast.api.openstack.compute.server_filters import parse_time
from overcast.compute import policies as rules
from overcast.image.api import MAX_LIMIT, ImageAPI
from overcast.image.registry import ImageFilters, ImageRecord

router = APIRouter()

NOVA_STATUS = {
    "active": "ACTIVE",
    "queued": "SAVING",
    "saving": "SAVING",
    "deleted": "DELETED",
    "pending_delete": "DELETED",
    "killed": "ERROR",
}
PROGRESS = {"queued": 25, "saving": 50, "active": 100}
IMAGE_MEDIA_TYPE = "application/vnd.openstack.image"
DEFAULT_PAGE = 1000
MAX_METADATA_TEXT = 255


def _images(req: ComputeRequest) -> ImageAPI:
    require_version(req, MIN_VERSION, v.NETWORK_QUOTAS_GONE)
    policy.enforce(req.context, rules.IMAGES_PROXY, {"project_id": req.context.project_id})
    images: ImageAPI = req.service.images
    return images


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _links(req: ComputeRequest, image_id: str) -> list[dict[str, str]]:
    image_root = req.links.bookmark_root.rsplit("/compute", 1)[0] + "/image"
    return [
        *req.links.pair("images", image_id),
        {"rel": "alternate", "type": IMAGE_MEDIA_TYPE, "href": f"{image_root}/images/{image_id}"},
    ]


def summary_view(req: ComputeRequest, record: ImageRecord) -> dict[str, Any]:
    image = record.image
    return {"id": image.id, "name": image.name, "links": _links(req, image.id)}


def image_view(req: ComputeRequest, record: ImageRecord) -> dict[str, Any]:
    image = record.image
    metadata = dict(image.properties)
    body: dict[str, Any] = {
        "id": image.id,
        "name": image.name,
        "minRam": image.min_ram or 0,
        "minDisk": image.min_disk or 0,
        "metadata": metadata,
        "created": _time(image.created_at),
        "updated": _time(image.updated_at),
        "status": NOVA_STATUS.get(image.status, "UNKNOWN"),
        "progress": PROGRESS.get(image.status, 0),
        "OS-EXT-IMG-SIZE:size": image.size,
        "links": _links(req, image.id),
    }
    server = metadata.get("instance_uuid")
    if server is not None:
        body["server"] = {"id": server, "links": req.links.pair("servers", str(server))}
    disk_config = metadata.get("auto_disk_config")
    if disk_config is not None:
        body["OS-DCF:diskConfig"] = (
            "AUTO" if str(disk_config).lower() in ("true", "1", "yes", "on") else "MANUAL"
        )
    return body


def _found(images: ImageAPI, req: ComputeRequest, image_id: str) -> ImageRecord:
    try:
        return images.get(req.context, image_id)
    except (errors.NotFound, errors.Forbidden):
        raise errors.NotFound("Image not found.") from None


def _listed(request: Request, req: ComputeRequest) -> tuple[list[ImageRecord], int]:
    """Nova's filters (name, status, changes-since, server, type, minRam, minDisk) applied before the
    page is cut, so limit and marker count only the images that match."""
    images = _images(req)
    query = request.query_params
    limit = parse_int("limit", query.get("limit")) or DEFAULT_PAGE
    status = query.get("status")
    since = query.get("changes-since")
    filters = ImageFilters(
        name=query.get("name"),
        status=status.lower() if status else None,
        changes_since=parse_time("changes-since", since) if since is not None else None,
        marker=query.get("marker"),
        limit=min(limit, MAX_LIMIT),
    )
    properties = {"instance_uuid": query.get("server"), "image_type": query.get("type")}
    at_least = {"min_ram": parse_int("minRam", query.get("minRam")),
                "min_disk": parse_int("minDisk", query.get("minDisk"))}  # fmt: skip

    def matches(record: ImageRecord) -> bool:
        image = record.image
        if any(
            value is not None and str(image.properties.get(key)) != value for key, value in properties.items()
        ):
            return False
        return all(least is None or getattr(image, name) >= least for name, least in at_least.items())

    found: list[ImageRecord] = []
    while len(found) < limit:
        try:
            batch = images.list(req.context, filters)
        except errors.NotFound:
            raise errors.BadRequest(f"marker [{query.get('marker')}] not found") from None
        found.extend(record for record in batch if matches(record))
        if len(batch) < filters.limit:
            break
        filters = replace(filters, marker=batch[-1].image.id)
    return found[:limit], limit


def _paged(
    request: Request, req: ComputeRequest, found: list[ImageRecord], limit: int, body: list[dict[str, Any]]
) -> dict[str, Any]:
    """The next page's link keeps the request's filters (as Nova's collection links do)."""
    page: dict[str, Any] = {"images": body}
    if found and len(found) >= limit:
        query = {
            **dict(sorted(request.query_params.items())),
            "limit": str(limit),
            "marker": found[-1].image.id,
        }
        page["images_links"] = req.links.next_page("images", query)
    return page


@router.get("/images")
def list_images(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    found, limit = _listed(request, req)
    return _paged(request, req, found, limit, [summary_view(req, record) for record in found])


@router.get("/images/detail")
def list_images_detail(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    found, limit = _listed(request, req)
    return _paged(request, req, found, limit, [image_view(req, record) for record in found])


@router.get("/images/{image_id}")
def show_image(image_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    return {"image": image_view(req, _found(_images(req), req, image_id))}


@router.delete("/images/{image_id}", status_code=204)
def delete_image(image_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    images = _images(req)
    _found(images, req, image_id)
    images.delete(req.context, image_id)
    return Response(status_code=204)


# --- metadata ---------------------------------------------------------------------------------------
def _metadata_body(body: Any, key: str) -> dict[str, str]:
    given = body.get(key) if isinstance(body, dict) else None
    if not isinstance(given, dict):
        raise errors.BadRequest("Malformed request body")
    for name, value in given.items():
        if not name or len(name) > MAX_METADATA_TEXT:
            raise errors.BadRequest("Image metadata key must be 1 to 255 characters.")
        if not isinstance(value, str) or len(value) > MAX_METADATA_TEXT:
            raise errors.BadRequest(
                f"Image metadata value of {name} must be a string of up to 255 characters."
            )
    return dict(given)


def _pointer(name: str) -> str:
    """A property's JSON pointer (a key may hold '/' or '~')."""
    return "/" + name.replace("~", "~0").replace("/", "~1")


def _write(images: ImageAPI, req: ComputeRequest, record: ImageRecord, wanted: dict[str, str]) -> ImageRecord:
    """Make the image's properties `wanted` (a JSON-patch of the difference, through the image service)."""
    current = record.image.properties
    operations: list[dict[str, Any]] = [
        {"op": "remove", "path": _pointer(name)} for name in current if name not in wanted
    ]
    operations += [
        {"op": "add", "path": _pointer(name), "value": value}
        for name, value in wanted.items()
        if current.get(name) != value
    ]
    if not operations:
        return record
    return images.update(req.context, record.image.id, operations)


@router.get("/images/{image_id}/metadata")
def show_metadata(image_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    return {"metadata": dict(_found(_images(req), req, image_id).image.properties)}


@router.post("/images/{image_id}/metadata")
def update_metadata(
    image_id: str, body: Any = Body(None), req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    images = _images(req)
    record = _found(images, req, image_id)
    merged = {**record.image.properties, **_metadata_body(body, "metadata")}
    return {"metadata": dict(_write(images, req, record, merged).image.properties)}


@router.put("/images/{image_id}/metadata")
def replace_metadata(
    image_id: str, body: Any = Body(None), req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    images = _images(req)
    record = _found(images, req, image_id)
    wanted = _metadata_body(body, "metadata")
    _write(images, req, record, wanted)
    return {"metadata": wanted}


@router.get("/images/{image_id}/metadata/{key}")
def show_metadata_item(
    image_id: str, key: str, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    properties = _found(_images(req), req, image_id).image.properties
    if key not in properties:
        raise errors.NotFound("Invalid metadata key")
    return {"meta": {key: properties[key]}}


@router.put("/images/{image_id}/metadata/{key}")
def update_metadata_item(
    image_id: str, key: str, body: Any = Body(None), req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    images = _images(req)
    record = _found(images, req, image_id)
    meta = _metadata_body(body, "meta")
    if key not in meta:
        raise errors.BadRequest("Request body and URI mismatch")
    if len(meta) > 1:
        raise errors.BadRequest("Request body contains too many items")
    _write(images, req, record, {**record.image.properties, **meta})
    return {"meta": meta}


@router.delete("/images/{image_id}/metadata/{key}", status_code=204)
def delete_metadata_item(image_id: str, key: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    images = _images(req)
    record = _found(images, req, image_id)
    if key not in record.image.properties:
        raise errors.NotFound("Invalid metadata key")
    _write(
        images, req, record, {name: value for name, value in record.image.properties.items() if name != key}
    )
    return Response(status_code=204)
