"""/flavors/{flavor_id}/os-extra_specs: read by anyone who sees the flavor, changed by admins."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Body, Depends, Response

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request, json_object
from overcast.compute import policies
from overcast.compute.api import extra_spec_rules

router = APIRouter()

INDEX = policies.FLAVOR_EXTRA_SPECS_INDEX
SHOW = policies.FLAVOR_EXTRA_SPECS_SHOW
CREATE = policies.FLAVOR_EXTRA_SPECS_CREATE
UPDATE = policies.FLAVOR_EXTRA_SPECS_UPDATE
DELETE = policies.FLAVOR_EXTRA_SPECS_DELETE

# Nova's key pattern for extra specs (before 2.86 validated only their shape, not their meaning).
_KEY = re.compile(r"^[a-zA-Z0-9\-_:. ]{1,255}$")
MAX_VALUE_LENGTH = 255


def _specs(raw: dict[str, Any]) -> dict[str, str]:
    """Keys of Nova's shape; values strings of at most 255 characters (numbers and booleans are turned
    into strings, as Nova stores them)."""
    specs: dict[str, str] = {}
    for key, value in raw.items():
        if not _KEY.match(key):
            raise errors.BadRequest(f"Invalid input for field/attribute extra_specs. Invalid key: {key!r}.")
        if isinstance(value, bool | int | float):
            value = str(value)
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            raise errors.BadRequest(
                f"Invalid input for field/attribute extra_specs value of {key}: a string of at most "
                f"{MAX_VALUE_LENGTH} characters is required."
            )
        specs[key] = value
    return specs


@router.get("/flavors/{flavor_id}/os-extra_specs")
def list_extra_specs(flavor_id: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, INDEX)
    return {"extra_specs": req.admin.flavor_access.extra_specs(req.context, flavor_id)}


@router.post("/flavors/{flavor_id}/os-extra_specs")
def create_extra_specs(
    flavor_id: str, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, CREATE)
    specs = _specs(json_object(body, "extra_specs"))
    if req.compute.version >= v.EXTRA_SPEC_VALIDATION:
        extra_spec_rules.validate(specs)
    req.admin.flavor_access.merge_extra_specs(flavor_id, specs)
    return {"extra_specs": specs}


@router.get("/flavors/{flavor_id}/os-extra_specs/{key}")
def show_extra_spec(flavor_id: str, key: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, SHOW)
    return {key: req.admin.flavor_access.extra_spec(req.context, flavor_id, key)}


@router.put("/flavors/{flavor_id}/os-extra_specs/{key}")
def update_extra_spec(
    flavor_id: str, key: str, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, UPDATE)
    if not isinstance(body, dict) or not body:
        raise errors.BadRequest("Invalid input for field/attribute extra_specs: an object is required.")
    if key not in body:
        raise errors.BadRequest("Request body and URI mismatch")
    if len(body) > 1:
        raise errors.BadRequest("Request body contains too many items")
    specs = _specs(body)
    if req.compute.version >= v.EXTRA_SPEC_VALIDATION:
        extra_spec_rules.validate(specs)
    req.admin.flavor_access.merge_extra_specs(flavor_id, specs)
    return specs


@router.delete("/flavors/{flavor_id}/os-extra_specs/{key}")
def delete_extra_spec(flavor_id: str, key: str, req: AdminRequest = Depends(admin_request)) -> Response:
    policy.enforce(req.context, DELETE)
    req.admin.flavor_access.delete_extra_spec(flavor_id, key)
    # Nova answers 200 with an empty body here.
    return Response(status_code=200)
