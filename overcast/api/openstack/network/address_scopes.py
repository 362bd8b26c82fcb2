"""/networking/v2.0/address-scopes: create, list, show, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.api.openstack.network.schemas import AddressScopeCreateBody, AddressScopeUpdateBody
from overcast.context import RequestContext
from overcast.network.api.service import NetworkAPI
from overcast.network.policies import ADDRESS_SCOPE, ADDRESS_SCOPES

router = APIRouter()


@router.post(ADDRESS_SCOPES, status_code=201)
def create_address_scope(
    body: AddressScopeCreateBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"address_scope": api.address_scopes.create(ctxt, body.address_scope.given())}


@router.get(ADDRESS_SCOPES)
def list_address_scopes(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    query = common.list_query(request)
    return common.collection(request, "address_scopes", api.address_scopes.list(ctxt, query), query)


@router.get(ADDRESS_SCOPE)
def show_address_scope(
    address_scope_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return common.single(request, "address_scope", api.address_scopes.get(ctxt, address_scope_id))


@router.put(ADDRESS_SCOPE)
def update_address_scope(
    address_scope_id: str,
    body: AddressScopeUpdateBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"address_scope": api.address_scopes.update(ctxt, address_scope_id, body.address_scope.given())}


@router.delete(ADDRESS_SCOPE, status_code=204)
def delete_address_scope(
    address_scope_id: str,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> Response:
    api.address_scopes.delete(ctxt, address_scope_id)
    return Response(status_code=204)
