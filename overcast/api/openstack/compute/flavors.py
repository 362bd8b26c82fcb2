"""/flavors (list, detail, show; create and delete for admins) and /os-keypairs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast import errors, policy
from overcast.api.openstack.compute import policies, views
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, parse_bool, parse_int
from overcast.api.openstack.compute.schemas import FlavorCreateBody, KeyPairCreateBody
from overcast.compute.flavors import FlavorCreate, FlavorFilters

router = APIRouter()


def _flavor_filters(request: Request, req: ComputeRequest) -> FlavorFilters:
    query = request.query_params
    is_public: bool | None = True
    if "is_public" in query and req.context.is_admin:
        # Nova: an admin's is_public=none (or any non-boolean) lists public and private flavors alike.
        raw = query["is_public"]
        is_public = None if raw.strip().lower() == "none" else parse_bool("is_public", raw)
    return FlavorFilters(
        is_public=is_public,
        min_ram=parse_int("minRam", query.get("minRam")),
        min_disk=parse_int("minDisk", query.get("minDisk")),
        sort_key=query.get("sort_key", "flavorid"),
        sort_dir=query.get("sort_dir", "asc"),
        marker=query.get("marker"),
        limit=parse_int("limit", query.get("limit")),
    )


def _flavor_links(
    request: Request, req: ComputeRequest, collection: str, last: str | None, count: int, limit: int | None
) -> dict[str, Any]:
    if last is None or limit is None or count < limit:
        return {}
    query = {key: value for key, value in request.query_params.items() if key != "marker"}
    query["marker"] = last
    return {"flavors_links": req.links.next_page(collection, query)}


@router.get("/flavors")
def list_flavors(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.FLAVORS_INDEX)
    filters = _flavor_filters(request, req)
    flavors = req.service.flavors.list(req.context, filters)
    body: dict[str, Any] = {"flavors": [req.flavors_view.basic(flavor) for flavor in flavors]}
    last = flavors[-1].flavorid if flavors else None
    body.update(_flavor_links(request, req, "flavors", last, len(flavors), filters.limit))
    return body


@router.get("/flavors/detail")
def list_flavors_detail(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.FLAVORS_INDEX)
    filters = _flavor_filters(request, req)
    flavors = req.service.flavors.list(req.context, filters)
    body: dict[str, Any] = {"flavors": [req.flavors_view.detail(flavor, req.version) for flavor in flavors]}
    last = flavors[-1].flavorid if flavors else None
    body.update(_flavor_links(request, req, "flavors/detail", last, len(flavors), filters.limit))
    return body


@router.get("/flavors/{flavor_id}")
def show_flavor(flavor_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.FLAVORS_SHOW)
    return {"flavor": req.flavors_view.detail(req.service.flavors.get(req.context, flavor_id), req.version)}


@router.post("/flavors")
def create_flavor(body: FlavorCreateBody, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.FLAVORS_MANAGE)
    fields = body.flavor
    flavor = req.service.flavors.create(req.context, FlavorCreate(
        name=fields.name, ram=fields.ram, vcpus=fields.vcpus, disk=fields.disk, flavorid=fields.id,
        ephemeral=fields.ephemeral, swap=fields.swap, rxtx_factor=fields.rxtx_factor,
        is_public=fields.is_public,
    ))  # fmt: skip
    return {"flavor": req.flavors_view.detail(flavor, req.version)}


@router.delete("/flavors/{flavor_id}", status_code=202)
def delete_flavor(flavor_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    policy.enforce(req.context, policies.FLAVORS_MANAGE)
    req.service.flavors.delete(req.context, flavor_id)
    return Response(status_code=202)


# --- os-keypairs ----------------------------------------------------------------------------------
def _keypair_target(req: ComputeRequest, user_id: str | None) -> dict[str, Any]:
    return {"user_id": user_id or req.context.user_id, "project_id": req.context.project_id}


@router.get("/os-keypairs")
def list_keypairs(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    user_id = request.query_params.get("user_id")
    policy.enforce(req.context, policies.KEYPAIRS, _keypair_target(req, user_id))
    keypairs = req.service.keypairs.list(req.context, user_id)
    return {"keypairs": [views.keypair_list_item(keypair) for keypair in keypairs]}


@router.get("/os-keypairs/{name}")
def show_keypair(
    name: str, request: Request, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    user_id = request.query_params.get("user_id")
    policy.enforce(req.context, policies.KEYPAIRS, _keypair_target(req, user_id))
    return views.keypair_show(req.service.keypairs.get(req.context, name, user_id))


@router.post("/os-keypairs")
def create_keypair(body: KeyPairCreateBody, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.KEYPAIRS, _keypair_target(req, None))
    fields = body.keypair
    if fields.public_key is not None and not fields.public_key.strip():
        raise errors.BadRequest("Keypair data is invalid: public_key must not be empty")
    keypair, private_key = req.service.keypairs.create(req.context, fields.name, fields.public_key)
    return views.keypair_created(keypair, private_key)


@router.delete("/os-keypairs/{name}", status_code=202)
def delete_keypair(name: str, request: Request, req: ComputeRequest = Depends(compute_request)) -> Response:
    user_id = request.query_params.get("user_id")
    policy.enforce(req.context, policies.KEYPAIRS, _keypair_target(req, user_id))
    req.service.keypairs.delete(req.context, name, user_id)
    return Response(status_code=202)
