"""POST /os-server-external-events (admins and the service role): Nova's event names per microversion,
one result per event, and the overall code Nova gives (200 all accepted, 207 some, 404 none)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request
from overcast.api.openstack.compute.microversion import MIN_VERSION, APIVersion
from overcast.compute import policies as rules
from overcast.compute.api.external_events import ACCEPTED, Event

router = APIRouter()

VOLUME_EXTENDED_EVENT = APIVersion(2, 51)
# Each event name and the microversion that brought it.
EVENT_NAMES: dict[str, APIVersion] = {
    "network-changed": MIN_VERSION,
    "network-vif-plugged": MIN_VERSION,
    "network-vif-unplugged": MIN_VERSION,
    "network-vif-deleted": MIN_VERSION,
    "volume-extended": VOLUME_EXTENDED_EVENT,
    "power-update": v.POWER_UPDATE_EVENT,
    "accelerator-request-bound": v.ACCELERATOR_EVENT,
    "volume-reimaged": v.REBUILD_VOLUME_BACKED,
}
STATUSES = ("failed", "completed", "in-progress")
POWER_TAGS = ("POWER_ON", "POWER_OFF")
EVENT_FIELDS = {"name", "server_uuid", "status", "tag"}
MAX_TAG = 255


def _invalid(field: str, value: Any, why: str) -> errors.BadRequest:
    return errors.BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. {why}")


def _event(item: Any, version: APIVersion) -> Event:
    if not isinstance(item, dict):
        raise _invalid("events", item, f"{item!r} is not of type 'object'")
    unexpected = sorted(set(item) - EVENT_FIELDS)
    if unexpected:
        listed = ", ".join(repr(name) for name in unexpected)
        raise _invalid("events", item, f"Additional properties are not allowed ({listed} were unexpected)")
    for required in ("name", "server_uuid"):
        if required not in item:
            raise _invalid("events", item, f"'{required}' is a required property")
    allowed = [name for name, since in EVENT_NAMES.items() if version >= since]
    name = item["name"]
    if name not in allowed:
        raise _invalid("name", name, f"{name!r} is not one of {allowed}")
    status = item.get("status", "completed")
    if status not in STATUSES:
        raise _invalid("status", status, f"{status!r} is not one of {list(STATUSES)}")
    server_uuid = item["server_uuid"]
    if not isinstance(server_uuid, str):
        raise _invalid("server_uuid", server_uuid, f"{server_uuid!r} is not of type 'string'")
    tag = item.get("tag")
    if tag is not None and (not isinstance(tag, str) or len(tag) > MAX_TAG):
        raise _invalid("tag", tag, "a string of up to 255 characters is expected")
    if name == "power-update" and tag not in POWER_TAGS:
        raise errors.BadRequest(f"Invalid power-update tag {tag!r}: expected one of {', '.join(POWER_TAGS)}.")
    return Event(name, server_uuid, status, tag)


@router.post("/os-server-external-events")
def create_events(body: Any = Body(None), req: ComputeRequest = Depends(compute_request)) -> JSONResponse:
    policy.enforce(req.context, rules.EXTERNAL_EVENTS)
    items = body.get("events") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise errors.BadRequest(
            "Invalid input for field/attribute events. 'events' is a required non-empty list of events"
        )
    events = [_event(item, req.version) for item in items]
    outcomes = req.service.external_events.accept(req.context, events)
    answered = []
    for outcome in outcomes:
        shown: dict[str, Any] = {
            "name": outcome.event.name,
            "server_uuid": outcome.event.server_uuid,
            "status": outcome.status,
            "code": outcome.code,
        }
        if outcome.event.tag is not None:
            shown["tag"] = outcome.event.tag
        answered.append(shown)
    accepted = sum(outcome.code == ACCEPTED for outcome in outcomes)
    status = 200 if accepted == len(outcomes) else 207 if accepted else 404
    return JSONResponse({"events": answered}, status_code=status)
