"""What the compute admin routers share: their logic objects, the caller, and Nova's value formats."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, Request

from overcast import errors
from overcast.api.openstack.compute.common import ComputeRequest, compute_request
from overcast.compute.aggregates import AggregateAPI
from overcast.compute.api import ComputeService
from overcast.compute.flavor_access import FlavorAccessAPI
from overcast.compute.hosts import HostAPI
from overcast.compute.quota_views import QuotaViewAPI
from overcast.compute.usage import UsageAPI
from overcast.context import RequestContext
from overcast.scheduler.rpcapi import notify_host_states_changed

STATE_KEY = "compute_admin"


class AdminServices:
    """The logic behind the admin APIs, built once per ComputeService (and so per cloud)."""

    def __init__(self, compute: ComputeService) -> None:
        cloud = compute.servers.cloud
        self.compute = compute
        notify_schedulers = functools.partial(notify_host_states_changed, cloud.transport)
        self.aggregates = AggregateAPI(cloud.db, notify_schedulers)
        self.hosts = HostAPI(cloud.db, cloud.clock, cloud.settings.service_down_time, notify_schedulers)
        self.usage = UsageAPI(cloud.db, cloud.clock)
        self.quotas = QuotaViewAPI(cloud.db, compute.quotas)
        self.flavor_access = FlavorAccessAPI(cloud.db)


@dataclass(frozen=True)
class AdminRequest:
    compute: ComputeRequest
    admin: AdminServices

    @property
    def context(self) -> RequestContext:
        return self.compute.context


def admin_request(request: Request, req: ComputeRequest = Depends(compute_request)) -> AdminRequest:
    state = request.app.state
    admin: AdminServices | None = getattr(state, STATE_KEY, None)
    if admin is None or admin.compute is not req.service:
        admin = AdminServices(req.service)
        setattr(state, STATE_KEY, admin)
    return AdminRequest(req, admin)


def nova_time(moment: datetime | None) -> str | None:
    """Nova's naive-UTC timestamps with microseconds: 2013-08-18T12:17:55.751757."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%f")


def json_object(body: Any, key: str) -> dict[str, Any]:
    """body[key], which must be a JSON object (Nova's schemas answer 400 otherwise)."""
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise errors.BadRequest(f"Invalid input for field/attribute {key}: an object is required.")
    value: dict[str, Any] = body[key]
    return value


def bounded_string(name: str, value: Any, *, minimum: int = 1, maximum: int = 255) -> str:
    if not isinstance(value, str) or not minimum <= len(value) <= maximum:
        raise errors.BadRequest(
            f"Invalid input for field/attribute {name}: "
            f"must be a string of {minimum} to {maximum} characters."
        )
    return value
