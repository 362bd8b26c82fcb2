"""/os-hypervisors (admins only): list, detail, show, statistics, uptime; search and servers before 2.53.

Versions: cpu_info is a JSON string before 2.28 and an object from it; limit/marker paging from 2.33;
from 2.53 hypervisors and their services are named by uuid, and the search/servers routes give way to
the hypervisor_hostname_pattern and with_servers query parameters; 2.88 drops the resource fields and
the statistics and uptime routes, and shows uptime in show.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request
from overcast.api.openstack.compute.common import parse_bool, parse_int, require_version
from overcast.api.openstack.compute.microversion import MIN_VERSION, APIVersion
from overcast.compute import policies
from overcast.compute.api.hosts import HypervisorInfo
from overcast.compute.api.server_queries import MAX_LIMIT
from overcast.digits import database_id

router = APIRouter()

RULES = policies.HYPERVISOR_RULES


class FeatureNotSupported(errors.OvercastError):
    status = 501
    title = "notImplemented"
    default_message = "Feature not supported."


def summary(hypervisor: HypervisorInfo, version: APIVersion) -> dict[str, Any]:
    return {
        "id": hypervisor.uuid if version >= v.UUID_IDS else hypervisor.id,
        "hypervisor_hostname": hypervisor.hypervisor_hostname,
        "state": "up" if hypervisor.service.up else "down",
        "status": "disabled" if hypervisor.service.disabled else "enabled",
    }


# What 2.88 takes out of the hypervisor bodies (the resources are placement's to report).
GONE_AT_2_88 = frozenset({
    "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used", "free_ram_mb",
    "free_disk_gb", "current_workload", "running_vms", "cpu_info", "disk_available_least",
})  # fmt: skip


def detail(hypervisor: HypervisorInfo, version: APIVersion) -> dict[str, Any]:
    body = _detail(hypervisor, version)
    if version >= v.HYPERVISOR_CLEANUP:
        return {key: value for key, value in body.items() if key not in GONE_AT_2_88}
    return body


def _detail(hypervisor: HypervisorInfo, version: APIVersion) -> dict[str, Any]:
    body = summary(hypervisor, version)
    cpu_info: Any = hypervisor.cpu_info
    if version < v.CPU_INFO_OBJECT:
        cpu_info = json.dumps(hypervisor.cpu_info, sort_keys=True)
    body.update({
        "vcpus": hypervisor.vcpus,
        "memory_mb": hypervisor.memory_mb,
        "local_gb": hypervisor.local_gb,
        "vcpus_used": hypervisor.vcpus_used,
        "memory_mb_used": hypervisor.memory_mb_used,
        "local_gb_used": hypervisor.local_gb_used,
        "hypervisor_type": hypervisor.hypervisor_type,
        "hypervisor_version": hypervisor.hypervisor_version,
        "free_ram_mb": hypervisor.free_ram_mb,
        "free_disk_gb": hypervisor.free_disk_gb,
        "current_workload": hypervisor.current_workload,
        "running_vms": hypervisor.running_vms,
        "cpu_info": cpu_info,
        # No sparse-disk accounting exists, so the least available disk is the free disk.
        "disk_available_least": hypervisor.free_disk_gb,
        # compute_nodes records no management address for a host.
        "host_ip": None,
        "service": {
            "host": hypervisor.host,
            "id": hypervisor.service.uuid if version >= v.UUID_IDS else hypervisor.service.id,
            "disabled_reason": hypervisor.service.disabled_reason,
        },
    })  # fmt: skip
    return body


def _with_servers(
    body: dict[str, Any], hypervisor: HypervisorInfo, version: APIVersion = MIN_VERSION, asked: bool = False
) -> dict[str, Any]:
    # Before 2.75 Nova leaves the key out for a hypervisor without servers; from it, asked for, it is there.
    if hypervisor.servers or (asked and version >= v.FULL_UPDATE_BODIES):
        body["servers"] = [{"name": name, "uuid": server_uuid} for name, server_uuid in hypervisor.servers]
    return body


def _page(
    request: Request, req: AdminRequest, hypervisors: list[HypervisorInfo], collection: str
) -> tuple[list[HypervisorInfo], dict[str, Any]]:
    """2.33's limit/marker paging (marker: the id as this version shows it)."""
    version = req.compute.version
    query = request.query_params
    if version < v.HYPERVISOR_PAGING:
        return hypervisors, {}
    marker = query.get("marker")
    if marker is not None:
        ids = [str(hyp.uuid if version >= v.UUID_IDS else hyp.id) for hyp in hypervisors]
        if marker not in ids:
            raise errors.BadRequest(f"marker [{marker}] not found")
        hypervisors = hypervisors[ids.index(marker) + 1 :]
    limit = min(parse_int("limit", query.get("limit")) or MAX_LIMIT, MAX_LIMIT)
    hypervisors = hypervisors[:limit]
    if not hypervisors or len(hypervisors) != limit:
        return hypervisors, {}
    last = hypervisors[-1]
    next_query = dict(sorted(query.items()))
    next_query["marker"] = str(last.uuid if version >= v.UUID_IDS else last.id)
    return hypervisors, {"hypervisors_links": req.compute.links.next_page(collection, next_query)}


def _listing(request: Request, req: AdminRequest, *, detailed: bool) -> dict[str, Any]:
    version = req.compute.version
    query = request.query_params
    pattern = with_servers = None
    if version >= v.UUID_IDS:
        with_servers = bool(parse_bool("with_servers", query.get("with_servers")))
        pattern = query.get("hypervisor_hostname_pattern")
        if pattern is not None and ("limit" in query or "marker" in query):
            raise errors.BadRequest(
                "Paging over hypervisors with the hypervisor_hostname_pattern query parameter is not "
                "supported."
            )
    found = req.admin.hosts.hypervisors(pattern, with_servers=bool(with_servers))
    if pattern is not None and not found:
        raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    collection = "os-hypervisors/detail" if detailed else "os-hypervisors"
    page, links = _page(request, req, found, collection)
    render = detail if detailed else summary
    asked = bool(with_servers)
    bodies = [_with_servers(render(hyp, version), hyp, version, asked) for hyp in page]
    return {"hypervisors": bodies, **links}


@router.get("/os-hypervisors")
def list_hypervisors(request: Request, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["list"])
    return _listing(request, req, detailed=False)


@router.get("/os-hypervisors/detail")
def list_hypervisors_detail(request: Request, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["list-detail"])
    return _listing(request, req, detailed=True)


@router.get("/os-hypervisors/statistics")
def hypervisor_statistics(req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    require_version(req.compute, MIN_VERSION, v.HYPERVISOR_CLEANUP)
    policy.enforce(req.context, RULES["statistics"])
    return {"hypervisor_statistics": req.admin.hosts.statistics()}


def _checked_id(hypervisor_id: str, version: APIVersion) -> str:
    if version >= v.UUID_IDS:
        try:
            uuid.UUID(hypervisor_id)
        except ValueError:
            raise errors.BadRequest(f"Invalid uuid {hypervisor_id}") from None
    elif database_id(hypervisor_id) is None:
        raise errors.NotFound(f"Hypervisor with ID '{hypervisor_id}' could not be found.")
    return hypervisor_id


@router.get("/os-hypervisors/{hypervisor_id}")
def show_hypervisor(
    hypervisor_id: str, request: Request, req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, RULES["show"])
    version = req.compute.version
    with_servers = version >= v.UUID_IDS and bool(
        parse_bool("with_servers", request.query_params.get("with_servers"))
    )
    found = req.admin.hosts.hypervisor(_checked_id(hypervisor_id, version), with_servers=with_servers)
    body = _with_servers(detail(found, version), found, version, with_servers)
    if version >= v.HYPERVISOR_CLEANUP:
        body["uptime"] = req.admin.uptimes.uptime_if_up(req.context, found)
    return {"hypervisor": body}


@router.get("/os-hypervisors/{hypervisor_id}/uptime")
def hypervisor_uptime(hypervisor_id: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    require_version(req.compute, MIN_VERSION, v.HYPERVISOR_CLEANUP)
    policy.enforce(req.context, RULES["uptime"])
    found = req.admin.hosts.hypervisor(_checked_id(hypervisor_id, req.compute.version))
    uptime = req.admin.uptimes.uptime(req.context, found)
    return {"hypervisor": {**summary(found, req.compute.version), "uptime": uptime}}


@router.get("/os-hypervisors/{pattern}/search")
def search_hypervisors(pattern: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    require_version(req.compute, MIN_VERSION, v.UUID_IDS)
    policy.enforce(req.context, RULES["search"])
    found = req.admin.hosts.hypervisors(pattern)
    if not found:
        raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    return {"hypervisors": [summary(hypervisor, req.compute.version) for hypervisor in found]}


@router.get("/os-hypervisors/{pattern}/servers")
def hypervisor_servers(pattern: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    require_version(req.compute, MIN_VERSION, v.UUID_IDS)
    policy.enforce(req.context, RULES["servers"])
    found = req.admin.hosts.hypervisors(pattern, with_servers=True)
    if not found:
        raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    return {"hypervisors": [_with_servers(summary(hyp, req.compute.version), hyp) for hyp in found]}
