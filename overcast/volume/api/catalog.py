"""What the volume API says about the deployment: the volume services (os-services, as Cinder's
cinder-volume rows, one per host and backend) and the availability zones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from overcast import policy
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.volume import VolumePool
from overcast.errors import NotFound, ServiceUnavailable
from overcast.servicegroup import service_is_up
from overcast.volume import policies
from overcast.volume.api import backups, group_snapshots, groups, scheduling, snapshots, volumes
from overcast.volume.api.attachments import Attachments
from overcast.volume.api.records import timestamp
from overcast.volume.api.types import VolumeTypes
from overcast.volume.rpcapi import VolumeHostAPI

# What clients filter the service list on (`openstack volume service list --service cinder-volume`).
CINDER_VOLUME = "cinder-volume"
# GET /resource_filters (3.33): the filters each list really honours, under Cinder's resource names.
RESOURCE_FILTERS: dict[str, tuple[str, ...]] = {
    "volume": volumes.LIST_FILTERS,
    "snapshot": (*snapshots.EXACT_FILTERS, "metadata"),
    "backup": backups.EXACT_FILTERS,
    "attachment": Attachments.LIST_FILTERS,
    "volume_type": VolumeTypes.LIST_FILTERS,
    "group": groups.EXACT_FILTERS,
    "group_snapshot": group_snapshots.EXACT_FILTERS,
}


class VolumeCatalog:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        down_time: float,
        hosts: VolumeHostAPI | None = None,
        rpc_timeout: float | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.down_time = down_time
        self.hosts = hosts
        self.rpc_timeout = rpc_timeout

    def services(
        self, ctxt: RequestContext, *, host: str | None = None, binary: str | None = None
    ) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.SERVICES, {"project_id": ctxt.project_id})
        if binary not in (None, CINDER_VOLUME):
            return []
        with self.db.reader() as session:
            records = scheduling.volume_services(session)
            backends: dict[str, list[str]] = {}
            for pool in session.scalars(select(VolumePool).order_by(VolumePool.backend_name)):
                backends.setdefault(pool.host, []).append(pool.backend_name)
            zone = sorted(scheduling.zones(session))[0]
        listed = []
        for record in records:
            for backend in backends.get(record.host, [None]):  # type: ignore[list-item]
                name = f"{record.host}@{backend}" if backend else record.host
                if host is not None and host not in (name, record.host):
                    continue
                listed.append({
                    "binary": CINDER_VOLUME, "host": name, "zone": zone,
                    "status": "disabled" if record.disabled else "enabled",
                    "state": "up" if service_is_up(record, self.clock(), self.down_time) else "down",
                    "updated_at": timestamp(record.last_seen_up or record.updated_at),
                    "disabled_reason": record.disabled_reason, "replication_status": "disabled",
                    "active_backend_id": None, "frozen": False,
                })  # fmt: skip
        return listed

    def availability_zones(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.AVAILABILITY_ZONES, {"project_id": ctxt.project_id})
        with self.db.reader() as session:
            up = any(
                service_is_up(record, self.clock(), self.down_time) and not record.disabled
                for record in scheduling.volume_services(session)
            )
            zones = sorted(scheduling.zones(session))
        return [{"zoneName": zone, "zoneState": {"available": up}} for zone in zones]

    def resource_filters(self, ctxt: RequestContext, resource: str | None = None) -> list[dict[str, Any]]:
        """Every resource's filters, or the one `resource` names (none for a resource without a list)."""
        policy.enforce(ctxt, policies.RESOURCE_FILTERS, {"project_id": ctxt.project_id})
        return [
            {"resource": name, "filters": list(filters)}
            for name, filters in RESOURCE_FILTERS.items()
            if resource is None or resource == name
        ]

    def capabilities(self, ctxt: RequestContext, name: str) -> dict[str, Any]:
        """What the backend of `name` (a volume host, `host@backend` as os-services lists it, or
        `host@backend#pool`) says of itself, asked of that host."""
        policy.enforce(ctxt, policies.CAPABILITIES, {"project_id": ctxt.project_id})
        host, _, backend = name.partition("@")
        backend = backend.partition("#")[0]
        with self.db.reader() as session:
            record = next((r for r in scheduling.volume_services(session) if r.host == host), None)
            backends = set(session.scalars(select(VolumePool.backend_name).where(VolumePool.host == host)))
        if record is None or (backend and backend not in backends):
            raise NotFound(f"Can't find service: {name}")
        if self.hosts is None or not service_is_up(record, self.clock(), self.down_time):
            raise ServiceUnavailable(
                f"The volume service of {name} is down: it cannot report its capabilities."
            )
        return self.hosts.get_capabilities(ctxt, host, timeout=self.rpc_timeout)
