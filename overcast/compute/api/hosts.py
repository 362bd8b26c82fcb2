"""Services, hypervisors and availability zones as the admin sees them (logic behind /os-services,
/os-hypervisors and /os-availability-zone), read from the services and compute_nodes tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overcast import errors, servicegroup
from overcast.compute.api.aggregates import (
    AggregateAPI,
    service_zone,
    write_then_notify,
)
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.compute.rpcapi import ComputeAPI
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.compute import ComputeNode, Instance
from overcast.db.models.service import ServiceRecord
from overcast.digits import database_id
from overcast.zones import host_zones


@dataclass(frozen=True)
class ServiceInfo:
    id: int
    uuid: str
    binary: str
    host: str
    zone: str
    disabled: bool
    disabled_reason: str | None
    forced_down: bool
    up: bool
    updated_at: datetime | None


@dataclass(frozen=True)
class HypervisorInfo:
    id: int
    uuid: str
    hypervisor_hostname: str
    host: str
    hypervisor_type: str
    hypervisor_version: int
    cpu_info: dict[str, object]
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    running_vms: int
    current_workload: int
    service: ServiceInfo
    servers: list[tuple[str, str]] = field(default_factory=list)  # (instance name, uuid)

    @property
    def free_ram_mb(self) -> int:
        return self.memory_mb - self.memory_mb_used

    @property
    def free_disk_gb(self) -> int:
        return self.local_gb - self.local_gb_used


@dataclass(frozen=True)
class ZoneInfo:
    name: str
    available: bool
    # host -> binary -> service; only for available zones of the detailed listing.
    hosts: dict[str, dict[str, ServiceInfo]] | None = None


HYPERVISOR_TOTALS = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used",
                     "free_ram_mb", "free_disk_gb", "current_workload", "running_vms")  # fmt: skip


class HypervisorUptimes:
    """A hypervisor's uptime line, asked of its compute host (Nova's host_api.get_host_uptime)."""

    def __init__(self, compute_rpc: ComputeAPI) -> None:
        self.compute_rpc = compute_rpc

    def uptime(self, ctxt: RequestContext, hypervisor: HypervisorInfo) -> str:
        """BadRequest when the host's service is down, as Nova's ComputeServiceUnavailable."""
        if not hypervisor.service.up:
            raise errors.BadRequest(f"Compute service of {hypervisor.host} is unavailable at this time.")
        return self.compute_rpc.get_host_uptime(ctxt, hypervisor.host)

    def uptime_if_up(self, ctxt: RequestContext, hypervisor: HypervisorInfo) -> str | None:
        """For the hypervisor's show from 2.88: a down host has no uptime (null), not an error."""
        return self.uptime(ctxt, hypervisor) if hypervisor.service.up else None


class HostAPI:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        service_down_time: float,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.service_down_time = service_down_time
        # Called after a service is enabled, disabled, forced down or deleted: schedulers must know now.
        self.on_change = on_change

    def _write(self, work: Callable[[Session], None]) -> None:
        write_then_notify(self.db, work, self.on_change)

    def _info(self, record: ServiceRecord, zones: dict[str, str]) -> ServiceInfo:
        return ServiceInfo(
            id=record.id, uuid=record.uuid, binary=record.binary, host=record.host,
            zone=service_zone(record.binary, record.host, zones), disabled=record.disabled,
            disabled_reason=record.disabled_reason, forced_down=record.forced_down,
            up=servicegroup.service_is_up(record, self.clock(), self.service_down_time),
            updated_at=servicegroup.last_heartbeat(record),
        )  # fmt: skip

    # --- os-services --------------------------------------------------------------------------------
    def services(self, host: str | None = None, binary: str | None = None) -> list[ServiceInfo]:
        stmt = select(ServiceRecord).order_by(ServiceRecord.id)
        if host:
            stmt = stmt.where(ServiceRecord.host == host)
        if binary:
            stmt = stmt.where(ServiceRecord.binary == binary)
        with self.db.reader() as session:
            zones = host_zones(session)
            return [self._info(record, zones) for record in session.scalars(stmt)]

    def set_disabled(self, host: str, binary: str, disabled: bool, reason: str | None = None) -> None:
        """Enable or disable a service; the scheduler places nothing on a disabled compute service."""

        def write(session: Session) -> None:
            record = session.scalars(
                select(ServiceRecord).where(ServiceRecord.host == host, ServiceRecord.binary == binary)
            ).first()
            if record is None:
                raise errors.NotFound(f"Service {binary} on host {host} could not be found.")
            record.disabled = disabled
            record.disabled_reason = reason if disabled else None

        self._write(write)

    def service(self, service_uuid: str) -> ServiceInfo:
        with self.db.reader() as session:
            record = session.scalars(select(ServiceRecord).where(ServiceRecord.uuid == service_uuid)).first()
            if record is None:
                raise errors.NotFound(f"Service {service_uuid} could not be found.")
            return self._info(record, host_zones(session))

    def update_service(
        self, service_uuid: str, *, disabled: bool | None = None, reason: str | None = None,
        forced_down: bool | None = None,
    ) -> ServiceInfo:  # fmt: skip
        """Compute API 2.53's PUT /os-services/{uuid}: status (with an optional reason) and forced_down."""

        def write(session: Session) -> None:
            record = session.scalars(select(ServiceRecord).where(ServiceRecord.uuid == service_uuid)).one()
            if disabled is not None:
                record.disabled = disabled
                record.disabled_reason = reason if disabled else None
            if forced_down is not None:
                record.forced_down = forced_down

        self._write(write)
        return self.service(service_uuid)

    def set_forced_down(self, host: str, binary: str, forced_down: bool) -> None:
        def write(session: Session) -> None:
            record = session.scalars(
                select(ServiceRecord).where(ServiceRecord.host == host, ServiceRecord.binary == binary)
            ).first()
            if record is None:
                raise errors.NotFound(f"Service {binary} on host {host} could not be found.")
            record.forced_down = forced_down

        self._write(write)

    def delete_service(self, service_id: str) -> None:
        """Delete by database id (before 2.53) or uuid."""

        def write(session: Session) -> None:
            by_uuid = select(ServiceRecord).where(ServiceRecord.uuid == service_id)
            number = database_id(service_id)
            record = (
                session.get(ServiceRecord, number) if number is not None
                else session.scalars(by_uuid).first()
            )  # fmt: skip
            if record is None:
                raise errors.NotFound(f"Service {service_id} not found.")
            if record.binary == COMPUTE_BINARY:
                hosted = session.scalar(
                    select(func.count(Instance.id)).where(
                        Instance.host == record.host, Instance.deleted.is_(False)
                    )
                )
                if hosted:
                    raise errors.Conflict(
                        "Unable to delete compute service that is hosting instances. Migrate or delete the "
                        "instances first."
                    )
                session.execute(delete(ComputeNode).where(ComputeNode.host == record.host))
                AggregateAPI.forget_host(session, record.host)
            session.delete(record)

        self._write(write)

    # --- os-hypervisors -----------------------------------------------------------------------------
    def hypervisors(self, pattern: str | None = None, *, with_servers: bool = False) -> list[HypervisorInfo]:
        """Every compute node that has a compute service (matching `pattern` in its name when given)."""
        stmt = select(ComputeNode).order_by(ComputeNode.id)
        if pattern is not None:
            stmt = stmt.where(ComputeNode.hypervisor_hostname.contains(pattern, autoescape=True))
        with self.db.reader() as session:
            return self._hypervisors(session, list(session.scalars(stmt)), with_servers)

    def hypervisor(self, hypervisor_id: str, *, with_servers: bool = False) -> HypervisorInfo:
        """By compute node id (digits, before 2.53) or uuid."""
        not_found = errors.NotFound(f"Hypervisor with ID '{hypervisor_id}' could not be found.")
        with self.db.reader() as session:
            number = database_id(hypervisor_id)
            if number is not None:
                node = session.get(ComputeNode, number)
            else:
                node = session.scalars(select(ComputeNode).where(ComputeNode.uuid == hypervisor_id)).first()
            found = self._hypervisors(session, [node] if node else [], with_servers)
        if not found:
            raise not_found
        return found[0]

    def _hypervisors(
        self, session: Session, nodes: list[ComputeNode], with_servers: bool
    ) -> list[HypervisorInfo]:
        if not nodes:
            return []
        hosts = {node.host for node in nodes}
        zones = host_zones(session)
        services = {
            record.host: self._info(record, zones)
            for record in session.scalars(
                select(ServiceRecord).where(
                    ServiceRecord.binary == COMPUTE_BINARY, ServiceRecord.host.in_(hosts)
                )
            )
        }
        busy: dict[tuple[str, str | None], int] = defaultdict(int)
        servers: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for instance in session.scalars(
            select(Instance)
            .where(Instance.host.in_(hosts), Instance.deleted.is_(False))
            .order_by(Instance.id)
        ):
            # Nova's current_workload: instances with a task in progress (building, deleting, resizing...).
            if instance.task_state is not None:
                busy[(instance.host or "", instance.node)] += 1
            servers[instance.host or ""].append((instance.instance_name, instance.uuid))
        found = []
        for node in nodes:
            service = services.get(node.host)
            if service is None:
                continue  # a node whose service was deleted is no hypervisor any more
            found.append(HypervisorInfo(
                id=node.id, uuid=node.uuid, hypervisor_hostname=node.hypervisor_hostname, host=node.host,
                hypervisor_type=node.hypervisor_type, hypervisor_version=node.hypervisor_version,
                cpu_info=dict(node.cpu_info), vcpus=node.vcpus, memory_mb=node.memory_mb,
                local_gb=node.local_gb, vcpus_used=node.vcpus_used, memory_mb_used=node.memory_mb_used,
                local_gb_used=node.local_gb_used,
                running_vms=node.running_vms, current_workload=busy[(node.host, node.hypervisor_hostname)],
                service=service, servers=servers[node.host] if with_servers else [],
            ))  # fmt: skip
        return found

    def statistics(self) -> dict[str, int]:
        """Sums over the hypervisors whose compute service is enabled (as Nova counts them)."""
        enabled = [hyp for hyp in self.hypervisors() if not hyp.service.disabled]
        totals = {"count": len(enabled)}
        for name in HYPERVISOR_TOTALS:
            totals[name] = sum(int(getattr(hyp, name)) for hyp in enabled)
        # No sparse-disk accounting exists, so the least available disk is the free disk.
        totals["disk_available_least"] = totals["free_disk_gb"]
        return totals

    # --- os-availability-zone -----------------------------------------------------------------------
    def availability_zones(self, *, with_hosts: bool) -> list[ZoneInfo]:
        """Zones with an enabled service first (available), then zones whose services are all disabled.

        Zones named by aggregates without hosts are not listed, as in Nova: a zone is where services are.
        """
        services = self.services()
        available: dict[str, dict[str, dict[str, ServiceInfo]]] = {}
        for service in services:
            if not service.disabled:
                available.setdefault(service.zone, {}).setdefault(service.host, {})[service.binary] = service
        unavailable = sorted({s.zone for s in services if s.disabled} - set(available))
        zones = [
            ZoneInfo(name, True, hosts if with_hosts else None) for name, hosts in sorted(available.items())
        ]
        zones.extend(ZoneInfo(name, False) for name in unavailable)
        return zones
