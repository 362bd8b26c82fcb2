"""/default-types (3.62): each project's own default volume type, set, shown, listed and unset by admins
(a project's members may show their own). Below 3.62 the collection does not exist (404)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.volume.api.service import VolumeAPI


def _since_default_types(request: Request) -> None:
    if common.version(request) < versions.DEFAULT_TYPES:
        raise common.NotFoundAtVersion()


routes = APIRouter(dependencies=[Depends(_since_default_types)])
COLLECTION = "/default-types"
ITEM = COLLECTION + "/{target_project_id}"


@routes.put(ITEM)
def set_default_type(
    target_project_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {
        "default_type": api.default_types.set(ctxt, target_project_id, common.member(body, "default_type"))
    }


@routes.get(COLLECTION)
def list_default_types(
    ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"default_types": api.default_types.list_all(ctxt)}


@routes.get(ITEM)
def show_default_type(
    target_project_id: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"default_type": api.default_types.get(ctxt, target_project_id)}


@routes.delete(ITEM, status_code=204)
def unset_default_type(
    target_project_id: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    api.default_types.unset(ctxt, target_project_id)
    return Response(status_code=204)
