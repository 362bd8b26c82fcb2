"""/v3/roles/{prior}/implies/{implied} and /v3/role_inferences: Keystone's implied roles."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, new_router, v3_url
from overcast.context import RequestContext
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)

RULE = "/v3/roles/{prior_role_id}/implies/{implied_role_id}"


def _linked(request: Request, rule: dict[str, Any]) -> dict[str, Any]:
    def with_link(role: dict[str, Any]) -> dict[str, Any]:
        return {**role, "links": {"self": v3_url(request, "roles", role["id"])}}

    implies = rule["implies"]
    return {
        "prior_role": with_link(rule["prior_role"]),
        "implies": [with_link(role) for role in implies] if isinstance(implies, list) else with_link(implies),
    }


def _one(request: Request, rule: dict[str, Any]) -> dict[str, Any]:
    return {"role_inference": _linked(request, rule), "links": {"self": str(request.url)}}


@router.put(RULE, status_code=201)
def create_implied_role(
    prior_role_id: str,
    implied_role_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> JSONResponse:
    policy.enforce(context, "identity:create_implied_role")
    rule = identity.implied_roles.create(prior_role_id, implied_role_id)
    return JSONResponse(_one(request, rule), status_code=201)


@router.get(RULE)
def get_implied_role(
    prior_role_id: str,
    implied_role_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_implied_role")
    return _one(request, identity.implied_roles.get(prior_role_id, implied_role_id))


@router.head(RULE, status_code=204)
def check_implied_role(
    prior_role_id: str,
    implied_role_id: str,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Response:
    policy.enforce(context, "identity:get_implied_role")
    identity.implied_roles.get(prior_role_id, implied_role_id)
    return Response(status_code=204)


@router.delete(RULE, status_code=204)
def delete_implied_role(
    prior_role_id: str,
    implied_role_id: str,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Response:
    policy.enforce(context, "identity:delete_implied_role")
    identity.implied_roles.delete(prior_role_id, implied_role_id)
    return Response(status_code=204)


@router.get("/v3/roles/{prior_role_id}/implies")
def list_implied_roles(
    prior_role_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_implied_roles")
    return _one(request, identity.implied_roles.list_implied(prior_role_id))


@router.get("/v3/role_inferences")
def list_role_inference_rules(
    request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_role_inference_rules")
    rules = [_linked(request, rule) for rule in identity.implied_roles.list_all()]
    return {"role_inferences": rules, "links": {"self": str(request.url)}}
