"""What the compute admin routers share: the caller with its admin services, and Nova's value formats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, Request

from overcast import errors
from overcast.api.openstack.compute.common import ComputeRequest, compute_request
from overcast.compute.api.admin import AdminServices
from overcast.context import RequestContext


@dataclass(frozen=True)
class AdminRequest:
    compute: ComputeRequest
    admin: AdminServices

    @property
    def context(self) -> RequestContext:
        return self.compute.context


def admin_request(request: Request, req: ComputeRequest = Depends(compute_request)) -> AdminRequest:
    admin: AdminServices = request.app.state.compute_admin
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
