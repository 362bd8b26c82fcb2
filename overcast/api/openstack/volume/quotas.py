"""/os-quota-sets/{project} (with ?usage=True), its defaults, and /limits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.volume.api.service import VolumeAPI

routes = APIRouter()
QUOTA = "/os-quota-sets/{target_project_id}"


@routes.get(QUOTA)
def show_quotas(
    target_project_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    usage = common.truthy(request.query_params.get("usage"))
    return {"quota_set": api.quota_sets.show(ctxt, target_project_id, usage=usage)}


@routes.get(QUOTA + "/defaults")
def show_default_quotas(
    target_project_id: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"quota_set": api.quota_sets.defaults(ctxt, target_project_id)}


@routes.put(QUOTA)
def update_quotas(
    target_project_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"quota_set": api.quota_sets.update(ctxt, target_project_id, common.member(body, "quota_set"))}


@routes.delete(QUOTA)
def reset_quotas(
    target_project_id: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    api.quota_sets.reset(ctxt, target_project_id)
    return Response(status_code=200)


@routes.get("/limits")
def show_limits(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    project = (
        request.query_params.get("project_id") if common.version(request) >= versions.LIMITS_PROJECT else None
    )
    return {"limits": {"rate": [], "absolute": api.quota_sets.absolute_limits(ctxt, project)}}
