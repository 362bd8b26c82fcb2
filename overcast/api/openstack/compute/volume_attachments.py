"""/servers/{id}/os-volume_attachments: list, show, attach, update (swap; delete_on_termination from 2.85)
and detach a server's volumes (Nova's volume attachment API)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, parse_int
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.compute import policies as rules
from overcast.compute.api.volume_attachments import Attachment, describe

router = APIRouter()

# The attachment API's microversions beyond 2.49's tag (version_history.py's rows point here).
ATTACH_WHILE_SHELVED = APIVersion(2, 20)
ATTACHMENT_TAG_SHOWN = APIVersion(2, 70)
ATTACH_DELETE_ON_TERMINATION = APIVersion(2, 79)
ATTACHMENT_UPDATE = APIVersion(2, 85)
ATTACHMENT_IDS = APIVersion(2, 89)

_DEVICE_PATTERN = r"^/dev/x?[a-z]?d?[a-z]+[0-9]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _uuid(value: str) -> str:
    try:
        uuid.UUID(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a 'uuid'") from None
    return value


class NewAttachment(_Strict):
    volumeId: str
    device: Annotated[str, Field(pattern=_DEVICE_PATTERN)] | None = None
    tag: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[^,/]*$")] | None = None
    delete_on_termination: bool | None = None

    _volume_id = field_validator("volumeId")(_uuid)


class AttachBody(_Strict):
    volumeAttachment: NewAttachment


class ChangedAttachment(_Strict):
    volumeId: str
    # From 2.85 the body may repeat the attachment's other fields, which must not change.
    device: str | None = None
    id: str | None = None
    serverId: str | None = None
    tag: str | None = None
    delete_on_termination: bool | None = None

    _volume_id = field_validator("volumeId")(_uuid)


class UpdateBody(_Strict):
    volumeAttachment: ChangedAttachment


def _authorize(req: ComputeRequest, server_id: str, rule: str) -> None:
    server = req.service.servers.get(req.context, server_id)
    policy.enforce(
        req.context, rule, {"project_id": server.instance.project_id, "user_id": req.context.user_id}
    )


def _unexpected(field: str, given: dict[str, Any]) -> errors.BadRequest:
    return errors.BadRequest(
        f"Invalid input for field/attribute volumeAttachment. Value: {given}. "
        f"Additional properties are not allowed ('{field}' was unexpected)"
    )


def _view(req: ComputeRequest, attachment: Attachment, *, listing: bool = True) -> dict[str, Any]:
    body = describe(attachment)
    if req.version < ATTACHMENT_TAG_SHOWN:
        body.pop("tag")
    if req.version < ATTACH_DELETE_ON_TERMINATION:
        body.pop("delete_on_termination")
    if req.version >= ATTACHMENT_IDS and listing:
        body.pop("id")
    else:
        body.pop("attachment_id")
        body.pop("bdm_uuid")
    return body


@router.get("/servers/{server_id}/os-volume_attachments")
def list_attachments(
    server_id: str, request: Request, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    _authorize(req, server_id, rules.VOLUME_ATTACHMENTS_LIST)
    limit = parse_int("limit", request.query_params.get("limit"))
    offset = parse_int("offset", request.query_params.get("offset")) or 0
    found = req.service.volume_attachments.list(req.context, server_id, limit=limit, offset=offset)
    return {"volumeAttachments": [_view(req, attachment) for attachment in found]}


@router.get("/servers/{server_id}/os-volume_attachments/{volume_id}")
def show_attachment(
    server_id: str, volume_id: str, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    _authorize(req, server_id, rules.VOLUME_ATTACHMENTS_SHOW)
    attachment = req.service.volume_attachments.show(req.context, server_id, volume_id)
    return {"volumeAttachment": _view(req, attachment)}


@router.post("/servers/{server_id}/os-volume_attachments")
def attach_volume(
    server_id: str, body: AttachBody, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    _authorize(req, server_id, rules.VOLUME_ATTACHMENTS_CREATE)
    wanted = body.volumeAttachment
    given = wanted.model_dump(exclude_unset=True)
    if "tag" in given and req.version < v.TAGGED_ATTACH:
        raise _unexpected("tag", given)
    if "delete_on_termination" in given and req.version < ATTACH_DELETE_ON_TERMINATION:
        raise _unexpected("delete_on_termination", given)
    attachment = req.service.volume_attachments.attach(
        req.context, server_id, wanted.volumeId, device=wanted.device, tag=wanted.tag,
        delete_on_termination=bool(wanted.delete_on_termination), shelved=req.version >= ATTACH_WHILE_SHELVED,
    )  # fmt: skip
    return {"volumeAttachment": _view(req, attachment, listing=False)}


@router.put("/servers/{server_id}/os-volume_attachments/{volume_id}", status_code=202)
def update_attachment(
    server_id: str, volume_id: str, body: UpdateBody, req: ComputeRequest = Depends(compute_request)
) -> Response:
    changed = body.volumeAttachment
    given = changed.model_dump(exclude_unset=True)
    if req.version < ATTACHMENT_UPDATE:
        for field in ("device", "id", "serverId", "tag", "delete_on_termination"):
            if field in given:
                raise _unexpected(field, given)
    service = req.service.volume_attachments
    # Nova: before 2.85 a PUT is a swap; from 2.85 it is one only when it names another volume.
    if req.version < ATTACHMENT_UPDATE or changed.volumeId != volume_id:
        _authorize(req, server_id, rules.VOLUME_ATTACHMENTS_SWAP)
        service.swap(req.context, server_id, volume_id, changed.volumeId)
        return Response(status_code=202)
    _authorize(req, server_id, rules.VOLUME_ATTACHMENTS_UPDATE)
    current = _view(req, service.show(req.context, server_id, volume_id))
    for field in ("device", "id", "serverId", "tag"):
        if field in given and given[field] != current.get(field):
            raise errors.BadRequest(f"The {field} property is not mutable")
    if changed.delete_on_termination is not None:
        service.update(req.context, server_id, volume_id, delete_on_termination=changed.delete_on_termination)
    return Response(status_code=202)


@router.delete("/servers/{server_id}/os-volume_attachments/{volume_id}", status_code=202)
def detach_volume(server_id: str, volume_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    _authorize(req, server_id, rules.VOLUME_ATTACHMENTS_DELETE)
    req.service.volume_attachments.detach(
        req.context, server_id, volume_id, shelved=req.version >= ATTACH_WHILE_SHELVED
    )
    return Response(status_code=202)
