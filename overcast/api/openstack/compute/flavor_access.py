"""/flavors/{flavor_id}/os-flavor-access and the addTenantAccess/removeTenantAccess flavor actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.admin_common import (
    AdminRequest,
    admin_request,
    bounded_string,
    json_object,
)
from overcast.compute import policies

router = APIRouter()

LIST = policies.FLAVOR_ACCESS_LIST
ADD = policies.FLAVOR_ACCESS_ADD
REMOVE = policies.FLAVOR_ACCESS_REMOVE


def _access_list(flavor_id: str, projects: list[str]) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": project} for project in projects]}


@router.get("/flavors/{flavor_id}/os-flavor-access")
def list_flavor_access(flavor_id: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, LIST)
    return _access_list(flavor_id, req.admin.flavor_access.projects(flavor_id))


@router.post("/flavors/{flavor_id}/action")
def flavor_action(
    flavor_id: str, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    if isinstance(body, dict) and "addTenantAccess" in body:
        policy.enforce(req.context, ADD)
        tenant = bounded_string("tenant", json_object(body, "addTenantAccess").get("tenant"))
        refuse_public = req.compute.version >= v.FLAVOR_ACCESS_CONFLICT
        return _access_list(
            flavor_id, req.admin.flavor_access.add_project(flavor_id, tenant, refuse_public=refuse_public)
        )
    if isinstance(body, dict) and "removeTenantAccess" in body:
        policy.enforce(req.context, REMOVE)
        tenant = bounded_string("tenant", json_object(body, "removeTenantAccess").get("tenant"))
        return _access_list(flavor_id, req.admin.flavor_access.remove_project(flavor_id, tenant))
    raise errors.BadRequest("There is no such action")
