"""/networking/v2.0/networks: create, list, show, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.api.openstack.network.schemas import NetworkCreateBody, NetworkUpdateBody
from overcast.context import RequestContext
from overcast.network.api.service import NetworkAPI

router = APIRouter()
COLLECTION = "/networking/v2.0/networks"
ITEM = COLLECTION + "/{network_id}"


@router.post(COLLECTION, status_code=201)
def create_network(
    body: NetworkCreateBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    bodies = body.bodies()
    if body.networks is not None:
        return {"networks": api.networks.create_many(ctxt, bodies)}
    return {"network": api.networks.create(ctxt, bodies[0])}


@router.get(COLLECTION)
def list_networks(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    query = common.list_query(request)
    return common.collection(request, "networks", api.networks.list(ctxt, query), query)


@router.get(ITEM)
def show_network(
    network_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return common.single(request, "network", api.networks.get(ctxt, network_id))


@router.put(ITEM)
def update_network(
    network_id: str,
    body: NetworkUpdateBody,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"network": api.networks.update(ctxt, network_id, body.network.given(), revision=revision)}


@router.delete(ITEM, status_code=204)
def delete_network(
    network_id: str,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> Response:
    api.networks.delete(ctxt, network_id, revision=revision)
    return Response(status_code=204)
