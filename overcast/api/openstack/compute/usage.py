"""/os-simple-tenant-usage (admins: every project) and /{tenant_id} (the project's readers); paged by
instance from 2.40 (limit/marker, with tenant_usage[s]_links)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request, nova_time
from overcast.api.openstack.compute.common import parse_int
from overcast.compute import policies
from overcast.compute.api.server_queries import MAX_LIMIT
from overcast.compute.api.usage import ServerUsage, TenantUsage

router = APIRouter()

LIST = policies.USAGE_LIST
SHOW = policies.USAGE_SHOW


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


def _paging(request: Request, req: AdminRequest) -> tuple[str | None, int | None]:
    if req.compute.version < v.USAGE_PAGING:
        return None, None
    limit = parse_int("limit", request.query_params.get("limit"))
    return request.query_params.get("marker"), min(limit or MAX_LIMIT, MAX_LIMIT)


def _links(
    request: Request, req: AdminRequest, usages: list[TenantUsage], collection: str, limit: int | None
) -> list[dict[str, str]]:
    """Nova links the next page by the last instance of this one, when the page is full."""
    servers = [server for usage in usages for server in usage.server_usages]
    if limit is None or not servers or len(servers) != limit:
        return []
    query = dict(sorted(request.query_params.items()))
    query["marker"] = servers[-1].instance_id
    return req.compute.links.next_page(collection, query)


@router.get("/os-simple-tenant-usage")
def list_usage(request: Request, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, LIST)
    start, stop = _period(request, req)
    detailed = request.query_params.get("detailed", "0") == "1"
    marker, limit = _paging(request, req)
    usages = req.admin.usage.tenant_usages(start, stop, marker=marker, limit=limit)
    body: dict[str, Any] = {"tenant_usages": [_tenant(usage, detailed=detailed) for usage in usages]}
    links = _links(request, req, usages, "os-simple-tenant-usage", limit)
    if links:
        body["tenant_usages_links"] = links
    return body


@router.get("/os-simple-tenant-usage/", include_in_schema=False)
def show_usage_of_no_tenant(req: AdminRequest = Depends(admin_request)) -> None:
    """An empty tenant id names nothing (tempest's negative test): Nova's router finds no route, so 404
    rather than the listing the path would reach without its slash."""
    policy.enforce(req.context, SHOW, {"project_id": ""})
    raise errors.NotFound()


@router.get("/os-simple-tenant-usage/{tenant_id}")
def show_usage(
    tenant_id: str, request: Request, req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, SHOW, {"project_id": tenant_id})
    start, stop = _period(request, req)
    marker, limit = _paging(request, req)
    usages = req.admin.usage.tenant_usages(start, stop, tenant_id, marker=marker, limit=limit)
    # A project with nothing in the period gets an empty object, as in Nova.
    body: dict[str, Any] = {"tenant_usage": _tenant(usages[0], detailed=True) if usages else {}}
    links = _links(request, req, usages, f"os-simple-tenant-usage/{tenant_id}", limit)
    if links:
        body["tenant_usage_links"] = links
    return body
