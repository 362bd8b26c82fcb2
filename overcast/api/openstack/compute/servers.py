"""/servers: create, list, list with details, show, update, delete."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from overcast import policy
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, parse_bool
from overcast.api.openstack.compute.schemas import ServerCreateBody, ServerUpdateBody
from overcast.api.openstack.compute.server_filters import server_filters
from overcast.api.openstack.compute.views import Audience
from overcast.compute import policies
from overcast.compute.api.block_devices import legacy_mappings
from overcast.compute.api.servers import Server, ServerCreate, ServerFilters, ServerUpdate

router = APIRouter()


def _target(req: ComputeRequest, project_id: str | None = None) -> dict[str, Any]:
    return {"project_id": project_id or req.context.project_id, "user_id": req.context.user_id}


def audience(req: ComputeRequest, project_id: str | None = None) -> Audience:
    """What policy lets this caller see in server bodies (of servers in `project_id`)."""
    target = _target(req, project_id)
    return Audience(
        extended_attributes=policy.authorize(req.context, policies.EXTENDED_SERVER_ATTRIBUTES, target),
        host_status=policy.authorize(req.context, policies.SERVERS_HOST_STATUS, target),
        flavor_extra_specs=policy.authorize(req.context, policies.FLAVOR_EXTRA_SPECS_INDEX, target),
    )


@router.post("/servers", status_code=202)
def create_server(body: ServerCreateBody, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.SERVERS_CREATE, _target(req))
    body.check_version(req.version)
    fields = body.server
    if fields.host is not None or fields.hypervisor_hostname is not None:
        policy.enforce(req.context, policies.SERVERS_CREATE_DESTINATION, _target(req))
    groups = tuple(group.name for group in fields.security_groups or ()) or ("default",)
    # Legacy (v1) mappings always name a volume or a snapshot; they join the v2 ones.
    legacy = legacy_mappings(fields.block_device_mapping or ())
    networks = fields.networks
    created = req.service.servers.create(req.context, ServerCreate(
        name=fields.name, image_ref=fields.imageRef or "", flavor_ref=fields.flavorRef,
        metadata=fields.metadata, key_name=fields.key_name, admin_password=fields.adminPass,
        availability_zone=fields.availability_zone, security_groups=groups, user_data=fields.user_data,
        access_ip_v4=fields.accessIPv4, access_ip_v6=fields.accessIPv6,
        config_drive=bool(fields.config_drive), disk_config=fields.disk_config or "MANUAL",
        min_count=fields.min_count, max_count=fields.max_count or fields.min_count,
        scheduler_hints=body.scheduler_hints or body.scheduler_hints_sdk or {},
        description=fields.description, tags=tuple(fields.tags or ()),
        block_device_mappings=(*legacy, *(
            mapping.model_dump(exclude_unset=True) for mapping in fields.block_device_mapping_v2 or ()
        )),
        networks=networks if networks is None or isinstance(networks, str) else tuple(
            network.model_dump(exclude_unset=True) for network in networks
        ),
        trusted_certs=None if fields.trusted_image_certificates is None else tuple(
            fields.trusted_image_certificates
        ),
        hostname=fields.hostname, requested_host=fields.host, requested_node=fields.hypervisor_hostname,
    ))  # fmt: skip
    if fields.return_reservation_id:
        return {"reservation_id": created.reservation_id}
    return {"server": req.servers_view.created(created.servers[0], created.admin_password)}


def _filters(request: Request, req: ComputeRequest) -> ServerFilters:
    query = request.query_params
    raw = query.get("all_tenants")
    wants_all = raw is not None and (raw == "" or bool(parse_bool("all_tenants", raw)))
    if wants_all:
        policy.enforce(req.context, policies.SERVERS_ALL_TENANTS, _target(req))
    return server_filters(query, req.context, req.version, all_tenants=wants_all)


def _page_links(
    request: Request, req: ComputeRequest, servers: list[Server], collection: str, filters: ServerFilters
) -> dict[str, Any]:
    # Nova links the next page whenever the page is full (a limit, or the max_limit, reached).
    if not servers or len(servers) != filters.page_size:
        return {}
    query = dict(sorted(request.query_params.items()))
    query["marker"] = servers[-1].instance.uuid
    return {"servers_links": req.links.next_page(collection, query)}


@router.get("/servers")
def list_servers(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.SERVERS_INDEX, _target(req))
    filters = _filters(request, req)
    servers = req.service.servers.list(req.context, filters, with_faults=False)
    body: dict[str, Any] = {"servers": [req.servers_view.basic(server.instance) for server in servers]}
    body.update(_page_links(request, req, servers, "servers", filters))
    return body


@router.get("/servers/detail")
def list_servers_detail(request: Request, req: ComputeRequest = Depends(compute_request)) -> Response:
    policy.enforce(req.context, policies.SERVERS_DETAIL, _target(req))
    filters = _filters(request, req)
    servers = req.service.servers.list(req.context, filters)
    seen = audience(req)
    body: dict[str, Any] = {"servers": req.servers_view.details(servers, req.version, seen)}
    body.update(_page_links(request, req, servers, "servers/detail", filters))
    # Straight to a response: FastAPI's validation of an untyped dict only costs time here, and orjson
    # encodes a page of a thousand servers about ten times faster than json.
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/servers/{server_id}")
def show_server(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    server = req.service.servers.get(req.context, server_id)
    policy.enforce(req.context, policies.SERVERS_SHOW, _target(req, server.instance.project_id))
    seen = audience(req, server.instance.project_id)
    return {"server": req.servers_view.detail(server, req.version, seen)}


@router.put("/servers/{server_id}")
def update_server(
    server_id: str, body: ServerUpdateBody, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    current = req.service.servers.get(req.context, server_id)
    policy.enforce(req.context, policies.SERVERS_UPDATE, _target(req, current.instance.project_id))
    body.check_version(req.version)
    fields = body.server
    provided = frozenset(
        {"name": "name", "accessIPv4": "access_ip_v4", "accessIPv6": "access_ip_v6",
         "disk_config": "disk_config", "description": "description", "hostname": "hostname"}[name]
        for name in fields.model_fields_set
    )  # fmt: skip
    server = req.service.servers.update(req.context, server_id, ServerUpdate(
        name=fields.name, access_ip_v4=fields.accessIPv4, access_ip_v6=fields.accessIPv6,
        disk_config=fields.disk_config, description=fields.description, hostname=fields.hostname,
        provided=provided,
    ))  # fmt: skip
    seen = audience(req, server.instance.project_id)
    return {"server": req.servers_view.detail(server, req.version, seen, form="update")}


@router.delete("/servers/{server_id}", status_code=204)
def delete_server(server_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    current = req.service.servers.get(req.context, server_id)
    policy.enforce(req.context, policies.SERVERS_DELETE, _target(req, current.instance.project_id))
    # Soft when reclaim_instance_interval > 0 (restorable until reclaimed), else for good.
    req.service.actions.delete(req.context, server_id)
    return Response(status_code=204)
