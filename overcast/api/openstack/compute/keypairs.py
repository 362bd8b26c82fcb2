"""/os-keypairs: list (paged from 2.35), show, create (type from 2.2, user_id from 2.10), delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute import views
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, parse_int
from overcast.api.openstack.compute.schemas import KeyPairCreateBody
from overcast.compute import policies
from overcast.compute.api.server_queries import MAX_LIMIT

router = APIRouter()


def _target(req: ComputeRequest, user_id: str | None) -> dict[str, Any]:
    return {"user_id": user_id or req.context.user_id, "project_id": req.context.project_id}


def _user_id(request: Request, req: ComputeRequest) -> str | None:
    # Before 2.10 there is no user_id parameter: it is ignored like any unknown one.
    return request.query_params.get("user_id") if req.version >= v.KEYPAIR_USER_ID else None


@router.get("/os-keypairs")
def list_keypairs(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    user_id = _user_id(request, req)
    policy.enforce(req.context, policies.KEYPAIRS, _target(req, user_id))
    marker = limit = None
    if req.version >= v.KEYPAIR_PAGING:
        marker = request.query_params.get("marker")
        limit = min(parse_int("limit", request.query_params.get("limit")) or MAX_LIMIT, MAX_LIMIT)
    keypairs = req.service.keypairs.list(req.context, user_id, marker=marker, limit=limit)
    body: dict[str, Any] = {"keypairs": [views.keypair_list_item(key, req.version) for key in keypairs]}
    if limit is not None and keypairs and len(keypairs) == limit:
        query = dict(sorted(request.query_params.items()))
        query["marker"] = keypairs[-1].name
        # Nova's next link names the collection "keypairs" (not "os-keypairs"); clients follow it as is.
        body["keypairs_links"] = req.links.next_page("keypairs", query)
    return body


@router.get("/os-keypairs/{name}")
def show_keypair(
    name: str, request: Request, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    user_id = _user_id(request, req)
    policy.enforce(req.context, policies.KEYPAIRS, _target(req, user_id))
    return views.keypair_show(req.service.keypairs.get(req.context, name, user_id), req.version)


@router.post("/os-keypairs")
def create_keypair(body: KeyPairCreateBody, req: ComputeRequest = Depends(compute_request)) -> JSONResponse:
    body.check_version(req.version)
    fields = body.keypair
    policy.enforce(req.context, policies.KEYPAIRS, _target(req, fields.user_id))
    if fields.public_key is None and req.version >= v.KEYPAIR_IMPORT_ONLY:
        # 2.92: the cloud no longer generates key pairs (nor sees their private halves).
        raise errors.BadRequest(
            "Invalid input for field/attribute keypair: 'public_key' is a required property"
        )
    if fields.public_key is not None and not fields.public_key.strip():
        raise errors.BadRequest("Keypair data is invalid: public_key must not be empty")
    keypair, private_key = req.service.keypairs.create(
        req.context, fields.name, fields.public_key, key_type=fields.type or "ssh", user_id=fields.user_id
    )
    status = 201 if req.version >= v.KEYPAIR_TYPE else 200
    return JSONResponse(views.keypair_created(keypair, private_key, req.version), status_code=status)


@router.delete("/os-keypairs/{name}")
def delete_keypair(name: str, request: Request, req: ComputeRequest = Depends(compute_request)) -> Response:
    user_id = _user_id(request, req)
    policy.enforce(req.context, policies.KEYPAIRS, _target(req, user_id))
    req.service.keypairs.delete(req.context, name, user_id)
    return Response(status_code=204 if req.version >= v.KEYPAIR_TYPE else 202)
