"""Volumes: the list (self-updating while one changes), create (empty, from an image or a snapshot),
attach and detach through compute, extend, snapshot, backup, delete; the project's snapshots."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError, ProjectAPI
from overcast.dashboard.paging import Order, fetch_page
from overcast.dashboard.web import Dashboard, Form

# Statuses a volume leaves by itself: while one is shown, the rows refresh.
PAGE_SIZE = 20
VOLUME_ORDER = Order({"sort": "name:asc"}, {"sort": "name:desc"})
_CHANGING = frozenset(
    {
        "creating",
        "attaching",
        "detaching",
        "extending",
        "deleting",
        "downloading",
        "uploading",
        "backing-up",
        "restoring-backup",
        "reserved",
        "reverting",
    }
)
_AVAILABLE = frozenset({"available"})
_IN_USE = frozenset({"in-use"})


def _whole_number(form: Form, name: str, label: str) -> int:
    text = form.get(name)
    if not text.isascii() or not text.isdigit():
        raise APIError(400, f"{label} must be a whole number.")
    return int(text)


async def _extend(api: ProjectAPI, volume: dict[str, Any], form: Form) -> None:
    size = _whole_number(form, "size", "The new size")
    await api.post("volume", f"/volumes/{volume['id']}/action", {"os-extend": {"new_size": size}})


async def _attach(api: ProjectAPI, volume: dict[str, Any], form: Form) -> None:
    body = {"volumeAttachment": {"volumeId": volume["id"]}}
    await api.post("compute", f"/servers/{form.get('server')}/os-volume_attachments", body)


async def _detach(api: ProjectAPI, volume: dict[str, Any], form: Form) -> None:
    for attachment in volume.get("attachments", []):
        await api.delete(
            "compute", f"/servers/{attachment['server_id']}/os-volume_attachments/{volume['id']}"
        )


async def _snapshot(api: ProjectAPI, volume: dict[str, Any], form: Form) -> None:
    body = {"volume_id": volume["id"], "name": form.get("name"), "force": volume["status"] == "in-use"}
    await api.post("volume", "/snapshots", {"snapshot": body})


async def _backup(api: ProjectAPI, volume: dict[str, Any], form: Form) -> None:
    body = {"volume_id": volume["id"], "name": form.get("name"), "force": volume["status"] == "in-use"}
    await api.post("volume", "/backups", {"backup": body})


async def _delete(api: ProjectAPI, volume: dict[str, Any], form: Form) -> None:
    await api.delete("volume", f"/volumes/{volume['id']}")


@dataclass(frozen=True)
class VolumeAction:
    name: str
    label: str
    statuses: frozenset[str]
    run: Callable[[ProjectAPI, dict[str, Any], Form], Awaitable[None]]
    fields: str = ""  # the template of its extra fields; empty: it posts straight from the row menu
    danger: bool = False


VOLUME_ACTIONS: dict[str, VolumeAction] = {
    action.name: action
    for action in (
        VolumeAction("attach", "Attach to instance", _AVAILABLE, _attach, "attach"),
        VolumeAction("detach", "Detach", _IN_USE, _detach),
        VolumeAction("extend", "Extend", _AVAILABLE | _IN_USE, _extend, "extend"),
        VolumeAction("snapshot", "Create snapshot", _AVAILABLE | _IN_USE, _snapshot, "snapshot"),
        VolumeAction("backup", "Create backup", _AVAILABLE | _IN_USE, _backup, "backup"),
        VolumeAction(
            "delete",
            "Delete",
            frozenset({"available", "error", "error_extending", "error_restoring"}),
            _delete,
            danger=True,
        ),
    )
}


def volume_actions_for(volume: dict[str, Any]) -> list[VolumeAction]:
    return [action for action in VOLUME_ACTIONS.values() if volume.get("status") in action.statuses]


def create_body(form: Form) -> dict[str, Any]:
    volume: dict[str, Any] = {"name": form.get("name"), "size": _whole_number(form, "size", "The size")}
    if form.get("description"):
        volume["description"] = form.get("description")
    if form.get("volume_type"):
        volume["volume_type"] = form.get("volume_type")
    source = form.get("source")
    if source.startswith("image:"):
        volume["imageRef"] = source.removeprefix("image:")
    elif source.startswith("snapshot:"):
        volume["snapshot_id"] = source.removeprefix("snapshot:")
    return {"volume": volume}


async def volume_listing(api: ProjectAPI, request: Request) -> dict[str, Any]:
    """A page of the project's volumes by name, their snapshots and the names of their servers."""

    async def fetch(order: Any) -> list[dict[str, Any]]:
        return list((await api.get("volume", "/volumes/detail", order))["volumes"])

    page, snapshots, servers = await asyncio.gather(
        fetch_page(
            fetch,
            VOLUME_ORDER,
            PAGE_SIZE,
            marker=request.query_params.get("marker", "").strip(),
            before=request.query_params.get("before", "").strip(),
        ),
        api.get("volume", "/snapshots/detail"),
        api.get("compute", "/servers", {"limit": 1000}),
    )
    names = {server["id"]: server["name"] for server in servers["servers"]}
    return {
        "volumes": page.rows,
        "page": page,
        "snapshots": snapshots["snapshots"],
        "server_names": names,
        "changing": any(volume["status"] in _CHANGING for volume in page.rows),
    }


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/project/volumes")

    @pages.get("/")
    async def volume_list(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        template = "volume_rows.html" if request.query_params.get("rows") else "volumes.html"
        return dashboard.render(
            request, template, **await volume_listing(signed.api, request), actions_for=volume_actions_for
        )

    @pages.get("/create")
    async def create_form(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        return dashboard.render(request, "volume_create.html", **await _create_choices(signed.api), error="")

    @pages.post("/create")
    async def create(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        try:
            await signed.api.post("volume", "/volumes", create_body(form))
        except APIError as refusal:
            choices = await _create_choices(signed.api)
            return dashboard.render(
                request, "volume_create.html", status=refusal.status, **choices, error=refusal.message
            )
        return dashboard.redirect(request, "/project/volumes/")

    @pages.get("/{volume_id}/action/{name}")
    async def action_form(request: Request, volume_id: str, name: str) -> Response:
        signed = dashboard.signed_in(request)
        action = VOLUME_ACTIONS.get(name)
        if action is None or not action.fields:
            raise APIError(404, f"There is no volume action {name!r}.")
        volume = (await signed.api.get("volume", f"/volumes/{volume_id}"))["volume"]
        servers: list[dict[str, Any]] = []
        if action.fields == "attach":
            servers = (await signed.api.get("compute", "/servers", {"limit": 1000}))["servers"]
        return dashboard.render(request, "volume_action.html", volume=volume, action=action, servers=servers)

    @pages.post("/{volume_id}/action/{name}")
    async def act(request: Request, volume_id: str, name: str) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        action = VOLUME_ACTIONS.get(name)
        if action is None:
            raise APIError(404, f"There is no volume action {name!r}.")
        volume = (await signed.api.get("volume", f"/volumes/{volume_id}"))["volume"]
        await action.run(signed.api, volume, form)
        return dashboard.redirect(request, "/project/volumes/")

    @pages.post("/snapshots/{snapshot_id}/delete")
    async def delete_snapshot(request: Request, snapshot_id: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        await signed.api.delete("volume", f"/snapshots/{snapshot_id}")
        return dashboard.redirect(request, "/project/volumes/")

    return pages


async def _create_choices(api: ProjectAPI) -> dict[str, Any]:
    types, images, snapshots = await asyncio.gather(
        api.get("volume", "/types"),
        api.get("image", "/images", {"status": "active", "limit": 200}),
        api.get("volume", "/snapshots", {"status": "available"}),
    )
    return {
        "volume_types": types["volume_types"],
        "images": images["images"],
        "snapshots": snapshots["snapshots"],
    }
