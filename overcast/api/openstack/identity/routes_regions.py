"""/v3/regions: the catalog's regions (POST picks an id or takes the body's; PUT creates with the path's)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, listing, new_router, with_link
from overcast.api.openstack.identity.schemas import RegionBody, set_fields
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)


@router.get("/v3/regions")
def list_regions(
    request: Request,
    parent_region_id: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_regions")
    return listing(request, "regions", "regions", identity.regions.list_regions(parent_region_id))


@router.post("/v3/regions", status_code=201)
def create_region(
    body: RegionBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_region")
    return {"region": with_link(request, "regions", identity.regions.create_region(set_fields(body.region)))}


@router.put("/v3/regions/{region_id}", status_code=201)
def create_region_with_id(
    region_id: str,
    body: RegionBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_region")
    fields = set_fields(body.region)
    if fields.get("id") not in (None, region_id):
        raise BadRequest("The region id in the body does not match the one in the URL.")
    fields["id"] = region_id
    return {"region": with_link(request, "regions", identity.regions.create_region(fields))}


@router.get("/v3/regions/{region_id}")
def show_region(
    region_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_regions")
    return {"region": with_link(request, "regions", identity.regions.get_region(region_id))}


@router.patch("/v3/regions/{region_id}")
def update_region(
    region_id: str,
    body: RegionBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_region")
    region = identity.regions.update_region(region_id, set_fields(body.region))
    return {"region": with_link(request, "regions", region)}


@router.delete("/v3/regions/{region_id}", status_code=204)
def delete_region(
    region_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_region")
    identity.regions.delete_region(region_id)
    return Response(status_code=204)
