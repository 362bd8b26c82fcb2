"""/group_types (3.11): group types and their group specs. Below 3.11 the collection does not exist."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.volume.api.service import VolumeAPI


def _since_group_types(request: Request) -> None:
    if common.version(request) < versions.GROUP_TYPES:
        raise common.NotFoundAtVersion()


routes = APIRouter(dependencies=[Depends(_since_group_types)])
COLLECTION = "/group_types"
ITEM = COLLECTION + "/{group_type_id}"
SPECS = ITEM + "/group_specs"
SPEC = SPECS + "/{key}"


@routes.get(COLLECTION)
def list_group_types(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"group_types": api.group_types.list_all(ctxt, is_public=request.query_params.get("is_public"))}


@routes.post(COLLECTION, status_code=202)
def create_group_type(
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"group_type": api.group_types.create(ctxt, common.member(body, "group_type"))}


@routes.get(ITEM)
def show_group_type(
    group_type_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"group_type": api.group_types.get(ctxt, group_type_id)}


@routes.put(ITEM)
def update_group_type(
    group_type_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"group_type": api.group_types.update(ctxt, group_type_id, common.member(body, "group_type"))}


@routes.delete(ITEM, status_code=202)
def delete_group_type(
    group_type_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> Response:
    api.group_types.delete(ctxt, group_type_id)
    return Response(status_code=202)


@routes.get(SPECS)
def list_group_specs(
    group_type_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"group_specs": api.group_types.specs(ctxt, group_type_id)}


@routes.post(SPECS, status_code=202)
def create_group_specs(
    group_type_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    specs = common.member(body, "group_specs")
    return {"group_specs": api.group_types.set_specs(ctxt, group_type_id, specs)}


@routes.get(SPEC)
def show_group_spec(
    group_type_id: str,
    key: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return api.group_types.spec(ctxt, group_type_id, key)


@routes.put(SPEC)
def update_group_spec(
    group_type_id: str,
    key: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    if not isinstance(body, dict) or key not in body:
        raise BadRequest("Request body and URI mismatch")
    if len(body) > 1:
        raise BadRequest("Request body contains too many items")
    return api.group_types.set_specs(ctxt, group_type_id, body)


@routes.delete(SPEC, status_code=202)
def delete_group_spec(
    group_type_id: str,
    key: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    api.group_types.delete_spec(ctxt, group_type_id, key)
    return Response(status_code=202)
