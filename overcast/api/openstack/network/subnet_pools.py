"""/networking/v2.0/subnetpools: create, list, show, update, delete, add_prefixes and remove_prefixes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.api.openstack.network.schemas import PrefixesBody, SubnetPoolCreateBody, SubnetPoolUpdateBody
from overcast.context import RequestContext
from overcast.network.api.service import NetworkAPI
from overcast.network.policies import SUBNETPOOL, SUBNETPOOLS

router = APIRouter()


@router.post(SUBNETPOOLS, status_code=201)
def create_subnetpool(
    body: SubnetPoolCreateBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"subnetpool": api.subnet_pools.create(ctxt, body.subnetpool.given())}


@router.get(SUBNETPOOLS)
def list_subnetpools(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    query = common.list_query(request)
    return common.collection(request, "subnetpools", api.subnet_pools.list(ctxt, query), query)


@router.get(SUBNETPOOL)
def show_subnetpool(
    subnetpool_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return common.single(request, "subnetpool", api.subnet_pools.get(ctxt, subnetpool_id))


@router.put(SUBNETPOOL)
def update_subnetpool(
    subnetpool_id: str,
    body: SubnetPoolUpdateBody,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    updated = api.subnet_pools.update(ctxt, subnetpool_id, body.subnetpool.given(), revision=revision)
    return {"subnetpool": updated}


@router.delete(SUBNETPOOL, status_code=204)
def delete_subnetpool(
    subnetpool_id: str,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> Response:
    api.subnet_pools.delete(ctxt, subnetpool_id, revision=revision)
    return Response(status_code=204)


@router.put(SUBNETPOOL + "/add_prefixes")
def add_prefixes(
    subnetpool_id: str,
    body: PrefixesBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"prefixes": api.subnet_pools.add_prefixes(ctxt, subnetpool_id, body.prefixes)}


@router.put(SUBNETPOOL + "/remove_prefixes")
def remove_prefixes(
    subnetpool_id: str,
    body: PrefixesBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"prefixes": api.subnet_pools.remove_prefixes(ctxt, subnetpool_id, body.prefixes)}
