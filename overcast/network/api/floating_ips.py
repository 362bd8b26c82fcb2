"""Floating IPs: an address of an external network (held by a `network:floatingip` port there), given
to a project and mapped to a fixed address of one of its ports through a router that has an interface
on the port's subnet and its gateway on that external network.

Status is DOWN: no data plane wires a floating IP yet (there is no network agent), so none is reachable.
"""

from __future__ import annotations

import builtins
import random
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from overcast.admission import Admission, admit_everything
from overcast.bus import Notifier
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import FloatingIP, IPAllocation, Port
from overcast.network import policies
from overcast.network.api import access, allocations, ipam, queries, records, tags
from overcast.network.api.agent_notices import AgentNotices
from overcast.network.api.allocations import FixedIPRequest
from overcast.network.api.errors import (
    BadRequest,
    ExternalGatewayForFloatingIPNotFound,
    FloatingIPPortAlreadyAssociated,
    InvalidInput,
)
from overcast.network.api.networks import bump, check_revision, enforce, owner_project
from overcast.network.api.quotas import NetworkQuotas
from overcast.network.api.records import Record
from overcast.network.api.routers import routers_reaching
from overcast.network.api.settings import NetworkSettings

FLOATING_IP_OWNER = "network:floatingip"
ATTRIBUTES: dict[str, queries.Attribute] = {
    "id": queries.Attribute("id"),
    "description": queries.Attribute("description"),
    "tenant_id": queries.Attribute("project_id"),
    "project_id": queries.Attribute("project_id"),
    "floating_network_id": queries.Attribute("floating_network_id"),
    "floating_ip_address": queries.Attribute("floating_ip_address"),
    "port_id": queries.Attribute("fixed_port_id"),
    "fixed_ip_address": queries.Attribute("fixed_ip_address"),
    "router_id": queries.Attribute("router_id"),
    "status": queries.Attribute("status"),
    "revision_number": queries.Attribute("revision_number", queries.as_int),
    "created_at": queries.Attribute("created_at", queries.as_time),
    "updated_at": queries.Attribute("updated_at", queries.as_time),
}


def disassociate_port(session: Session, port_id: str) -> None:
    """A deleted port's floating IPs stay the project's, mapped to nothing (as Neutron does)."""
    session.execute(
        update(FloatingIP)
        .where(FloatingIP.fixed_port_id == port_id)
        .values(
            fixed_port_id=None,
            fixed_ip_address=None,
            router_id=None,
            revision_number=FloatingIP.revision_number + 1,
        )
    )


def _fixed_network(session: Session, floating_ip: FloatingIP) -> str | None:
    """The network of the port the floating IP is associated with, if any."""
    if floating_ip.fixed_port_id is None:
        return None
    port = session.get(Port, floating_ip.fixed_port_id)
    return port.network_id if port is not None else None


class FloatingIPs:
    def __init__(
        self,
        db: Database,
        settings: NetworkSettings,
        quotas: NetworkQuotas,
        rng: random.Random,
        notices: AgentNotices | None = None,
        notifier: Notifier | None = None,
        admission: Admission = admit_everything,
    ) -> None:
        self.notices = notices or AgentNotices()
        self.admission = admission
        # Neutron's floatingip.create.end / floatingip.delete.end, which metering bills from.
        self.notifier = notifier
        self.db = db
        self.settings = settings
        self.quotas = quotas
        self.rng = rng

    def create(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Record:
        project = owner_project(ctxt, attrs)
        enforce(ctxt, policies.CREATE_FLOATING_IP, project)
        self.admission(ctxt, "floating IP")
        wanted = attrs.get("floating_ip_address")
        if wanted is not None:
            enforce(ctxt, policies.CREATE_FLOATING_IP_ADDRESS, project)
            wanted = str(ipam.parse_ip(wanted, "floating_ip_address"))
        tag_list = tags.check_tags(attrs.get("tags", []))

        def write(session: Session) -> tuple[Record, str | None]:
            network = access.get_network(session, ctxt, str(attrs.get("floating_network_id")), lock=True)
            if not network.external:
                raise BadRequest(
                    f"Bad floatingip request: Network {network.id} is not a valid external network."
                )
            self.quotas.consume(session, project, {"floatingip": 1})
            floating_id = str(uuid.uuid4())
            requests = [FixedIPRequest(None, wanted)] if wanted else None
            port = allocations.service_port(
                session,
                network.id,
                "",
                FLOATING_IP_OWNER,
                floating_id,
                requests,
                self.settings.base_mac,
                self.rng,
            )
            held = allocations.held_by(session, port.id)
            if not held:
                raise BadRequest(f"Bad floatingip request: External network {network.id} has no subnet.")
            floating_ip = FloatingIP(
                id=floating_id,
                project_id=project,
                description=attrs.get("description") or "",
                floating_network_id=network.id,
                floating_ip_address=held[0].ip_address,
                floating_port_id=port.id,
                status="DOWN",
                revision_number=0,
            )
            session.add(floating_ip)
            session.flush()
            if attrs.get("port_id") is not None:
                self._associate(session, ctxt, floating_ip, attrs["port_id"], attrs.get("fixed_ip_address"))
            tags.replace(session, floating_ip.id, tag_list)
            session.flush()
            fixed_network = _fixed_network(session, floating_ip)
            return records.floating_ip_records(session, [floating_ip])[0], fixed_network

        created, fixed_network = self.db.write(write)
        # The host serving the fixed port's router NATs the new address.
        self.notices.networks_changed(ctxt, [fixed_network])
        self._notify(ctxt, "floatingip.create.end", created)
        return created

    def _notify(self, ctxt: RequestContext, event_type: str, floating_ip: Record) -> None:
        if self.notifier is not None:
            self.notifier.info(ctxt, event_type, {"floatingip": dict(floating_ip)})

    def _associate(
        self,
        session: Session,
        ctxt: RequestContext,
        floating_ip: FloatingIP,
        port_id: Any,
        fixed_address: Any,
    ) -> None:
        if not isinstance(port_id, str):
            raise InvalidInput(f"'{port_id}' is not a valid UUID.")
        port = access.get_port(session, ctxt, port_id)
        if port.project_id != floating_ip.project_id:
            raise access.port_not_found(port_id)
        held = allocations.held_by(session, port.id)
        if fixed_address is not None:
            address = str(ipam.parse_ip(fixed_address, "fixed_ip_address"))
            chosen = next((allocation for allocation in held if allocation.ip_address == address), None)
            if chosen is None:
                raise BadRequest(f"Bad floatingip request: Port {port.id} does not have fixed ip {address}.")
        elif len(held) == 1:
            chosen = held[0]
        elif not held:
            raise BadRequest(f"Bad floatingip request: Port {port.id} does not have any IPv4 address.")
        else:
            raise BadRequest(
                f"Bad floatingip request: Port {port.id} has multiple fixed IPv4 addresses. Must provide a "
                "specific IPv4 address when assigning a floating IP."
            )
        self._check_free(session, floating_ip, port.id, chosen)
        routers = routers_reaching(session, chosen.subnet_id, floating_ip.floating_network_id)
        if not routers:
            raise ExternalGatewayForFloatingIPNotFound(
                f"External network {floating_ip.floating_network_id} is not reachable from subnet "
                f"{chosen.subnet_id}. Therefore, cannot associate Port {port.id} with a Floating IP."
            )
        floating_ip.fixed_port_id, floating_ip.fixed_ip_address = port.id, chosen.ip_address
        floating_ip.router_id = routers[0].id

    @staticmethod
    def _check_free(session: Session, floating_ip: FloatingIP, port_id: str, chosen: IPAllocation) -> None:
        other = session.scalars(
            select(FloatingIP).where(
                FloatingIP.floating_network_id == floating_ip.floating_network_id,
                FloatingIP.fixed_port_id == port_id,
                FloatingIP.fixed_ip_address == chosen.ip_address,
                FloatingIP.id != floating_ip.id,
            )
        ).first()
        if other is not None:
            raise FloatingIPPortAlreadyAssociated(
                f"Cannot associate floating IP {floating_ip.floating_ip_address} ({floating_ip.id}) with "
                f"port {port_id} using fixed IP {chosen.ip_address}, as that fixed IP already has a floating "
                f"IP on external network {floating_ip.floating_network_id}."
            )

    def get(self, ctxt: RequestContext, floating_ip_id: str) -> Record:
        enforce(ctxt, policies.GET_FLOATING_IP, ctxt.project_id)
        with self.db.reader() as session:
            return records.floating_ip_records(
                session, [access.get_floating_ip(session, ctxt, floating_ip_id)]
            )[0]

    def list(self, ctxt: RequestContext, query: queries.ListQuery) -> builtins.list[Record]:
        enforce(ctxt, policies.GET_FLOATING_IP, ctxt.project_id)
        with self.db.reader() as session:
            stmt = select(FloatingIP).where(access.owned(FloatingIP, ctxt))
            stmt = queries.filtered(stmt, FloatingIP, ATTRIBUTES, query.filters)
            return records.floating_ip_records(
                session, queries.page(session, stmt, FloatingIP, ATTRIBUTES, query)
            )

    def update(
        self,
        ctxt: RequestContext,
        floating_ip_id: str,
        attrs: Mapping[str, Any],
        *,
        revision: int | None = None,
    ) -> Record:
        def write(session: Session) -> tuple[Record, builtins.list[str | None]]:
            floating_ip = access.get_floating_ip(session, ctxt, floating_ip_id, lock=True)
            check_revision(floating_ip, revision)
            enforce(ctxt, policies.UPDATE_FLOATING_IP, floating_ip.project_id)
            before = _fixed_network(session, floating_ip)
            if "port_id" in attrs:
                if attrs["port_id"] is None:
                    floating_ip.fixed_port_id = floating_ip.fixed_ip_address = floating_ip.router_id = None
                else:
                    self._associate(
                        session, ctxt, floating_ip, attrs["port_id"], attrs.get("fixed_ip_address")
                    )
            elif "fixed_ip_address" in attrs:
                raise InvalidInput("fixed_ip_address cannot be given without port_id.")
            if "description" in attrs:
                floating_ip.description = attrs["description"] or ""
            bump(floating_ip)
            session.flush()
            after = _fixed_network(session, floating_ip)
            return records.floating_ip_records(session, [floating_ip])[0], [before, after]

        updated, fixed_networks = self.db.write(write)
        self.notices.networks_changed(ctxt, fixed_networks)
        return updated

    def delete(self, ctxt: RequestContext, floating_ip_id: str, *, revision: int | None = None) -> None:
        def write(session: Session) -> tuple[str | None, Record]:
            floating_ip = access.get_floating_ip(session, ctxt, floating_ip_id, lock=True)
            check_revision(floating_ip, revision)
            enforce(ctxt, policies.DELETE_FLOATING_IP, floating_ip.project_id)
            fixed_network = _fixed_network(session, floating_ip)
            deleted = records.floating_ip_records(session, [floating_ip])[0]
            access.lock_network(session, floating_ip.floating_network_id)
            port_id = floating_ip.floating_port_id
            tags.remove_all(session, floating_ip.id)
            session.delete(floating_ip)
            session.flush()
            allocations.release(session, port_id)
            port = session.get(Port, port_id)
            if port is not None:
                session.delete(port)
            self.quotas.release(session, floating_ip.project_id, {"floatingip": 1})
            return fixed_network, deleted

        fixed_network, deleted = self.db.write(write)
        self.notices.networks_changed(ctxt, [fixed_network])
        self._notify(ctxt, "floatingip.delete.end", deleted)
