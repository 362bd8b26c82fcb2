"""/attachments (3.27+): reserve, connect (PUT with a connector), complete (3.44), list, show, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.volume.api.records import Record
from overcast.volume.api.service import VolumeAPI

routes = APIRouter()
COLLECTION = "/attachments"
ITEM = COLLECTION + "/{attachment_id}"
SUMMARY = ("id", "status", "instance", "volume_id")
DETAIL = (*SUMMARY, "attached_at", "detached_at", "attach_mode", "connection_info")


def _since(request: Request, version: Any = versions.ATTACHMENTS) -> None:
    if common.version(request) < version:
        raise common.NotFoundAtVersion()


def _view(record: Record, fields: tuple[str, ...]) -> dict[str, Any]:
    return {field: record.get(field) for field in fields}


@routes.post(COLLECTION)
def create_attachment(
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    _since(request)
    attachment = common.member(body, "attachment")
    volume_id = attachment.get("volume_uuid")
    if not isinstance(volume_id, str) or not volume_id:
        raise BadRequest("Invalid input for field/attribute attachment. 'volume_uuid' is a required property")
    instance = attachment.get("instance_uuid")
    if instance is not None and not isinstance(instance, str):
        raise BadRequest("Invalid input for field/attribute instance_uuid: it must be a string.")
    mode = attachment.get("mode", "rw") if common.version(request) >= versions.ATTACHMENT_MODE else "rw"
    connector = attachment.get("connector") or None
    record = api.attachment_create(ctxt, volume_id, instance, mode=mode, connector=connector)
    return {"attachment": _view(record, DETAIL)}


@routes.get(COLLECTION)
def list_attachments(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return _listed(request, ctxt, api, SUMMARY)


@routes.get(COLLECTION + "/detail")
def list_attachments_detail(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return _listed(request, ctxt, api, DETAIL)


def _listed(
    request: Request, ctxt: RequestContext, api: VolumeAPI, fields: tuple[str, ...]
) -> dict[str, Any]:
    _since(request)
    params = request.query_params
    records = api.attachments.search(
        ctxt, volume_id=params.get("volume_id"), instance_id=params.get("instance_id"),
        all_projects=common.truthy(params.get("all_tenants")),
    )  # fmt: skip
    return {"attachments": [_view(record, fields) for record in records]}


@routes.get(ITEM)
def show_attachment(
    attachment_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    _since(request)
    return {"attachment": _view(api.attachment_get(ctxt, attachment_id), DETAIL)}


@routes.put(ITEM)
def update_attachment(
    attachment_id: str,
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    _since(request)
    attachment = common.member(body, "attachment")
    if "connector" not in attachment:
        raise BadRequest("Invalid input for field/attribute attachment. 'connector' is a required property")
    api.attachment_update(ctxt, attachment_id, attachment["connector"])
    return {"attachment": _view(api.attachment_get(ctxt, attachment_id), DETAIL)}


@routes.post(ITEM + "/action", status_code=204)
def attachment_action(
    attachment_id: str,
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    _since(request, versions.ATTACHMENT_COMPLETE)
    if not isinstance(body, dict) or list(body) != ["os-complete"]:
        raise BadRequest("Invalid attachment action: the only action is os-complete.")
    api.attachment_complete(ctxt, attachment_id)
    return Response(status_code=204)


@routes.delete(ITEM)
def delete_attachment(
    attachment_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    _since(request)
    volume_id = api.attachment_get(ctxt, attachment_id)["volume_id"]
    api.attachment_delete(ctxt, attachment_id)
    remaining = api.attachments.search(ctxt, volume_id=volume_id, all_projects=True)
    return {"attachments": [_view(record, SUMMARY) for record in remaining]}
