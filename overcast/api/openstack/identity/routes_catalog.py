"""/v3/services and /v3/endpoints: the catalog, writable as in Keystone (tokens' catalogs follow it)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, listing, new_router, query_bool, with_link
from overcast.api.openstack.identity.schemas import EndpointBody, ServiceBody, set_fields
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)


# Services -----------------------------------------------------------------------------------------------
@router.get("/v3/services")
def list_services(
    request: Request,
    type: str | None = None,
    name: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_catalog")
    return listing(request, "services", "services", identity.catalog.list_services(type, name))


@router.post("/v3/services", status_code=201)
def create_service(
    body: ServiceBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_catalog")
    fields = set_fields(body.service)
    if not fields.get("type"):
        raise BadRequest("Invalid input for field 'type': 'type' is a required property.")
    return {"service": with_link(request, "services", identity.catalog.create_service(fields))}


@router.get("/v3/services/{service_id}")
def show_service(
    service_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_catalog")
    return {"service": with_link(request, "services", identity.catalog.get_service(service_id))}


@router.patch("/v3/services/{service_id}")
def update_service(
    service_id: str,
    body: ServiceBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_catalog")
    service = identity.catalog.update_service(service_id, set_fields(body.service))
    return {"service": with_link(request, "services", service)}


@router.delete("/v3/services/{service_id}", status_code=204)
def delete_service(
    service_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_catalog")
    identity.catalog.delete_service(service_id)
    return Response(status_code=204)


# Endpoints ----------------------------------------------------------------------------------------------
def _endpoint_fields(body: EndpointBody) -> dict[str, Any]:
    fields = set_fields(body.endpoint)
    region = fields.pop("region", None)
    if "region_id" not in fields and region is not None:
        fields["region_id"] = region
    return fields


@router.get("/v3/endpoints")
def list_endpoints(
    request: Request,
    interface: str | None = None,
    service_id: str | None = None,
    region_id: str | None = None,
    enabled: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_catalog")
    endpoints = identity.catalog.list_endpoints(interface, service_id, region_id)
    wanted = query_bool(enabled)
    if wanted is not None:
        endpoints = [e for e in endpoints if e["enabled"] is wanted]
    return listing(request, "endpoints", "endpoints", endpoints)


@router.post("/v3/endpoints", status_code=201)
def create_endpoint(
    body: EndpointBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_catalog")
    fields = _endpoint_fields(body)
    for required in ("service_id", "interface", "url"):
        if not fields.get(required):
            raise BadRequest(f"Invalid input for field '{required}': '{required}' is a required property.")
    return {"endpoint": with_link(request, "endpoints", identity.catalog.create_endpoint(fields))}


@router.get("/v3/endpoints/{endpoint_id}")
def show_endpoint(
    endpoint_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_catalog")
    return {"endpoint": with_link(request, "endpoints", identity.catalog.get_endpoint(endpoint_id))}


@router.patch("/v3/endpoints/{endpoint_id}")
def update_endpoint(
    endpoint_id: str,
    body: EndpointBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_catalog")
    endpoint = identity.catalog.update_endpoint(endpoint_id, _endpoint_fields(body))
    return {"endpoint": with_link(request, "endpoints", endpoint)}


@router.delete("/v3/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(
    endpoint_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_catalog")
    identity.catalog.delete_endpoint(endpoint_id)
    return Response(status_code=204)
