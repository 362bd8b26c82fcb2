"""Role grants on projects and domains, and /v3/role_assignments."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, new_router, v3_url, with_link
from overcast.context import RequestContext
from overcast.identity.assignments import AssignmentFilter
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)

GRANT = "/v3/{target_type}/{target_id}/users/{user_id}/roles/{role_id}"


def _target(target_type: str) -> str:
    from overcast.errors import NotFound

    if target_type not in ("projects", "domains"):
        raise NotFound(f"Unknown grant target {target_type}.")
    return target_type[:-1]


@router.put(GRANT, status_code=204)
def grant_role(
    target_type: str,
    target_id: str,
    user_id: str,
    role_id: str,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Response:
    policy.enforce(context, "identity:manage_grant")
    identity.api.grant(_target(target_type), target_id, user_id, role_id)
    return Response(status_code=204)


@router.head(GRANT, status_code=204)
@router.get(GRANT, status_code=204)
def check_role(
    target_type: str,
    target_id: str,
    user_id: str,
    role_id: str,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Response:
    policy.enforce(context, "identity:check_grant")
    identity.api.check_grant(_target(target_type), target_id, user_id, role_id)
    return Response(status_code=204)


@router.delete(GRANT, status_code=204)
def revoke_role(
    target_type: str,
    target_id: str,
    user_id: str,
    role_id: str,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Response:
    policy.enforce(context, "identity:manage_grant")
    identity.api.revoke_grant(_target(target_type), target_id, user_id, role_id)
    return Response(status_code=204)


@router.get("/v3/{target_type}/{target_id}/users/{user_id}/roles")
def list_grants(
    target_type: str,
    target_id: str,
    user_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:check_grant")
    roles = identity.api.list_grants(_target(target_type), target_id, user_id)
    return {
        "roles": [with_link(request, "roles", role) for role in roles],
        "links": {"self": str(request.url), "previous": None, "next": None},
    }


@router.get("/v3/role_assignments")
def list_role_assignments(
    request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    params = request.query_params
    wanted = AssignmentFilter(
        user_id=params.get("user.id"),
        group_id=params.get("group.id"),
        project_id=params.get("scope.project.id"),
        domain_id=params.get("scope.domain.id"),
        role_id=params.get("role.id"),
        effective="effective" in params,
        include_names="include_names" in params
        and params.get("include_names", "").lower() not in ("0", "false"),
    )
    # A user may list their own assignments; everything else is the admin's.
    if not (wanted.user_id and wanted.user_id == context.user_id):
        policy.enforce(context, "identity:list_role_assignments")
    assignments = identity.assignments.find(wanted)
    for assignment in assignments:
        for kind, path in assignment["links"].items():
            assignment["links"][kind] = v3_url(request) + path
    return {
        "role_assignments": assignments,
        "links": {"self": str(request.url), "previous": None, "next": None},
    }
