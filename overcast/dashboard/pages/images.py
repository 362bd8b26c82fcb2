"""Images: the list, a new image uploaded with a progress bar, properties, visibility and members, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from overcast.dashboard.client import APIError, ProjectAPI
from overcast.dashboard.paging import Order, fetch_page
from overcast.dashboard.web import Dashboard, Form

JSON_PATCH = "application/openstack-images-v2.1-json-patch"
PAGE_SIZE = 50
IMAGE_ORDER = Order({"sort": "name:asc"}, {"sort": "name:desc"})
DISK_FORMATS = ("qcow2", "raw", "iso", "vmdk", "vdi", "vhd", "vhdx", "ami", "ari", "aki")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "ami", "ari", "aki", "docker")
VISIBILITIES = ("private", "shared", "community", "public")
# Glance's own fields: the form edits some, the rest are not the user's to change as properties.
_BASE_FIELDS = frozenset(
    {
        "id",
        "name",
        "status",
        "visibility",
        "protected",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "owner",
        "size",
        "virtual_size",
        "min_ram",
        "min_disk",
        "created_at",
        "updated_at",
        "tags",
        "self",
        "file",
        "schema",
        "disk_format",
        "container_format",
        "direct_url",
        "locations",
        "os_hidden",
        "stores",
    }
)


def custom_properties(image: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in image.items() if key not in _BASE_FIELDS}


def _whole_number(form: Form, name: str) -> int:
    text = form.get(name, "0") or "0"
    if not text.isascii() or not text.isdigit():
        raise APIError(400, f"{name.replace('_', ' ').capitalize()} must be a whole number.")
    return int(text)


def property_changes(image: dict[str, Any], form: Form) -> list[dict[str, Any]]:
    """The JSON patch from what the edit form says to what the image is: name, minimums, visibility,
    protection, and the custom properties (one `key=value` a line; a line gone removes the property)."""
    wanted: dict[str, Any] = {
        "name": form.get("name"),
        "min_disk": _whole_number(form, "min_disk"),
        "min_ram": _whole_number(form, "min_ram"),
        "visibility": form.get("visibility", image.get("visibility", "private")),
        "protected": form.get("protected") == "on",
    }
    changes = [
        {"op": "replace", "path": f"/{key}", "value": value}
        for key, value in wanted.items()
        if image.get(key) != value
    ]
    properties: dict[str, str] = {}
    for line in form.get("properties").splitlines():
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise APIError(400, f"Property line {line.strip()!r} is not key=value.")
        properties[key.strip()] = value.strip()
    current = custom_properties(image)
    for key in current.keys() - properties.keys():
        changes.append({"op": "remove", "path": f"/{key}"})
    for key, value in properties.items():
        if current.get(key) != value:
            changes.append({"op": "replace" if key in current else "add", "path": f"/{key}", "value": value})
    return changes


async def image_page(api: ProjectAPI, image_id: str) -> dict[str, Any]:
    image = await api.get("image", f"/images/{image_id}")
    members: list[dict[str, Any]] = []
    if image.get("visibility") == "shared" and image.get("owner") == api.login.project_id:
        members = (await api.get("image", f"/images/{image_id}/members"))["members"]
    return {"image": image, "members": members, "properties": custom_properties(image)}


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/project/images")

    @pages.get("/")
    async def image_list(request: Request) -> Response:
        signed = dashboard.signed_in(request)

        async def fetch(order: Any) -> list[dict[str, Any]]:
            return list((await signed.api.get("image", "/images", order))["images"])

        page = await fetch_page(
            fetch,
            IMAGE_ORDER,
            PAGE_SIZE,
            marker=request.query_params.get("marker", "").strip(),
            before=request.query_params.get("before", "").strip(),
        )
        return dashboard.render(
            request, "images.html", images=page.rows, page=page, project_id=signed.api.login.project_id
        )

    @pages.get("/create")
    async def create_form(request: Request) -> Response:
        dashboard.signed_in(request)
        return dashboard.render(
            request,
            "image_create.html",
            disk_formats=DISK_FORMATS,
            container_formats=CONTAINER_FORMATS,
            visibilities=VISIBILITIES,
        )

    @pages.post("/create")
    async def create(request: Request) -> Response:
        """Makes the image record; the page's script then sends the file to /{id}/data (JSON answers)."""
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        body = {
            "name": form.get("name"),
            "disk_format": form.get("disk_format"),
            "container_format": form.get("container_format"),
            "visibility": form.get("visibility", "private"),
            "min_disk": _whole_number(form, "min_disk"),
            "min_ram": _whole_number(form, "min_ram"),
        }
        image = await signed.api.post("image", "/images", body)
        return JSONResponse(
            {"id": image["id"], "data_url": dashboard.url(f"/project/images/{image['id']}/data")},
            status_code=201,
        )

    @pages.put("/{image_id}/data")
    async def upload(request: Request, image_id: str) -> Response:
        signed = dashboard.signed_in(request)
        dashboard.check_csrf_header(request, signed)

        async def body() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                if chunk:
                    yield chunk

        await signed.api.upload("image", f"/images/{image_id}/file", body(), "application/octet-stream")
        return JSONResponse({"id": image_id, "detail_url": dashboard.url(f"/project/images/{image_id}")})

    @pages.get("/{image_id}")
    async def detail(request: Request, image_id: str) -> Response:
        signed = dashboard.signed_in(request)
        return dashboard.render(
            request,
            "image.html",
            **await image_page(signed.api, image_id),
            visibilities=VISIBILITIES,
            error="",
        )

    @pages.post("/{image_id}/edit")
    async def edit(request: Request, image_id: str) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        image = await signed.api.get("image", f"/images/{image_id}")
        try:
            changes = property_changes(image, form)
            if changes:
                await signed.api.patch("image", f"/images/{image_id}", changes, JSON_PATCH)
        except APIError as refusal:
            page = await image_page(signed.api, image_id)
            return dashboard.render(
                request,
                "image.html",
                status=refusal.status,
                **page,
                visibilities=VISIBILITIES,
                error=refusal.message,
            )
        return dashboard.redirect(request, f"/project/images/{image_id}")

    @pages.post("/{image_id}/members")
    async def add_member(request: Request, image_id: str) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        await signed.api.post("image", f"/images/{image_id}/members", {"member": form.get("member")})
        return dashboard.redirect(request, f"/project/images/{image_id}")

    @pages.post("/{image_id}/members/{member_id}/delete")
    async def remove_member(request: Request, image_id: str, member_id: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        await signed.api.delete("image", f"/images/{image_id}/members/{member_id}")
        return dashboard.redirect(request, f"/project/images/{image_id}")

    @pages.post("/{image_id}/delete")
    async def delete(request: Request, image_id: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        await signed.api.delete("image", f"/images/{image_id}")
        return dashboard.redirect(request, "/project/images/")

    return pages
