"""/networking/v2.0/routers (with add_router_interface, remove_router_interface) and /floatingips."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.api.openstack.network.schemas import (
    FloatingIPCreateBody,
    FloatingIPUpdateBody,
    RouterCreateBody,
    RouterInterfaceBody,
    RouterUpdateBody,
)
from overcast.context import RequestContext
from overcast.network import policies
from overcast.network.api.service import NetworkAPI

router = APIRouter()


@router.post(policies.ROUTERS, status_code=201)
def create_router(
    body: RouterCreateBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"router": api.routers.create(ctxt, body.router.given())}


@router.get(policies.ROUTERS)
def list_routers(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    query = common.list_query(request)
    return common.collection(request, "routers", api.routers.list(ctxt, query), query)


@router.get(policies.ROUTER)
def show_router(
    router_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return common.single(request, "router", api.routers.get(ctxt, router_id))


@router.put(policies.ROUTER)
def update_router(
    router_id: str,
    body: RouterUpdateBody,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"router": api.routers.update(ctxt, router_id, body.router.given(), revision=revision)}


@router.delete(policies.ROUTER, status_code=204)
def delete_router(
    router_id: str,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> Response:
    api.routers.delete(ctxt, router_id, revision=revision)
    return Response(status_code=204)


@router.put(policies.ROUTER + "/add_router_interface")
def add_router_interface(
    router_id: str,
    body: RouterInterfaceBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return api.routers.add_interface(ctxt, router_id, body.given())


@router.put(policies.ROUTER + "/remove_router_interface")
def remove_router_interface(
    router_id: str,
    body: RouterInterfaceBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return api.routers.remove_interface(ctxt, router_id, body.given())


@router.post(policies.FLOATING_IPS, status_code=201)
def create_floating_ip(
    body: FloatingIPCreateBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"floatingip": api.floating_ips.create(ctxt, body.floatingip.given())}


@router.get(policies.FLOATING_IPS)
def list_floating_ips(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    query = common.list_query(request)
    return common.collection(request, "floatingips", api.floating_ips.list(ctxt, query), query)


@router.get(policies.FLOATING_IP)
def show_floating_ip(
    floatingip_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return common.single(request, "floatingip", api.floating_ips.get(ctxt, floatingip_id))


@router.put(policies.FLOATING_IP)
def update_floating_ip(
    floatingip_id: str,
    body: FloatingIPUpdateBody,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {
        "floatingip": api.floating_ips.update(ctxt, floatingip_id, body.floatingip.given(), revision=revision)
    }


@router.delete(policies.FLOATING_IP, status_code=204)
def delete_floating_ip(
    floatingip_id: str,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> Response:
    api.floating_ips.delete(ctxt, floatingip_id, revision=revision)
    return Response(status_code=204)
