"""One flavor, for the operator: why it has no valid host (the scheduler's dry run, through the compute
API's os-scheduler-explain) and which projects a private flavor is given to (os-flavor-access)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError
from overcast.dashboard.pages.admin import admin_only
from overcast.dashboard.web import Dashboard

# What the dry run may be asked beside the flavor: a boot's image, zone and project.
EXPLAIN_PARAMETERS = ("image_id", "availability_zone", "project_id")


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/admin/flavors")

    @pages.get("/{flavor_id}/")
    async def flavor(request: Request, flavor_id: str) -> Response:
        signed = admin_only(dashboard, request)
        asked = {name: request.query_params.get(name, "").strip() for name in EXPLAIN_PARAMETERS}
        path = f"/flavors/{quote(flavor_id, safe='')}"
        found, explanation, projects = await asyncio.gather(
            signed.api.get("compute", path),
            signed.api.get("compute", f"{path}/os-scheduler-explain", asked),
            signed.api.get("identity", "/projects"),
        )
        details = found["flavor"]
        access: list[dict[str, Any]] = []
        if not details.get("os-flavor-access:is_public", True):
            access = (await signed.api.get("compute", f"{path}/os-flavor-access"))["flavor_access"]
        names = {project["id"]: project["name"] for project in projects["projects"]}
        given = {entry["tenant_id"] for entry in access}
        return dashboard.render(
            request,
            "admin_flavor.html",
            flavor=details,
            explanation=explanation["scheduler_explanation"],
            asked=asked,
            access=access,
            project_names=names,
            addable=sorted(
                (project for project in projects["projects"] if project["id"] not in given),
                key=lambda project: str(project["name"]),
            ),
        )

    @pages.post("/{flavor_id}/access")
    async def change_access(request: Request, flavor_id: str) -> Response:
        """Gives the flavor to a project, or takes it back (Nova's add/removeTenantAccess actions)."""
        signed = admin_only(dashboard, request)
        form = await dashboard.form(request, signed)
        project_id, change = form.get("project_id"), form.get("change")
        if not project_id:
            raise APIError(400, "Choose a project.")
        actions = {"add": "addTenantAccess", "remove": "removeTenantAccess"}
        if change not in actions:
            raise APIError(400, "The change must be add or remove.")
        path = f"/flavors/{quote(flavor_id, safe='')}/action"
        await signed.api.post("compute", path, {actions[change]: {"tenant": project_id}})
        return dashboard.redirect(request, f"/admin/flavors/{quote(flavor_id, safe='')}/")

    return pages
