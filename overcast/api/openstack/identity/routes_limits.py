"""Unified limits: /v3/registered_limits, /v3/limits and /v3/limits/model, as Keystone serves them."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, listing, new_router, with_link
from overcast.context import RequestContext
from overcast.errors import BadRequest, NotFound
from overcast.identity.limits import LIMIT_MODEL
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)


class RegisteredLimitsBody(BaseModel):
    registered_limits: list[dict[str, Any]]


class RegisteredLimitBody(BaseModel):
    registered_limit: dict[str, Any]


class LimitsBody(BaseModel):
    limits: list[dict[str, Any]]


class LimitBody(BaseModel):
    limit: dict[str, Any]


def _batch(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not items:
        raise BadRequest("Invalid input: at least one limit is required.")
    return items


def _sees_every_limit(context: RequestContext) -> bool:
    return policy.authorize(context, "identity:list_every_limit")


# Registered limits --------------------------------------------------------------------------------------
@router.get("/v3/registered_limits")
def list_registered_limits(
    request: Request,
    service_id: str | None = None,
    region_id: str | None = None,
    resource_name: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_registered_limits")
    filters = {"service_id": service_id, "region_id": region_id, "resource_name": resource_name}
    return listing(
        request, "registered_limits", "registered_limits", identity.limits.list_registered(filters)
    )


@router.post("/v3/registered_limits", status_code=201)
def create_registered_limits(
    body: RegisteredLimitsBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_registered_limits")
    created = identity.limits.create_registered(_batch(body.registered_limits))
    return {"registered_limits": [with_link(request, "registered_limits", limit) for limit in created]}


@router.get("/v3/registered_limits/{limit_id}")
def show_registered_limit(
    limit_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_registered_limits")
    return {
        "registered_limit": with_link(request, "registered_limits", identity.limits.get_registered(limit_id))
    }


@router.patch("/v3/registered_limits/{limit_id}")
def update_registered_limit(
    limit_id: str,
    body: RegisteredLimitBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_registered_limits")
    limit = identity.limits.update_registered(limit_id, body.registered_limit)
    return {"registered_limit": with_link(request, "registered_limits", limit)}


@router.delete("/v3/registered_limits/{limit_id}", status_code=204)
def delete_registered_limit(
    limit_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_registered_limits")
    identity.limits.delete_registered(limit_id)
    return Response(status_code=204)


# Project and domain limits ------------------------------------------------------------------------------
@router.get("/v3/limits/model")
def show_limit_model(context: RequestContext = Ctx) -> dict[str, Any]:
    policy.enforce(context, "identity:get_limit_model")
    return {"model": dict(LIMIT_MODEL)}


@router.get("/v3/limits")
def list_limits(
    request: Request,
    service_id: str | None = None,
    region_id: str | None = None,
    resource_name: str | None = None,
    project_id: str | None = None,
    domain_id: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_limits")
    if not _sees_every_limit(context):
        # A project's users see their project's limits; a domain's, their domain's (Keystone's filtering).
        project_id, domain_id = (
            (context.project_id, None) if context.project_id else (None, context.domain_id)
        )
    filters = {
        "service_id": service_id,
        "region_id": region_id,
        "resource_name": resource_name,
        "project_id": project_id,
        "domain_id": domain_id,
    }
    return listing(request, "limits", "limits", identity.limits.list_limits(filters))


@router.post("/v3/limits", status_code=201)
def create_limits(
    body: LimitsBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_limits")
    created = identity.limits.create_limits(_batch(body.limits))
    return {"limits": [with_link(request, "limits", limit) for limit in created]}


@router.get("/v3/limits/{limit_id}")
def show_limit(
    limit_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_limits")
    limit = identity.limits.get_limit(limit_id)
    mine = context.project_id is not None and limit["project_id"] == context.project_id
    if not mine and not _sees_every_limit(context):
        raise NotFound(f"Could not find limit for {limit_id}.")
    return {"limit": with_link(request, "limits", limit)}


@router.patch("/v3/limits/{limit_id}")
def update_limit(
    limit_id: str,
    body: LimitBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_limits")
    return {"limit": with_link(request, "limits", identity.limits.update_limit(limit_id, body.limit))}


@router.delete("/v3/limits/{limit_id}", status_code=204)
def delete_limit(
    limit_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_limits")
    identity.limits.delete_limit(limit_id)
    return Response(status_code=204)
