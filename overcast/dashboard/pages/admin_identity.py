"""Editing identities (Keystone v3): projects and users made, enabled, disabled and deleted, groups and
their members, role assignments granted and revoked. The list itself is admin.py's identity page, which
carries these forms."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError
from overcast.dashboard.pages.admin import admin_only
from overcast.dashboard.web import Dashboard, Form

BACK = "/admin/identity/"
JSON = "application/json"
# What may be made, switched on and off, or deleted from the page; Keystone's collection and body names.
KINDS = {"projects": "project", "users": "user", "groups": "group"}


def _id(form: Form, name: str, label: str) -> str:
    value = form.get(name)
    if not value:
        raise APIError(400, f"Choose a {label}.")
    return quote(value, safe="")


def new_entity(kind: str, form: Form) -> dict[str, Any]:
    """Keystone's create body for a project, user or group, in the form's domain (default: Default's)."""
    name = form.get("name")
    if not name:
        raise APIError(400, f"A {KINDS[kind]} needs a name.")
    entity: dict[str, Any] = {"name": name, "domain_id": form.get("domain_id") or "default"}
    if form.get("description"):
        entity["description"] = form.get("description")
    if kind == "users":
        if not form.get("password"):
            raise APIError(400, "A user needs a password.")
        entity["password"] = form.get("password")
        if form.get("default_project_id"):
            entity["default_project_id"] = form.get("default_project_id")
    return {KINDS[kind]: entity}


def assignment_path(form: Form) -> str:
    """/projects/{p}/users/{u}/roles/{r} or /projects/{p}/groups/{g}/roles/{r}: who is `user:<id>` or
    `group:<id>`."""
    kind, _, actor = form.get("actor").partition(":")
    if kind not in ("user", "group") or not actor:
        raise APIError(400, "Choose a user or a group.")
    project, role = _id(form, "project_id", "project"), _id(form, "role_id", "role")
    return f"/projects/{project}/{kind}s/{quote(actor, safe='')}/roles/{role}"


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/admin/identity")

    @pages.post("/{kind}/create")
    async def create(request: Request, kind: str) -> Response:
        signed = admin_only(dashboard, request)
        form = await dashboard.form(request, signed)
        if kind not in KINDS:
            raise APIError(404, "There is no such page.")
        await signed.api.post("identity", f"/{kind}", new_entity(kind, form))
        return dashboard.redirect(request, BACK)

    @pages.post("/{kind}/{entity_id}/{change}")
    async def change(request: Request, kind: str, entity_id: str, change: str) -> Response:
        signed = admin_only(dashboard, request)
        form = await dashboard.form(request, signed)
        if kind not in KINDS:
            raise APIError(404, "There is no such page.")
        path = f"/{kind}/{quote(entity_id, safe='')}"
        if change in ("enable", "disable") and kind != "groups":
            body = {KINDS[kind]: {"enabled": change == "enable"}}
            await signed.api.patch("identity", path, body, JSON)
        elif change == "delete":
            await signed.api.delete("identity", path)
        elif change in ("add_member", "remove_member") and kind == "groups":
            member = f"{path}/users/{_id(form, 'user_id', 'user')}"
            if change == "add_member":
                await signed.api.put("identity", member, None)
            else:
                await signed.api.delete("identity", member)
        else:
            raise APIError(404, "There is no such page.")
        return dashboard.redirect(request, BACK)

    @pages.post("/assignments/{change}")
    async def assignment(request: Request, change: str) -> Response:
        signed = admin_only(dashboard, request)
        form = await dashboard.form(request, signed)
        if change == "grant":
            await signed.api.put("identity", assignment_path(form), None)
        elif change == "revoke":
            await signed.api.delete("identity", assignment_path(form))
        else:
            raise APIError(404, "There is no such page.")
        return dashboard.redirect(request, BACK)

    return pages
