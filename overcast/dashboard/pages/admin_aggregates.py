"""Editing host aggregates (Nova's os-aggregates): create, rename and zone, hosts in and out, metadata,
delete. The list itself is admin.py's aggregates page, which carries these forms."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError
from overcast.dashboard.pages.admin import admin_only, key_values
from overcast.dashboard.web import Dashboard, Form

BACK = "/admin/aggregates/"


def aggregate_body(form: Form) -> dict[str, Any]:
    """Nova's aggregate body: a name, and a zone or none (null)."""
    name = form.get("name")
    if not name:
        raise APIError(400, "An aggregate needs a name.")
    return {"aggregate": {"name": name, "availability_zone": form.get("availability_zone") or None}}


def metadata_change(current: dict[str, str], form: Form) -> dict[str, str | None]:
    """set_metadata's body from the form's `key=value` lines: keys no longer there are removed (null)."""
    wanted: dict[str, str | None] = dict(key_values(form.get("metadata"), "Metadata"))
    return {**{key: None for key in current if key not in wanted}, **wanted}


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/admin/aggregates")

    @pages.post("/create")
    async def create(request: Request) -> Response:
        signed = admin_only(dashboard, request)
        form = await dashboard.form(request, signed)
        await signed.api.post("compute", "/os-aggregates", aggregate_body(form))
        return dashboard.redirect(request, BACK)

    @pages.post("/{aggregate_id}/{change}")
    async def change(request: Request, aggregate_id: str, change: str) -> Response:
        signed = admin_only(dashboard, request)
        form = await dashboard.form(request, signed)
        path = f"/os-aggregates/{quote(aggregate_id, safe='')}"
        if change == "update":
            await signed.api.put("compute", path, aggregate_body(form))
        elif change in ("add_host", "remove_host"):
            if not form.get("host"):
                raise APIError(400, "Choose a host.")
            await signed.api.post("compute", f"{path}/action", {change: {"host": form.get("host")}})
        elif change == "metadata":
            current = (await signed.api.get("compute", path))["aggregate"].get("metadata") or {}
            # A zone is set with the aggregate's own field; Nova keeps it as metadata too.
            current = {key: value for key, value in current.items() if key != "availability_zone"}
            body = {"set_metadata": {"metadata": metadata_change(current, form)}}
            await signed.api.post("compute", f"{path}/action", body)
        elif change == "delete":
            await signed.api.delete("compute", path)
        else:
            raise APIError(404, "There is no such page.")
        return dashboard.redirect(request, BACK)

    return pages
