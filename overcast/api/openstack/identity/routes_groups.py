"""/v3/groups and group membership (a group's role grants are routes_grants')."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, listing, new_router, with_link
from overcast.api.openstack.identity.schemas import GroupBody, set_fields
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.identity.core import DEFAULT_DOMAIN_ID
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)

MEMBER = "/v3/groups/{group_id}/users/{user_id}"


# Groups -------------------------------------------------------------------------------------------------
@router.get("/v3/groups")
def list_groups(
    request: Request,
    name: str | None = None,
    domain_id: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_groups")
    return listing(request, "groups", "groups", identity.groups.list_groups(domain_id, name))


@router.post("/v3/groups", status_code=201)
def create_group(
    body: GroupBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_group")
    fields = set_fields(body.group)
    if not fields.get("name"):
        raise BadRequest("Invalid input for field 'name': a group needs a name.")
    fields["domain_id"] = fields.get("domain_id") or context.domain_id or DEFAULT_DOMAIN_ID
    return {"group": with_link(request, "groups", identity.groups.create_group(fields))}


@router.get("/v3/groups/{group_id}")
def show_group(
    group_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_group")
    return {"group": with_link(request, "groups", identity.groups.get_group(group_id))}


@router.patch("/v3/groups/{group_id}")
def update_group(
    group_id: str,
    body: GroupBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_group")
    group = identity.groups.update_group(group_id, set_fields(body.group))
    return {"group": with_link(request, "groups", group)}


@router.delete("/v3/groups/{group_id}", status_code=204)
def delete_group(
    group_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_group")
    identity.groups.delete_group(group_id)
    return Response(status_code=204)


# Membership ---------------------------------------------------------------------------------------------
@router.put(MEMBER, status_code=204)
def add_member(
    group_id: str, user_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_group")
    identity.groups.add_member(group_id, user_id)
    return Response(status_code=204)


@router.head(MEMBER, status_code=204)
@router.get(MEMBER, status_code=204)
def check_member(
    group_id: str, user_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:get_group")
    identity.groups.check_member(group_id, user_id)
    return Response(status_code=204)


@router.delete(MEMBER, status_code=204)
def remove_member(
    group_id: str, user_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_group")
    identity.groups.remove_member(group_id, user_id)
    return Response(status_code=204)


@router.get("/v3/groups/{group_id}/users")
def list_members(
    group_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_group")
    return listing(request, "users", "users", identity.groups.list_members(group_id))


@router.get("/v3/users/{user_id}/groups")
def list_user_groups(
    user_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_user_groups", {"user_id": user_id})
    return listing(request, "groups", "groups", identity.groups.list_user_groups(user_id))
