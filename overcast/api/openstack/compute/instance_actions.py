"""/servers/{id}/os-instance-actions[/{request_id}]: what was asked of a server, with its events.

Versions: deleted servers' actions from 2.21; events for every reader from 2.51 (the traceback stays the
admins'); paging, changes-since and updated_at from 2.58; the event's hostId (and host for admins) from
2.62.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, parse_int
from overcast.api.openstack.compute.server_filters import check_change_window, parse_time
from overcast.api.openstack.compute.views import host_id, naive_iso
from overcast.compute import policies as rules
from overcast.compute.api.server_queries import MAX_LIMIT
from overcast.db.models.compute import Instance
from overcast.db.models.instance_actions import InstanceAction, InstanceActionEvent

router = APIRouter()


def action_view(action: InstanceAction, req: ComputeRequest) -> dict[str, Any]:
    body = {
        "action": action.action,
        "instance_uuid": action.instance_uuid,
        "request_id": action.request_id,
        "user_id": action.user_id,
        "project_id": action.project_id,
        "start_time": naive_iso(action.start_time),
        "message": action.message,
    }
    if req.version >= v.ACTIONS_PAGING:
        body["updated_at"] = naive_iso(action.updated_at or action.start_time)
    return body


def event_view(
    event: InstanceActionEvent, project_id: str, req: ComputeRequest, *, privileged: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": event.event,
        "start_time": naive_iso(event.start_time),
        "finish_time": naive_iso(event.finish_time),
        "result": event.result,
    }
    if privileged:
        body["traceback"] = event.traceback
        if req.version >= v.EVENT_HOST:
            body["host"] = event.host
    if req.version >= v.EVENT_HOST:
        body["hostId"] = host_id(project_id, event.host)
    if req.version >= v.EVENT_DETAILS:
        body["details"] = event_details(event)
    return body


def event_details(event: InstanceActionEvent) -> str | None:
    """2.84's details of a failed event: the error it ended with (its traceback's last line, which names
    the exception and its message), shown to every reader; null for one that did not fail."""
    if event.result != "Error" or not event.traceback:
        return None
    lines = [line.strip() for line in event.traceback.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _instance(req: ComputeRequest, server_id: str) -> Instance:
    return req.service.servers.find(
        req.context, server_id, include_deleted=req.version >= v.ACTIONS_OF_DELETED
    )


def _target(req: ComputeRequest, instance: Instance) -> dict[str, Any]:
    return {"project_id": instance.project_id, "user_id": req.context.user_id}


@router.get("/servers/{server_id}/os-instance-actions")
def list_instance_actions(
    server_id: str, request: Request, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    instance = _instance(req, server_id)
    policy.enforce(req.context, rules.INSTANCE_ACTIONS_LIST, _target(req, instance))
    query = request.query_params
    paged = req.version >= v.ACTIONS_PAGING
    limit = min(parse_int("limit", query.get("limit")) or MAX_LIMIT, MAX_LIMIT) if paged else None
    changes_since = changes_before = None
    if paged and query.get("changes-since"):
        changes_since = parse_time("changes-since", query["changes-since"])
    if req.version >= v.CHANGES_BEFORE and query.get("changes-before"):
        changes_before = parse_time("changes-before", query["changes-before"])
    check_change_window(changes_since, changes_before)
    actions = req.service.instance_actions.actions_of(
        server_id, changes_since=changes_since, marker=query.get("marker") if paged else None, limit=limit,
        changes_before=changes_before,
    )  # fmt: skip
    body: dict[str, Any] = {"instanceActions": [action_view(action, req) for action in actions]}
    if limit is not None and actions and len(actions) == limit:
        next_query = dict(sorted(query.items()))
        next_query["marker"] = actions[-1].request_id
        body["links"] = req.links.next_page(f"servers/{server_id}/os-instance-actions", next_query)
    return body


@router.get("/servers/{server_id}/os-instance-actions/{request_id}")
def show_instance_action(
    server_id: str, request_id: str, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    instance = _instance(req, server_id)
    target = _target(req, instance)
    policy.enforce(req.context, rules.INSTANCE_ACTIONS_SHOW, target)
    try:
        record = req.service.instance_actions.action(server_id, request_id)
    except errors.NotFound:
        raise errors.NotFound(f"Action {request_id} not found") from None
    body = action_view(record.action, req)
    # Before 2.51 Nova shows the events (with their tracebacks) to admins only; from 2.51 to everyone
    # who may see the action, the traceback (and from 2.62 the host) still to admins only.
    privileged = policy.authorize(req.context, rules.INSTANCE_ACTIONS_EVENTS, target)
    if privileged or req.version >= v.EVENTS_FOR_MEMBERS:
        project_id = record.action.project_id or instance.project_id
        body["events"] = [
            event_view(event, project_id, req, privileged=privileged) for event in record.events
        ]
    return {"instanceAction": body}
