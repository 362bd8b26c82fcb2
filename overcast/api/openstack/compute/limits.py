"""GET /limits: the caller's project's absolute limits and usage (an admin may name another project)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast import errors, policy
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request

router = APIRouter()

LIMITS = "os_compute_api:limits"
OTHER_PROJECT = "os_compute_api:limits:other_project"
policy.register({LIMITS: policy.ANYONE, OTHER_PROJECT: policy.ADMIN})


@router.get("/limits")
def show_limits(request: Request, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, LIMITS)
    project_id = req.context.project_id
    requested = request.query_params.get("tenant_id")
    if requested is not None and requested != project_id:
        policy.enforce(req.context, OTHER_PROJECT, {"project_id": requested})
        project_id = requested
    if project_id is None:
        raise errors.BadRequest("The limits of a project need a project-scoped token or a tenant_id.")
    # Rate limits went away with Nova's v2 API; the key stays, always empty.
    return {"limits": {"rate": [], "absolute": req.admin.quotas.absolute_limits(project_id)}}
