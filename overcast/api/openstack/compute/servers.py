"""/servers: create, list, list with details, show, update, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from overcast import errors, policy
from overcast.api.openstack.compute import policies
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, parse_bool, parse_int
from overcast.api.openstack.compute.schemas import ServerCreateBody, ServerUpdateBody
from overcast.compute.api import Server, ServerCreate, ServerFilters, ServerUpdate

router = APIRouter()


def _target(req: ComputeRequest, project_id: str | None = None) -> dict[str, Any]:
    return {"project_id": project_id or req.context.project_id, "user_id": req.context.user_id}


def _config_drive(value: bool | str | None) -> bool:
    if isinstance(value, bool):
        return value
    return (value or "").lower() == "true"


@router.post("/servers", status_code=202)
def create_server(body: ServerCreateBody, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.SERVERS_CREATE, _target(req))
    fields = body.server
    groups = tuple(group.name for group in fields.security_groups or ()) or ("default",)
    created = req.service.servers.create(req.context, ServerCreate(
        name=fields.name, image_ref=fields.imageRef, flavor_ref=fields.flavorRef, metadata=fields.metadata,
        key_name=fields.key_name, admin_password=fields.adminPass,
        availability_zone=fields.availability_zone, security_groups=groups, user_data=fields.user_data,
        access_ip_v4=fields.accessIPv4, access_ip_v6=fields.accessIPv6,
        config_drive=_config_drive(fields.config_drive), disk_config=fields.disk_config or "MANUAL",
        min_count=fields.min_count, max_count=fields.max_count or fields.min_count,
        scheduler_hints=body.scheduler_hints or body.scheduler_hints_sdk or {},
    ))  # fmt: skip
    if fields.return_reservation_id:
        return {"reservation_id": created.reservation_id}
    return {"server": req.servers_view.created(created.servers[0], created.admin_password)}


def _filters(request: Request, req: ComputeRequest) -> ServerFilters:
    query = request.query_params
    all_tenants = query.get("all_tenants")
    wants_all = all_tenants is not None and (
        all_tenants == "" or bool(parse_bool("all_tenants", all_tenants))
    )
    if wants_all:
        policy.enforce(req.context, policies.SERVERS_ALL_TENANTS, _target(req))
    changes_since = None
    if query.get("changes-since"):
        try:
            changes_since = datetime.fromisoformat(query["changes-since"].replace("Z", "+00:00"))
        except ValueError:
            raise errors.BadRequest("Invalid filter field: changes-since.") from None
        if changes_since.tzinfo is None:
            changes_since = changes_since.replace(tzinfo=UTC)
    return ServerFilters(
        all_tenants=wants_all,
        project_id=query.get("project_id") or query.get("tenant_id"),
        name=query.get("name"),
        status=query.get("status"),
        image=query.get("image"),
        flavor=query.get("flavor"),
        host=query.get("host"),
        reservation_id=query.get("reservation_id"),
        changes_since=changes_since,
        sort_key=query.get("sort_key", "created_at"),
        sort_dir=query.get("sort_dir", "desc"),
        marker=query.get("marker"),
        limit=parse_int("limit", query.get("limit")),
    )


def _page_links(
    request: Request, req: ComputeRequest, servers: list[Server], collection: str, limit: int | None
) -> dict[str, Any]:
    if not servers or limit is None or len(servers) < limit:
        return {}
    query = {key: value for key, value in request.query_params.items() if key != "marker"}
    query["marker"] = servers[-1].instance.uuid
    return {"servers_links": req.links.next_page(collection, query)}


@router.get("/servers")
def list_servers(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.SERVERS_INDEX, _target(req))
    filters = _filters(request, req)
    servers = req.service.servers.list(req.context, filters, with_faults=False)
    body: dict[str, Any] = {"servers": [req.servers_view.basic(server.instance) for server in servers]}
    body.update(_page_links(request, req, servers, "servers", filters.limit))
    return body


@router.get("/servers/detail")
def list_servers_detail(request: Request, req: ComputeRequest = Depends(compute_request)) -> Response:
    policy.enforce(req.context, policies.SERVERS_DETAIL, _target(req))
    filters = _filters(request, req)
    servers = req.service.servers.list(req.context, filters)
    is_admin = policy.authorize(req.context, policies.EXTENDED_SERVER_ATTRIBUTES, _target(req))
    view = req.servers_view
    body: dict[str, Any] = {
        "servers": [view.detail(server, req.version, is_admin=is_admin) for server in servers]
    }
    body.update(_page_links(request, req, servers, "servers/detail", filters.limit))
    # Straight to JSONResponse: FastAPI's response validation of an untyped dict only costs time here.
    return JSONResponse(body)


@router.get("/servers/{server_id}")
def show_server(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    server = req.service.servers.get(req.context, server_id)
    policy.enforce(req.context, policies.SERVERS_SHOW, _target(req, server.instance.project_id))
    is_admin = policy.authorize(req.context, policies.EXTENDED_SERVER_ATTRIBUTES, _target(req))
    return {"server": req.servers_view.detail(server, req.version, is_admin=is_admin)}


@router.put("/servers/{server_id}")
def update_server(
    server_id: str, body: ServerUpdateBody, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    current = req.service.servers.get(req.context, server_id)
    policy.enforce(req.context, policies.SERVERS_UPDATE, _target(req, current.instance.project_id))
    fields = body.server
    provided = frozenset(
        {"name": "name", "accessIPv4": "access_ip_v4", "accessIPv6": "access_ip_v6",
         "disk_config": "disk_config"}[name]
        for name in fields.model_fields_set
    )  # fmt: skip
    server = req.service.servers.update(req.context, server_id, ServerUpdate(
        name=fields.name, access_ip_v4=fields.accessIPv4, access_ip_v6=fields.accessIPv6,
        disk_config=fields.disk_config, provided=provided,
    ))  # fmt: skip
    is_admin = policy.authorize(req.context, policies.EXTENDED_SERVER_ATTRIBUTES, _target(req))
    return {"server": req.servers_view.detail(server, req.version, is_admin=is_admin)}


@router.delete("/servers/{server_id}", status_code=204)
def delete_server(server_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    current = req.service.servers.get(req.context, server_id)
    policy.enforce(req.context, policies.SERVERS_DELETE, _target(req, current.instance.project_id))
    # Soft when reclaim_instance_interval > 0 (restorable until reclaimed), else for good.
    req.service.actions.delete(req.context, server_id)
    return Response(status_code=204)
