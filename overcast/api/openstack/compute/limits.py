"""GET /limits: the caller's project's absolute limits and usage (an admin may name another project).

The network limits go at 2.36, maxImageMeta at 2.39, the personality limits at 2.57.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request
from overcast.compute import policies

router = APIRouter()

NETWORK_LIMITS = frozenset({"maxSecurityGroupRules", "maxSecurityGroups", "maxTotalFloatingIps",
                            "totalFloatingIpsUsed", "totalSecurityGroupsUsed"})  # fmt: skip

LIMITS = policies.LIMITS
OTHER_PROJECT = policies.LIMITS_OTHER_PROJECT


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
    absolute = req.admin.quotas.absolute_limits(project_id)
    version = req.compute.version
    hidden: set[str] = set()
    if version >= v.NETWORK_QUOTAS_GONE:
        hidden |= NETWORK_LIMITS
    if version >= v.IMAGE_META_LIMIT_GONE:
        hidden.add("maxImageMeta")
    if version >= v.PERSONALITY_GONE:
        hidden |= {"maxPersonality", "maxPersonalitySize"}
    # Rate limits went away with Nova's v2 API; the key stays, always empty.
    return {"limits": {"rate": [], "absolute": {k: n for k, n in absolute.items() if k not in hidden}}}
