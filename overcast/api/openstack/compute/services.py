"""/os-services: list, enable, disable, disable-log-reason and delete, as at 2.1 (admins only).

A disabled compute service keeps its instances but the scheduler places no new ones on it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from overcast import errors, policy
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request, bounded_string, nova_time
from overcast.compute.hosts import ServiceInfo

router = APIRouter()

LIST = "os_compute_api:os-services:list"
UPDATE = "os_compute_api:os-services:update"
DELETE = "os_compute_api:os-services:delete"
policy.register({LIST: policy.ADMIN, UPDATE: policy.ADMIN, DELETE: policy.ADMIN})


def service_view(service: ServiceInfo) -> dict[str, Any]:
    # forced_down joins at 2.11, the uuid id at 2.53: neither exists at 2.1.
    return {
        "binary": service.binary,
        "disabled_reason": service.disabled_reason,
        "host": service.host,
        "id": service.id,
        "state": "up" if service.up else "down",
        "status": "disabled" if service.disabled else "enabled",
        "updated_at": nova_time(service.updated_at),
        "zone": service.zone,
    }


@router.get("/os-services")
def list_services(request: Request, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, LIST)
    query = request.query_params
    services = req.admin.hosts.services(host=query.get("host"), binary=query.get("binary"))
    return {"services": [service_view(service) for service in services]}


@router.put("/os-services/{action}")
def update_service(
    action: str, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, UPDATE)
    if action not in ("enable", "disable", "disable-log-reason"):
        raise errors.NotFound("Unknown action")
    if not isinstance(body, dict):
        raise errors.BadRequest("Invalid input for field/attribute service: an object is required.")
    host = bounded_string("host", body.get("host"))
    binary = bounded_string("binary", body.get("binary"))
    allowed = {"host", "binary"} | ({"disabled_reason"} if action == "disable-log-reason" else set())
    unexpected = sorted(set(body) - allowed)
    if unexpected:
        raise errors.BadRequest(
            f"Additional properties are not allowed ({', '.join(unexpected)} were unexpected)"
        )
    result: dict[str, Any] = {"host": host, "binary": binary}
    if action == "enable":
        req.admin.hosts.set_disabled(host, binary, False)
        result["status"] = "enabled"
    elif action == "disable":
        req.admin.hosts.set_disabled(host, binary, True)
        result["status"] = "disabled"
    else:
        if "disabled_reason" not in body:
            raise errors.BadRequest("Missing disabled reason field")
        reason = bounded_string("disabled_reason", body["disabled_reason"])
        req.admin.hosts.set_disabled(host, binary, True, reason)
        result.update(status="disabled", disabled_reason=reason)
    return {"service": result}


@router.delete("/os-services/{service_id}", status_code=204)
def delete_service(service_id: str, req: AdminRequest = Depends(admin_request)) -> Response:
    policy.enforce(req.context, DELETE)
    req.admin.hosts.delete_service(service_id)
    return Response(status_code=204)
