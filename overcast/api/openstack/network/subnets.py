"""/networking/v2.0/subnets: create, list, show, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.api.openstack.network.schemas import SubnetCreateBody, SubnetUpdateBody
from overcast.context import RequestContext
from overcast.network.api.service import NetworkAPI

router = APIRouter()
COLLECTION = "/networking/v2.0/subnets"
ITEM = COLLECTION + "/{subnet_id}"


@router.post(COLLECTION, status_code=201)
def create_subnet(
    body: SubnetCreateBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    bodies = body.bodies()
    if body.subnets is not None:
        return {"subnets": api.subnets.create_many(ctxt, bodies)}
    return {"subnet": api.subnets.create(ctxt, bodies[0])}


@router.get(COLLECTION)
def list_subnets(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    query = common.list_query(request)
    return common.collection(request, "subnets", api.subnets.list(ctxt, query), query)


@router.get(ITEM)
def show_subnet(
    subnet_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return common.single(request, "subnet", api.subnets.get(ctxt, subnet_id))


@router.put(ITEM)
def update_subnet(
    subnet_id: str,
    body: SubnetUpdateBody,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"subnet": api.subnets.update(ctxt, subnet_id, body.subnet.given(), revision=revision)}


@router.delete(ITEM, status_code=204)
def delete_subnet(
    subnet_id: str,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> Response:
    api.subnets.delete(ctxt, subnet_id, revision=revision)
    return Response(status_code=204)
