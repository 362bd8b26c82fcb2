"""/flavors: list, detail, show; create, update (description, 2.55) and delete for admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast import policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import (
    ComputeRequest,
    compute_request,
    parse_bool,
    parse_int,
    require_version,
)
from overcast.api.openstack.compute.schemas import FlavorCreateBody, FlavorUpdateBody, refuse_out_of_version
from overcast.compute import policies
from overcast.compute.api.flavors import FlavorCreate, FlavorFilters
from overcast.db.models.compute import Flavor

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


def _detail(req: ComputeRequest, flavor: Flavor) -> dict[str, Any]:
    extra_specs = policy.authorize(req.context, policies.FLAVOR_EXTRA_SPECS_INDEX, {})
    return req.flavors_view.detail(flavor, req.version, extra_specs=extra_specs)


@router.get("/flavors")
def list_flavors(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.FLAVORS_INDEX)
    filters = _flavor_filters(request, req)
    flavors = req.service.flavors.list(req.context, filters)
    body: dict[str, Any] = {"flavors": [req.flavors_view.basic(flavor, req.version) for flavor in flavors]}
    last = flavors[-1].flavorid if flavors else None
    body.update(_flavor_links(request, req, "flavors", last, len(flavors), filters.limit))
    return body


@router.get("/flavors/detail")
def list_flavors_detail(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.FLAVORS_INDEX)
    filters = _flavor_filters(request, req)
    flavors = req.service.flavors.list(req.context, filters)
    body: dict[str, Any] = {"flavors": [_detail(req, flavor) for flavor in flavors]}
    last = flavors[-1].flavorid if flavors else None
    body.update(_flavor_links(request, req, "flavors/detail", last, len(flavors), filters.limit))
    return body


@router.get("/flavors/{flavor_id}")
def show_flavor(flavor_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.FLAVORS_SHOW)
    return {"flavor": _detail(req, req.service.flavors.get(req.context, flavor_id))}


@router.post("/flavors")
def create_flavor(body: FlavorCreateBody, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.FLAVORS_MANAGE)
    fields = body.flavor
    refuse_out_of_version(fields.model_fields_set, req.version, {"description": v.FLAVOR_DESCRIPTION})
    flavor = req.service.flavors.create(req.context, FlavorCreate(
        name=fields.name, ram=fields.ram, vcpus=fields.vcpus, disk=fields.disk, flavorid=fields.id,
        ephemeral=fields.ephemeral, swap=fields.swap, rxtx_factor=fields.rxtx_factor,
        is_public=fields.is_public, description=fields.description,
    ))  # fmt: skip
    return {"flavor": _detail(req, flavor)}


@router.put("/flavors/{flavor_id}")
def update_flavor(
    flavor_id: str, body: FlavorUpdateBody, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    require_version(req, v.FLAVOR_DESCRIPTION)
    policy.enforce(req.context, policies.FLAVORS_UPDATE)
    flavor = req.service.flavors.update_description(req.context, flavor_id, body.flavor.description)
    return {"flavor": _detail(req, flavor)}


@router.delete("/flavors/{flavor_id}", status_code=202)
def delete_flavor(flavor_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    policy.enforce(req.context, policies.FLAVORS_MANAGE)
    req.service.flavors.delete(req.context, flavor_id)
    return Response(status_code=202)
