"""/networking/v2.0/availability_zones and /service-providers: where the network agents run and the kind
of router this cloud makes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.context import RequestContext
from overcast.network import policies
from overcast.network.api.service import NetworkAPI

router = APIRouter()


def _filters(request: Request) -> dict[str, list[str]]:
    params = request.query_params
    # Both lists are a handful of rows: they are never paged or sorted.
    return {name: params.getlist(name) for name in params if name not in common.PAGING_PARAMETERS}


def _listed(request: Request, name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    fields = request.query_params.getlist("fields")
    return {name: [common.selected(record, fields) for record in records]}


@router.get(policies.AVAILABILITY_ZONES)
def list_availability_zones(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    zones = api.deployment.availability_zones(ctxt, _filters(request))
    return _listed(request, "availability_zones", zones)


@router.get(policies.SERVICE_PROVIDERS)
def list_service_providers(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    providers = api.deployment.service_providers(ctxt, _filters(request))
    return _listed(request, "service_providers", providers)
