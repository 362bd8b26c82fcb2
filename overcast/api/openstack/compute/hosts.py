"""Nova's os-hosts (admins, up to 2.42, 404 from 2.43 as Nova): every service's host, a compute
host's resources, enabling and disabling its compute service; the power and maintenance operations are
Nova's 501 for drivers that cannot do them (QEMU and the fake cannot)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from overcast import errors, policy
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request
from overcast.api.openstack.compute.binaries import NOVA_BINARIES, NOVA_COMPUTE, overcast_name
from overcast.api.openstack.compute.common import require_version
from overcast.api.openstack.compute.hypervisors import FeatureNotSupported
from overcast.api.openstack.compute.microversion import MIN_VERSION, APIVersion
from overcast.compute import policies as rules
from overcast.compute.api.hosts import HypervisorInfo

router = APIRouter()

HOSTS_GONE = APIVersion(2, 43)
POWER_ACTIONS = {"reboot": "reboot", "shutdown": "shutdown", "startup": "start"}


def _checked(req: AdminRequest, rule: str) -> None:
    require_version(req.compute, MIN_VERSION, HOSTS_GONE)
    policy.enforce(req.context, rule)


def _compute_nodes(req: AdminRequest, host: str) -> list[HypervisorInfo]:
    found = [hypervisor for hypervisor in req.admin.hosts.hypervisors() if hypervisor.host == host]
    if not found:
        raise errors.NotFound(f"Compute host {host} could not be found.")
    return found


@router.get("/os-hosts")
def list_hosts(request: Request, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    _checked(req, rules.HOSTS_LIST)
    zone = request.query_params.get("zone")
    hosts = [
        {"host_name": service.host, "service": NOVA_BINARIES[service.binary].removeprefix("nova-"),
         "zone": service.zone}
        for service in req.admin.hosts.services()
        if service.binary in NOVA_BINARIES and (zone is None or service.zone == zone)
    ]  # fmt: skip
    return {"hosts": hosts}


@router.get("/os-hosts/{host_name}")
def show_host(host_name: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    _checked(req, rules.HOSTS_SHOW)
    nodes = _compute_nodes(req, host_name)

    def resource(project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict[str, Any]:
        return {"resource": {"host": host_name, "project": project, "cpu": cpu, "memory_mb": memory_mb,
                             "disk_gb": disk_gb}}  # fmt: skip

    total = resource("(total)", sum(n.vcpus for n in nodes), sum(n.memory_mb for n in nodes),
                     sum(n.local_gb for n in nodes))  # fmt: skip
    used = resource("(used_now)", sum(n.vcpus_used for n in nodes), sum(n.memory_mb_used for n in nodes),
                    sum(n.local_gb_used for n in nodes))  # fmt: skip
    # The host's usage is what its servers' flavors claim, so the most they may use is what they use now.
    most = {"resource": {**used["resource"], "project": "(used_max)"}}
    return {"host": [total, used, most]}


@router.put("/os-hosts/{host_name}")
def update_host(
    host_name: str, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    _checked(req, rules.HOSTS_UPDATE)
    if not isinstance(body, dict) or not body or set(body) - {"status", "maintenance_mode"}:
        raise errors.BadRequest(
            "Invalid input for field/attribute body: 'status' or 'maintenance_mode' is expected, and no other"
        )
    for field in ("status", "maintenance_mode"):
        if field in body and body[field] not in ("enable", "disable"):
            raise errors.BadRequest(
                f"Invalid input for field/attribute {field}. Value: {body[field]}. "
                f"'{body[field]}' is not one of ['enable', 'disable']"
            )
    _compute_nodes(req, host_name)
    if "maintenance_mode" in body:
        raise FeatureNotSupported("Virt driver does not implement host maintenance mode.")
    disabled = body["status"] == "disable"
    req.admin.hosts.set_disabled(host_name, overcast_name(NOVA_COMPUTE), disabled)
    return {"host": host_name, "status": "disabled" if disabled else "enabled"}


@router.get("/os-hosts/{host_name}/{action}")
def host_power_action(
    host_name: str, action: str, req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    if action not in POWER_ACTIONS:
        raise errors.NotFound("The resource could not be found.")
    _checked(req, rules.HOSTS_POWER[action])
    _compute_nodes(req, host_name)
    raise FeatureNotSupported(f"Virt driver does not implement host {POWER_ACTIONS[action]}.")
