"""What every compute route needs: the caller, the negotiated microversion, the service and views."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request

from overcast import errors
from overcast.api.deps import get_context
from overcast.api.openstack.compute.microversion import MIN_VERSION, STATE_KEY, APIVersion
from overcast.api.openstack.compute.views import FlavorView, Links, ServerView
from overcast.compute.api import ComputeService
from overcast.context import RequestContext


@dataclass(frozen=True)
class ComputeRequest:
    context: RequestContext
    version: APIVersion
    service: ComputeService
    servers_view: ServerView
    flavors_view: FlavorView
    links: Links


def get_version(request: Request) -> APIVersion:
    version: APIVersion = getattr(request.state, STATE_KEY, MIN_VERSION)
    return version


def compute_request(request: Request, context: RequestContext = Depends(get_context)) -> ComputeRequest:
    state = request.app.state
    service: ComputeService | None = getattr(state, "compute", None)
    if service is None:
        raise errors.ServiceUnavailable("The compute API is not installed on this server.")
    links: Links = state.compute_links
    return ComputeRequest(context, get_version(request), service, ServerView(links), FlavorView(links), links)


def require_version(req: ComputeRequest, since: APIVersion, until: APIVersion | None = None) -> None:
    """A route that exists only from `since` (and before `until`): Nova's 404 at other versions."""
    if req.version < since or (until is not None and req.version >= until):
        raise errors.NotFound("The resource could not be found.")


def parse_bool(name: str, value: str | None) -> bool | None:
    """Nova's query booleans: true/false/1/0/yes/no/on/off (any case); None when absent."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on", "t", "y"):
        return True
    if lowered in ("false", "0", "no", "off", "f", "n"):
        return False
    raise errors.BadRequest(f"Invalid value '{value}' for query parameter {name}: not a boolean.")


def parse_int(name: str, value: str | None, minimum: int = 0) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.BadRequest(f"{name} param must be an integer") from None
    if number < minimum:
        raise errors.BadRequest(
            f"{name} param must be positive" if minimum == 0 else f"{name} param must be at least {minimum}"
        )
    return number
