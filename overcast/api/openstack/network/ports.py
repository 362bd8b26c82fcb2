"""/networking/v2.0/ports: create, list, show, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.api.openstack.network.schemas import PortCreateBody, PortUpdateBody
from overcast.context import RequestContext
from overcast.network.api.service import NetworkAPI

router = APIRouter()
COLLECTION = "/networking/v2.0/ports"
ITEM = COLLECTION + "/{port_id}"


@router.post(COLLECTION, status_code=201)
def create_port(
    body: PortCreateBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    bodies = body.bodies()
    if body.ports is not None:
        return {"ports": api.ports.create_many(ctxt, bodies)}
    return {"port": api.ports.create(ctxt, bodies[0])}


@router.get(COLLECTION)
def list_ports(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    query = common.list_query(request)
    return common.collection(request, "ports", api.ports.list(ctxt, query), query)


@router.get(ITEM)
def show_port(
    port_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return common.single(request, "port", api.ports.get(ctxt, port_id))


@router.put(ITEM)
def update_port(
    port_id: str,
    body: PortUpdateBody,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"port": api.ports.update(ctxt, port_id, body.port.given(), revision=revision)}


@router.delete(ITEM, status_code=204)
def delete_port(
    port_id: str,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> Response:
    api.ports.delete(ctxt, port_id, revision=revision)
    return Response(status_code=204)
