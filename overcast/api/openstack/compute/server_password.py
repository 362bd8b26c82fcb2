"""/servers/{id}/os-server-password (the guest-posted, encrypted password) and /servers/{id}/diagnostics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from overcast import policy
from overcast.api.openstack.compute import action_policies as rules
from overcast.api.openstack.compute.common import ComputeRequest, compute_request

router = APIRouter()


def _authorize(req: ComputeRequest, server_id: str, rule: str) -> None:
    server = req.service.servers.get(req.context, server_id)
    policy.enforce(
        req.context, rule, {"project_id": server.instance.project_id, "user_id": req.context.user_id}
    )


@router.get("/servers/{server_id}/os-server-password")
def show_password(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    _authorize(req, server_id, rules.SERVER_PASSWORD_SHOW)
    return {"password": req.service.actions.get_password(req.context, server_id)}


@router.delete("/servers/{server_id}/os-server-password", status_code=204)
def clear_password(server_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    _authorize(req, server_id, rules.SERVER_PASSWORD_CLEAR)
    req.service.actions.clear_password(req.context, server_id)
    return Response(status_code=204)


@router.get("/servers/{server_id}/diagnostics")
def server_diagnostics(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    # Before 2.48 the body is whatever the hypervisor driver reports.
    _authorize(req, server_id, rules.DIAGNOSTICS)
    return req.service.actions.diagnostics(req.context, server_id)
