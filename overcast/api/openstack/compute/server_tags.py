"""/servers/{id}/tags (microversion 2.26): list, replace, clear; check, add, remove one tag."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Response

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, require_version
from overcast.compute import policies

router = APIRouter()


def _authorize(req: ComputeRequest, server_id: str, rule: str) -> None:
    require_version(req, v.TAGS)
    server = req.service.servers.get(req.context, server_id)
    policy.enforce(
        req.context, rule, {"project_id": server.instance.project_id, "user_id": req.context.user_id}
    )


@router.get("/servers/{server_id}/tags")
def list_tags(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    _authorize(req, server_id, policies.SERVER_TAGS_INDEX)
    return {"tags": req.service.tags.of(req.context, server_id)}


@router.put("/servers/{server_id}/tags")
def replace_tags(
    server_id: str, body: Any = Body(None), req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    _authorize(req, server_id, policies.SERVER_TAGS_UPDATE_ALL)
    if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
        raise errors.BadRequest("Invalid input for field/attribute tags: an array of tags is required.")
    unexpected = sorted(set(body) - {"tags"})
    if unexpected:
        names = ", ".join(repr(name) for name in unexpected)
        raise errors.BadRequest(f"Additional properties are not allowed ({names} were unexpected)")
    return {"tags": req.service.tags.replace(req.context, server_id, body["tags"])}


@router.delete("/servers/{server_id}/tags", status_code=204)
def clear_tags(server_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    _authorize(req, server_id, policies.SERVER_TAGS_DELETE_ALL)
    req.service.tags.clear(req.context, server_id)
    return Response(status_code=204)


@router.get("/servers/{server_id}/tags/{tag}", status_code=204)
def check_tag(server_id: str, tag: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    _authorize(req, server_id, policies.SERVER_TAGS_SHOW)
    if not req.service.tags.has(req.context, server_id, tag):
        raise errors.NotFound(f"Server {server_id} has no tag '{tag}'")
    return Response(status_code=204)


@router.put("/servers/{server_id}/tags/{tag}")
def add_tag(server_id: str, tag: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    _authorize(req, server_id, policies.SERVER_TAGS_UPDATE)
    if not req.service.tags.add(req.context, server_id, tag):
        return Response(status_code=204)
    location = f"{req.links.endpoint}/servers/{server_id}/tags/{tag}"
    return Response(status_code=201, headers={"Location": location})


@router.delete("/servers/{server_id}/tags/{tag}", status_code=204)
def remove_tag(server_id: str, tag: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    _authorize(req, server_id, policies.SERVER_TAGS_DELETE)
    req.service.tags.remove(req.context, server_id, tag)
    return Response(status_code=204)
