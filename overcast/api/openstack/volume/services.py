"""/os-services (the volume services, as Cinder's cinder-volume rows) and /os-availability-zone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.context import RequestContext
from overcast.volume.api.service import VolumeAPI

routes = APIRouter()


@routes.get("/os-services")
def list_services(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    params = request.query_params
    return {"services": api.catalog.services(ctxt, host=params.get("host"), binary=params.get("binary"))}


@routes.get("/os-availability-zone")
def list_availability_zones(
    ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"availabilityZoneInfo": api.catalog.availability_zones(ctxt)}
