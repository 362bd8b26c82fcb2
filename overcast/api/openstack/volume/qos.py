"""/qos-specs: create, list, show, set and delete keys, delete, and associations with volume types."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.context import RequestContext
from overcast.volume.api.service import VolumeAPI

routes = APIRouter()
COLLECTION = "/qos-specs"
ITEM = COLLECTION + "/{qos_id}"


def _view(request: Request, record: dict[str, Any]) -> dict[str, Any]:
    return {"qos_specs": record, "links": common.self_links(request, "qos-specs", record["id"])}


@routes.get(COLLECTION)
def list_qos_specs(
    ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"qos_specs": api.qos_specs.list_all(ctxt)}


@routes.post(COLLECTION)
def create_qos_specs(
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return _view(request, api.qos_specs.create(ctxt, common.member(body, "qos_specs")))


@routes.get(ITEM)
def show_qos_specs(
    qos_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return _view(request, api.qos_specs.get(ctxt, qos_id))


@routes.put(ITEM)
def set_qos_keys(
    qos_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"qos_specs": api.qos_specs.set_keys(ctxt, qos_id, common.member(body, "qos_specs"))}


@routes.put(ITEM + "/delete_keys", status_code=202)
def delete_qos_keys(
    qos_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    keys = body.get("keys") if isinstance(body, dict) else None
    api.qos_specs.delete_keys(ctxt, qos_id, keys)
    return Response(status_code=202)


@routes.delete(ITEM, status_code=202)
def delete_qos_specs(
    qos_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    api.qos_specs.delete(ctxt, qos_id, force=common.truthy(request.query_params.get("force")))
    return Response(status_code=202)


@routes.get(ITEM + "/associations")
def qos_associations(
    qos_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"qos_associations": api.qos_specs.associations(ctxt, qos_id)}


@routes.get(ITEM + "/associate", status_code=202)
def associate_qos(
    qos_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    api.qos_specs.associate(ctxt, qos_id, request.query_params.get("vol_type_id"))
    return Response(status_code=202)


@routes.get(ITEM + "/disassociate", status_code=202)
def disassociate_qos(
    qos_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    api.qos_specs.disassociate(ctxt, qos_id, request.query_params.get("vol_type_id"))
    return Response(status_code=202)


@routes.get(ITEM + "/disassociate_all", status_code=202)
def disassociate_all_qos(
    qos_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> Response:
    api.qos_specs.disassociate_all(ctxt, qos_id)
    return Response(status_code=202)
