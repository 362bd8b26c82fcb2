"""/os-simple-tenant-usage (admins: every project) and /{tenant_id} (the project's readers), as at 2.1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast import errors, policy
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request, nova_time
from overcast.compute.usage import ServerUsage, TenantUsage

router = APIRouter()

LIST = "os_compute_api:os-simple-tenant-usage:list"
SHOW = "os_compute_api:os-simple-tenant-usage:show"
policy.register({LIST: policy.ADMIN, SHOW: policy.ADMIN_OR_READER})


def parse_time(name: str, text: str | None, default: datetime) -> datetime:
    """Nova's formats (2024-01-31T12:00:00[.ffffff], '2024-01-31 12:00:00.ffffff') and ISO 8601 with a
    zone, as openstacksdk sends; a time without a zone is UTC."""
    if not text:
        return default
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f"Invalid {name} time: datetime is in invalid format.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _period(request: Request, req: AdminRequest) -> tuple[datetime, datetime]:
    now = req.admin.usage.now()
    query = request.query_params
    start = parse_time("start", query.get("start"), now)
    stop = parse_time("end", query.get("end"), now)
    if start > stop or (start == stop and ("start" in query or "end" in query)):
        raise errors.BadRequest("Invalid start time. The start time cannot occur after the end time.")
    return start, stop


def _server(usage: ServerUsage) -> dict[str, Any]:
    return {
        "ended_at": nova_time(usage.ended_at),
        "flavor": usage.flavor,
        "hours": usage.hours,
        "instance_id": usage.instance_id,
        "local_gb": usage.local_gb,
        "memory_mb": usage.memory_mb,
        "name": usage.name,
        "started_at": nova_time(usage.started_at),
        "state": usage.state,
        "tenant_id": usage.tenant_id,
        "uptime": usage.uptime,
        "vcpus": usage.vcpus,
    }


def _tenant(usage: TenantUsage, *, detailed: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "start": nova_time(usage.start),
        "stop": nova_time(usage.stop),
        "tenant_id": usage.tenant_id,
        "total_hours": usage.total_hours,
        "total_local_gb_usage": usage.total_local_gb_usage,
        "total_memory_mb_usage": usage.total_memory_mb_usage,
        "total_vcpus_usage": usage.total_vcpus_usage,
    }
    if detailed:
        body["server_usages"] = [_server(server) for server in usage.server_usages]
    return body


@router.get("/os-simple-tenant-usage")
def list_usage(request: Request, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, LIST)
    start, stop = _period(request, req)
    detailed = request.query_params.get("detailed", "0") == "1"
    usages = req.admin.usage.tenant_usages(start, stop)
    return {"tenant_usages": [_tenant(usage, detailed=detailed) for usage in usages]}


@router.get("/os-simple-tenant-usage/{tenant_id}")
def show_usage(
    tenant_id: str, request: Request, req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, SHOW, {"project_id": tenant_id})
    start, stop = _period(request, req)
    usages = req.admin.usage.tenant_usages(start, stop, tenant_id)
    # A project with nothing in the period gets an empty object, as in Nova.
    return {"tenant_usage": _tenant(usages[0], detailed=True) if usages else {}}
