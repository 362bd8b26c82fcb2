"""/v3/OS-FEDERATION: identity providers and their protocols, mappings, service providers (the
resources; no federated login is served)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, new_router, query_bool, v3_url
from overcast.context import RequestContext
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)

FED = "/v3/OS-FEDERATION"
IDP = f"{FED}/identity_providers/{{idp_id}}"
PROTOCOL = f"{IDP}/protocols/{{protocol_id}}"
MAPPING = f"{FED}/mappings/{{mapping_id}}"
SP = f"{FED}/service_providers/{{sp_id}}"


class IdpBody(BaseModel):
    identity_provider: dict[str, Any]


class ProtocolBody(BaseModel):
    protocol: dict[str, Any]


class MappingBody(BaseModel):
    mapping: dict[str, Any]


class SpBody(BaseModel):
    service_provider: dict[str, Any]


def _read(context: RequestContext) -> None:
    policy.enforce(context, "identity:get_federation")


def _write(context: RequestContext) -> None:
    policy.enforce(context, "identity:manage_federation")


def _idp(request: Request, idp: dict[str, Any]) -> dict[str, Any]:
    url = v3_url(request, "OS-FEDERATION", "identity_providers", idp["id"])
    return {**idp, "links": {"self": url, "protocols": f"{url}/protocols"}}


def _protocol(request: Request, protocol: dict[str, Any]) -> dict[str, Any]:
    url = v3_url(
        request, "OS-FEDERATION", "identity_providers", protocol["idp_id"], "protocols", protocol["id"]
    )
    idp_url = v3_url(request, "OS-FEDERATION", "identity_providers", protocol["idp_id"])
    return {**protocol, "links": {"self": url, "identity_provider": idp_url}}


def _linked(request: Request, kind: str, entity: dict[str, Any]) -> dict[str, Any]:
    return {**entity, "links": {"self": v3_url(request, "OS-FEDERATION", kind, entity["id"])}}


def _listing(request: Request, key: str, entities: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: entities, "links": {"self": str(request.url), "previous": None, "next": None}}


# Identity providers -------------------------------------------------------------------------------------
@router.get(f"{FED}/identity_providers")
def list_identity_providers(
    request: Request,
    enabled: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _read(context)
    idps = identity.federation.list_idps(query_bool(enabled))
    return _listing(request, "identity_providers", [_idp(request, idp) for idp in idps])


@router.put(IDP, status_code=201)
def create_identity_provider(
    idp_id: str,
    body: IdpBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> JSONResponse:
    _write(context)
    idp = identity.federation.create_idp(idp_id, body.identity_provider)
    return JSONResponse({"identity_provider": _idp(request, idp)}, status_code=201)


@router.get(IDP)
def show_identity_provider(
    idp_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return {"identity_provider": _idp(request, identity.federation.get_idp(idp_id))}


@router.patch(IDP)
def update_identity_provider(
    idp_id: str,
    body: IdpBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _write(context)
    return {
        "identity_provider": _idp(request, identity.federation.update_idp(idp_id, body.identity_provider))
    }


@router.delete(IDP, status_code=204)
def delete_identity_provider(
    idp_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context)
    identity.federation.delete_idp(idp_id)
    return Response(status_code=204)


# Protocols ----------------------------------------------------------------------------------------------
@router.get(f"{IDP}/protocols")
def list_protocols(
    idp_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    protocols = identity.federation.list_protocols(idp_id)
    return _listing(request, "protocols", [_protocol(request, p) for p in protocols])


@router.put(PROTOCOL, status_code=201)
def create_protocol(
    idp_id: str,
    protocol_id: str,
    body: ProtocolBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> JSONResponse:
    _write(context)
    protocol = identity.federation.create_protocol(idp_id, protocol_id, body.protocol)
    return JSONResponse({"protocol": _protocol(request, protocol)}, status_code=201)


@router.get(PROTOCOL)
def show_protocol(
    idp_id: str,
    protocol_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _read(context)
    return {"protocol": _protocol(request, identity.federation.get_protocol(idp_id, protocol_id))}


@router.patch(PROTOCOL)
def update_protocol(
    idp_id: str,
    protocol_id: str,
    body: ProtocolBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _write(context)
    protocol = identity.federation.update_protocol(idp_id, protocol_id, body.protocol)
    return {"protocol": _protocol(request, protocol)}


@router.delete(PROTOCOL, status_code=204)
def delete_protocol(
    idp_id: str, protocol_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context)
    identity.federation.delete_protocol(idp_id, protocol_id)
    return Response(status_code=204)


# Mappings -----------------------------------------------------------------------------------------------
@router.get(f"{FED}/mappings")
def list_mappings(
    request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    mappings = identity.federation.list_mappings()
    return _listing(request, "mappings", [_linked(request, "mappings", m) for m in mappings])


@router.put(MAPPING, status_code=201)
def create_mapping(
    mapping_id: str,
    body: MappingBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> JSONResponse:
    _write(context)
    mapping = identity.federation.create_mapping(mapping_id, body.mapping)
    return JSONResponse({"mapping": _linked(request, "mappings", mapping)}, status_code=201)


@router.get(MAPPING)
def show_mapping(
    mapping_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return {"mapping": _linked(request, "mappings", identity.federation.get_mapping(mapping_id))}


@router.patch(MAPPING)
def update_mapping(
    mapping_id: str,
    body: MappingBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _write(context)
    return {
        "mapping": _linked(request, "mappings", identity.federation.update_mapping(mapping_id, body.mapping))
    }


@router.delete(MAPPING, status_code=204)
def delete_mapping(
    mapping_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context)
    identity.federation.delete_mapping(mapping_id)
    return Response(status_code=204)


# Service providers --------------------------------------------------------------------------------------
@router.get(f"{FED}/service_providers")
def list_service_providers(
    request: Request,
    enabled: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _read(context)
    sps = identity.federation.list_sps(query_bool(enabled))
    return _listing(request, "service_providers", [_linked(request, "service_providers", sp) for sp in sps])


@router.put(SP, status_code=201)
def create_service_provider(
    sp_id: str,
    body: SpBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> JSONResponse:
    _write(context)
    sp = identity.federation.create_sp(sp_id, body.service_provider)
    return JSONResponse({"service_provider": _linked(request, "service_providers", sp)}, status_code=201)


@router.get(SP)
def show_service_provider(
    sp_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return {"service_provider": _linked(request, "service_providers", identity.federation.get_sp(sp_id))}


@router.patch(SP)
def update_service_provider(
    sp_id: str,
    body: SpBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _write(context)
    sp = identity.federation.update_sp(sp_id, body.service_provider)
    return {"service_provider": _linked(request, "service_providers", sp)}


@router.delete(SP, status_code=204)
def delete_service_provider(
    sp_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context)
    identity.federation.delete_sp(sp_id)
    return Response(status_code=204)
