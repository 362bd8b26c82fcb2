"""/v3/policies: policy documents kept for other services."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, listing, new_router, with_link
from overcast.context import RequestContext
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)


class PolicyBody(BaseModel):
    policy: dict[str, Any]


@router.get("/v3/policies")
def list_policies(
    request: Request,
    type: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_policies")
    return listing(request, "policies", "policies", identity.policies.list_policies(type))


@router.post("/v3/policies", status_code=201)
def create_policy(
    body: PolicyBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_policies")
    return {"policy": with_link(request, "policies", identity.policies.create(body.policy))}


@router.get("/v3/policies/{policy_id}")
def show_policy(
    policy_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_policies")
    return {"policy": with_link(request, "policies", identity.policies.get(policy_id))}


@router.patch("/v3/policies/{policy_id}")
def update_policy(
    policy_id: str,
    body: PolicyBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_policies")
    return {"policy": with_link(request, "policies", identity.policies.update(policy_id, body.policy))}


@router.delete("/v3/policies/{policy_id}", status_code=204)
def delete_policy(
    policy_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_policies")
    identity.policies.delete(policy_id)
    return Response(status_code=204)
