"""/os-hypervisors: list, detail, show, statistics, search, servers and uptime, as at 2.1 (admins only).

At 2.1 a hypervisor's id is the compute node's integer id and cpu_info is a JSON string (an object only
from 2.28).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends

from overcast import errors, policy
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request
from overcast.compute.hosts import HypervisorInfo

router = APIRouter()

ACTIONS = ("list", "list-detail", "show", "statistics", "search", "servers", "uptime")
RULES = {action: f"os_compute_api:os-hypervisors:{action}" for action in ACTIONS}
policy.register(dict.fromkeys(RULES.values(), policy.ADMIN))


class FeatureNotSupported(errors.OvercastError):
    status = 501
    title = "notImplemented"
    default_message = "Feature not supported."


def summary(hypervisor: HypervisorInfo) -> dict[str, Any]:
    return {
        "id": hypervisor.id,
        "hypervisor_hostname": hypervisor.hypervisor_hostname,
        "state": "up" if hypervisor.service.up else "down",
        "status": "disabled" if hypervisor.service.disabled else "enabled",
    }


def detail(hypervisor: HypervisorInfo) -> dict[str, Any]:
    body = summary(hypervisor)
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
        "cpu_info": json.dumps(hypervisor.cpu_info, sort_keys=True),
        # No sparse-disk accounting exists, so the least available disk is the free disk.
        "disk_available_least": hypervisor.free_disk_gb,
        # compute_nodes records no management address for a host.
        "host_ip": None,
        "service": {
            "host": hypervisor.host,
            "id": hypervisor.service.id,
            "disabled_reason": hypervisor.service.disabled_reason,
        },
    })  # fmt: skip
    return body


@router.get("/os-hypervisors")
def list_hypervisors(req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["list"])
    return {"hypervisors": [summary(hypervisor) for hypervisor in req.admin.hosts.hypervisors()]}


@router.get("/os-hypervisors/detail")
def list_hypervisors_detail(req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["list-detail"])
    return {"hypervisors": [detail(hypervisor) for hypervisor in req.admin.hosts.hypervisors()]}


@router.get("/os-hypervisors/statistics")
def hypervisor_statistics(req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["statistics"])
    return {"hypervisor_statistics": req.admin.hosts.statistics()}


@router.get("/os-hypervisors/{hypervisor_id}")
def show_hypervisor(hypervisor_id: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["show"])
    return {"hypervisor": detail(req.admin.hosts.hypervisor(hypervisor_id))}


@router.get("/os-hypervisors/{hypervisor_id}/uptime")
def hypervisor_uptime(hypervisor_id: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["uptime"])
    req.admin.hosts.hypervisor(hypervisor_id)  # 404 first, as Nova
    # The virt driver interface has no host uptime; Nova answers 501 for such drivers.
    raise FeatureNotSupported("Virt driver does not implement host uptime.")


@router.get("/os-hypervisors/{pattern}/search")
def search_hypervisors(pattern: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["search"])
    found = req.admin.hosts.hypervisors(pattern)
    if not found:
        raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    return {"hypervisors": [summary(hypervisor) for hypervisor in found]}


@router.get("/os-hypervisors/{pattern}/servers")
def hypervisor_servers(pattern: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["servers"])
    found = req.admin.hosts.hypervisors(pattern, with_servers=True)
    if not found:
        raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    listed = []
    for hypervisor in found:
        body = summary(hypervisor)
        # Before 2.53 Nova leaves the key out for a hypervisor without servers.
        if hypervisor.servers:
            body["servers"] = [{"name": name, "uuid": uuid} for name, uuid in hypervisor.servers]
        listed.append(body)
    return {"hypervisors": listed}
