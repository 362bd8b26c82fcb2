"""/servers/{id}/metadata[/{key}]: list, replace all, merge, show, set and delete one item."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict

from overcast import policy
from overcast.api.openstack.compute.common import ComputeRequest, compute_request
from overcast.api.openstack.parameter_types import Metadata
from overcast.compute import policies as rules

router = APIRouter()


class MetadataBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metadata: Metadata


class MetaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meta: Metadata


def _authorize(req: ComputeRequest, server_id: str, rule: str) -> None:
    server = req.service.servers.get(req.context, server_id)
    policy.enforce(
        req.context, rule, {"project_id": server.instance.project_id, "user_id": req.context.user_id}
    )


@router.get("/servers/{server_id}/metadata")
def list_metadata(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    _authorize(req, server_id, rules.METADATA_INDEX)
    return {"metadata": req.service.metadata.get_all(req.context, server_id)}


@router.put("/servers/{server_id}/metadata")
def replace_metadata(
    server_id: str, body: MetadataBody, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    _authorize(req, server_id, rules.METADATA_UPDATE_ALL)
    return {"metadata": req.service.metadata.replace_all(req.context, server_id, body.metadata)}


@router.post("/servers/{server_id}/metadata")
def update_metadata(
    server_id: str, body: MetadataBody, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    _authorize(req, server_id, rules.METADATA_CREATE)
    return {"metadata": req.service.metadata.update(req.context, server_id, body.metadata)}


@router.get("/servers/{server_id}/metadata/{key}")
def show_metadata_item(
    server_id: str, key: str, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    _authorize(req, server_id, rules.METADATA_SHOW)
    return {"meta": {key: req.service.metadata.get_item(req.context, server_id, key)}}


@router.put("/servers/{server_id}/metadata/{key}")
def set_metadata_item(
    server_id: str, key: str, body: MetaBody, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    _authorize(req, server_id, rules.METADATA_UPDATE)
    return {"meta": req.service.metadata.set_item(req.context, server_id, key, body.meta)}


@router.delete("/servers/{server_id}/metadata/{key}", status_code=204)
def delete_metadata_item(
    server_id: str, key: str, req: ComputeRequest = Depends(compute_request)
) -> Response:
    _authorize(req, server_id, rules.METADATA_DELETE)
    req.service.metadata.delete_item(req.context, server_id, key)
    return Response(status_code=204)
