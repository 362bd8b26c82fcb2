"""/types: volume types, /types/default (3.62), extra specs, and private types' project access."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.errors import BadRequest, NotFound
from overcast.volume.api.service import VolumeAPI

routes = APIRouter()
COLLECTION = "/types"
ITEM = COLLECTION + "/{type_id}"


@routes.get(COLLECTION)
def list_types(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"volume_types": api.types.list_all(ctxt, is_public=request.query_params.get("is_public"))}


@routes.post(COLLECTION)
def create_type(
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"volume_type": api.types.create(ctxt, common.member(body, "volume_type"))}


@routes.get(COLLECTION + "/default")
def show_default_type(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    if common.version(request) < versions.DEFAULT_TYPES:
        raise NotFound("Volume type default could not be found.")  # before 3.62 "default" is a type id
    return {"volume_type": api.types.get(ctxt, "default")}


@routes.get(ITEM)
def show_type(
    type_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"volume_type": api.types.get(ctxt, type_id)}


@routes.put(ITEM)
def update_type(
    type_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"volume_type": api.types.update(ctxt, type_id, common.member(body, "volume_type"))}


@routes.delete(ITEM, status_code=202)
def delete_type(
    type_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> Response:
    api.types.delete(ctxt, type_id)
    return Response(status_code=202)


@routes.get(ITEM + "/extra_specs")
def show_extra_specs(
    type_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"extra_specs": api.types.extra_specs(ctxt, type_id)}


@routes.post(ITEM + "/extra_specs")
def set_extra_specs(
    type_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"extra_specs": api.types.set_extra_specs(ctxt, type_id, common.member(body, "extra_specs"))}


@routes.get(ITEM + "/extra_specs/{key}")
def show_extra_spec(
    type_id: str,
    key: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    specs = api.types.extra_specs(ctxt, type_id)
    if key not in specs:
        raise NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
    return {key: specs[key]}


@routes.put(ITEM + "/extra_specs/{key}")
def set_extra_spec(
    type_id: str,
    key: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    if not isinstance(body, dict) or list(body) != [key]:
        raise BadRequest("Request body and URI mismatch")
    return api.types.set_extra_specs(ctxt, type_id, body)


@routes.delete(ITEM + "/extra_specs/{key}", status_code=202)
def delete_extra_spec(
    type_id: str,
    key: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    api.types.delete_extra_spec(ctxt, type_id, key)
    return Response(status_code=202)


@routes.get(ITEM + "/os-volume-type-access")
def list_type_access(
    type_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"volume_type_access": api.types.access_list(ctxt, type_id)}


@routes.post(ITEM + "/action", status_code=202)
def type_action(
    type_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    actions = ("addProjectAccess", "removeProjectAccess")
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in actions:
        raise BadRequest("Invalid volume type action: give addProjectAccess or removeProjectAccess.")
    name = next(iter(body))
    project = common.member(body, name).get("project")
    api.types.change_access(ctxt, type_id, project, add=name == "addProjectAccess")
    return Response(status_code=202)
