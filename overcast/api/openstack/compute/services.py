"""/os-services: list, enable/disable (by host and binary before 2.53, by uuid from 2.53), force down
(2.11) and delete (admins only).

A disabled compute service keeps its instances but the scheduler places no new ones on it.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request, bounded_string, nova_time
from overcast.api.openstack.compute.binaries import NOVA_COMPUTE, is_nova_service, nova_name, overcast_name
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.compute.schemas import refuse_fields
from overcast.api.openstack.parameter_types import Boolean, Fqdn, check
from overcast.compute import policies
from overcast.compute.api.hosts import ServiceInfo
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.digits import database_id

router = APIRouter()

LIST = policies.SERVICES_LIST
UPDATE = policies.SERVICES_UPDATE
DELETE = policies.SERVICES_DELETE


def service_view(service: ServiceInfo, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "binary": nova_name(service.binary),
        "disabled_reason": service.disabled_reason,
        "host": service.host,
        "id": service.uuid if version >= v.UUID_IDS else service.id,
        "state": "up" if service.up else "down",
        "status": "disabled" if service.disabled else "enabled",
        "updated_at": nova_time(service.updated_at),
        "zone": service.zone,
    }
    if version >= v.FORCED_DOWN:
        body["forced_down"] = service.forced_down
    return body


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadRequest("Invalid input for field/attribute service: an object is required.")
    return body


@router.get("/os-services")
def list_services(request: Request, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, LIST)
    query = request.query_params
    binary = query.get("binary")
    found = req.admin.hosts.services(host=query.get("host"), binary=overcast_name(binary) if binary else None)
    shown = [service for service in found if is_nova_service(service.binary)]
    return {"services": [service_view(service, req.compute.version) for service in shown]}


def _update_by_uuid(service_id: str, body: dict[str, Any], req: AdminRequest) -> dict[str, Any]:
    """2.53: PUT /os-services/{uuid} with status, disabled_reason and forced_down."""
    try:
        uuid.UUID(service_id)
    except ValueError:
        raise errors.BadRequest(f"Invalid uuid {service_id}") from None
    refuse_fields(set(body) - {"status", "disabled_reason", "forced_down"})
    service = req.admin.hosts.service(service_id)
    if service.binary != COMPUTE_BINARY:
        raise errors.BadRequest(f"Updating a {nova_name(service.binary)} service is not supported. Only "
                                f"{NOVA_COMPUTE} services can be updated.")  # fmt: skip
    disabled = reason = forced_down = None
    if "status" in body:
        if body["status"] not in ("enabled", "disabled"):
            raise errors.BadRequest(f"Invalid input for field/attribute status. Value: {body['status']!r}. "
                                    "'status' is not one of ['enabled', 'disabled']")  # fmt: skip
        disabled = body["status"] == "disabled"
        if "disabled_reason" in body:
            reason = bounded_string("disabled_reason", body["disabled_reason"])
        if not disabled and reason:
            raise errors.BadRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
    if "forced_down" in body:
        forced_down = check(Boolean, "forced_down", body["forced_down"])
    if disabled is None and forced_down is None:
        raise errors.BadRequest(
            "No updates were requested. Fields 'status' or 'forced_down' should be specified."
        )
    updated = req.admin.hosts.update_service(
        service_id, disabled=disabled, reason=reason, forced_down=forced_down
    )
    return {"service": service_view(updated, req.compute.version)}


@router.put("/os-services/{action}")
def update_service(
    action: str, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, UPDATE)
    version = req.compute.version
    body = _object(body)
    if version >= v.UUID_IDS:
        return _update_by_uuid(action, body, req)
    actions = ("enable", "disable", "disable-log-reason") + (
        ("force-down",) if version >= v.FORCED_DOWN else ()
    )
    if action not in actions:
        raise errors.NotFound("Unknown action")
    host: str = check(Fqdn, "host", body.get("host"))
    binary = bounded_string("binary", body.get("binary"))
    allowed = {"host", "binary"} | {
        "disable-log-reason": {"disabled_reason"},
        "force-down": {"forced_down"},
    }.get(action, set())
    refuse_fields(set(body) - allowed)
    result: dict[str, Any] = {"host": host, "binary": binary}
    if action == "enable":
        req.admin.hosts.set_disabled(host, overcast_name(binary), False)
        result["status"] = "enabled"
    elif action == "disable":
        req.admin.hosts.set_disabled(host, overcast_name(binary), True)
        result["status"] = "disabled"
    elif action == "force-down":
        if "forced_down" not in body:
            raise errors.BadRequest(
                "Invalid input for field/attribute service: 'forced_down' is a required property"
            )
        forced_down = check(Boolean, "forced_down", body["forced_down"])
        req.admin.hosts.set_forced_down(host, overcast_name(binary), forced_down)
        result["forced_down"] = forced_down
    else:
        if "disabled_reason" not in body:
            raise errors.BadRequest("Missing disabled reason field")
        reason = bounded_string("disabled_reason", body["disabled_reason"])
        req.admin.hosts.set_disabled(host, overcast_name(binary), True, reason)
        result.update(status="disabled", disabled_reason=reason)
    return {"service": result}


@router.delete("/os-services/{service_id}", status_code=204)
def delete_service(service_id: str, req: AdminRequest = Depends(admin_request)) -> Response:
    policy.enforce(req.context, DELETE)
    if req.compute.version >= v.UUID_IDS:
        try:
            uuid.UUID(service_id)
        except ValueError:
            raise errors.BadRequest(f"Invalid uuid {service_id}") from None
    elif database_id(service_id) is None:
        raise errors.BadRequest(f"Invalid ID {service_id}: it must be an integer.")
    req.admin.hosts.delete_service(service_id)
    return Response(status_code=204)
