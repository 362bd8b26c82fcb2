"""/v3/role_assignments: who holds which role where."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, new_router, v3_url
from overcast.context import RequestContext
from overcast.identity.assignments import AssignmentFilter
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)


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
        system=params.get("scope.system") == "all",
        inherited_only=params.get("scope.OS-INHERIT:inherited_to") == "projects",
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
