"""/os-availability-zone (anyone: the zones one may boot in) and /detail (admins: hosts and services)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from overcast import policy
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request, nova_time
from overcast.api.openstack.compute.binaries import is_nova_service, nova_name
from overcast.compute import policies
from overcast.compute.api.aggregates import INTERNAL_AVAILABILITY_ZONE
from overcast.compute.api.hosts import ZoneInfo

router = APIRouter()

LIST = policies.ZONES_LIST
DETAIL = policies.ZONES_DETAIL


def _zone(zone: ZoneInfo) -> dict[str, Any]:
    hosts = None
    if zone.hosts is not None:
        hosts = {
            host: {
                nova_name(binary): {"available": service.up, "active": not service.disabled,
                                    "updated_at": nova_time(service.updated_at)}
                for binary, service in sorted(services.items()) if is_nova_service(binary)
            }
            for host, services in sorted(zone.hosts.items())
        }  # fmt: skip
    return {"zoneName": zone.name, "zoneState": {"available": zone.available}, "hosts": hosts}


@router.get("/os-availability-zone")
def list_zones(req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, LIST)
    zones = req.admin.hosts.availability_zones(with_hosts=False)
    # The internal zone (conductors, schedulers) is no place to boot a server, so users never see it.
    return {
        "availabilityZoneInfo": [_zone(zone) for zone in zones if zone.name != INTERNAL_AVAILABILITY_ZONE]
    }


@router.get("/os-availability-zone/detail")
def list_zones_detail(req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, DETAIL)
    return {
        "availabilityZoneInfo": [_zone(zone) for zone in req.admin.hosts.availability_zones(with_hosts=True)]
    }
