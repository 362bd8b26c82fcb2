"""/servers/{id}/os-server-password (the guest-posted, encrypted password) and /servers/{id}/diagnostics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from overcast import policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request
from overcast.compute import policies as rules

router = APIRouter()


def _authorize(req: ComputeRequest, server_id: str, rule: str) -> None:
    server = req.service.servers.get(req.context, server_id)
    policy.enforce(
        req.context, rule, {"project_id": server.instance.project_id, "user_id": req.context.user_id}
    )


@router.get("/servers/{server_id}/os-server-password")
def show_password(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    _authorize(req, server_id, rules.SERVER_PASSWORD_SHOW)
    return {"password": req.service.actions.get_password(req.context, server_id)}


@router.delete("/servers/{server_id}/os-server-password", status_code=204)
def clear_password(server_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    _authorize(req, server_id, rules.SERVER_PASSWORD_CLEAR)
    req.service.actions.clear_password(req.context, server_id)
    return Response(status_code=204)


NIC_COUNTERS = ("rx_drop", "rx_errors", "rx_octets", "rx_packets", "rx_rate", "tx_drop", "tx_errors",
                "tx_octets", "tx_packets", "tx_rate")  # fmt: skip
DISK_COUNTERS = ("errors_count", "read_bytes", "read_requests", "write_bytes", "write_requests")
# Nova's diagnostics states; the drivers report power state names.
STATES = {"nostate": "pending", "running": "running", "paused": "paused", "shutdown": "shutdown",
          "crashed": "crashed", "suspended": "suspended"}  # fmt: skip


def standard_diagnostics(raw: dict[str, Any]) -> dict[str, Any]:
    """2.48's fixed set of fields from the driver's report; what a driver does not measure is null."""
    return {
        "state": STATES.get(str(raw.get("state", "")).lower(), "pending"),
        "driver": raw.get("driver"),
        "hypervisor": raw.get("hypervisor"),
        "hypervisor_os": raw.get("hypervisor_os"),
        "uptime": raw.get("uptime"),
        "config_drive": bool(raw.get("config_drive")),
        "num_cpus": raw.get("num_cpus"),
        "num_nics": raw.get("num_nics"),
        "num_disks": raw.get("num_disks"),
        "cpu_details": [
            {"id": cpu.get("id"), "time": cpu.get("time"), "utilisation": cpu.get("utilisation")}
            for cpu in raw.get("cpu_details") or ()
        ],
        "nic_details": [
            {"mac_address": nic.get("mac_address"), **{name: nic.get(name) for name in NIC_COUNTERS}}
            for nic in raw.get("nic_details") or ()
        ],
        "disk_details": [
            {name: disk.get(name) for name in DISK_COUNTERS} for disk in raw.get("disk_details") or ()
        ],
        "memory_details": {
            "maximum": (raw.get("memory_details") or {}).get("maximum"),
            "used": (raw.get("memory_details") or {}).get("used"),
        },
    }


@router.get("/servers/{server_id}/diagnostics")
def server_diagnostics(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    _authorize(req, server_id, rules.DIAGNOSTICS)
    raw = req.service.actions.diagnostics(req.context, server_id)
    # Before 2.48 the body is whatever the hypervisor driver reports.
    return standard_diagnostics(raw) if req.version >= v.DIAGNOSTICS_STANDARD else raw
