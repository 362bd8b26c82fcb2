"""/servers/{id}/os-instance-actions[/{request_id}]: what was asked of a server; events for admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from overcast import policy
from overcast.api.openstack.compute import action_policies as rules
from overcast.api.openstack.compute.common import ComputeRequest, compute_request
from overcast.api.openstack.compute.views import naive_iso
from overcast.compute import instance_actions
from overcast.db.models.instance_actions import InstanceAction, InstanceActionEvent

router = APIRouter()


def action_view(action: InstanceAction) -> dict[str, Any]:
    return {
        "action": action.action,
        "instance_uuid": action.instance_uuid,
        "request_id": action.request_id,
        "user_id": action.user_id,
        "project_id": action.project_id,
        "start_time": naive_iso(action.start_time),
        "message": action.message,
    }


def event_view(event: InstanceActionEvent) -> dict[str, Any]:
    return {
        "event": event.event,
        "start_time": naive_iso(event.start_time),
        "finish_time": naive_iso(event.finish_time),
        "result": event.result,
        "traceback": event.traceback,
    }


def _target(req: ComputeRequest, server_id: str) -> dict[str, Any]:
    server = req.service.servers.get(req.context, server_id)
    return {"project_id": server.instance.project_id, "user_id": req.context.user_id}


@router.get("/servers/{server_id}/os-instance-actions")
def list_instance_actions(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, rules.INSTANCE_ACTIONS_LIST, _target(req, server_id))
    with req.service.servers.db.reader() as session:
        actions = instance_actions.list_actions(session, server_id)
    return {"instanceActions": [action_view(action) for action in actions]}


@router.get("/servers/{server_id}/os-instance-actions/{request_id}")
def show_instance_action(
    server_id: str, request_id: str, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    target = _target(req, server_id)
    policy.enforce(req.context, rules.INSTANCE_ACTIONS_SHOW, target)
    with req.service.servers.db.reader() as session:
        record = instance_actions.get_action(session, server_id, request_id)
    body = action_view(record.action)
    # Before 2.51 Nova shows the events (with their tracebacks) to admins only.
    if policy.authorize(req.context, rules.INSTANCE_ACTIONS_EVENTS, target):
        body["events"] = [event_view(event) for event in record.events]
    return {"instanceAction": body}
