"""Routers: an external gateway (a port on an external network, SNAT on or off), interfaces on subnets
(a port holding the subnet's gateway address, or a port the user gives), and static routes.

Nothing routes yet: there is no network agent, so a router is only its records until the data plane
reads them. Its gateway port belongs to no project (as Neutron's); its interfaces are the router's
project's ports and count against its port quota.
"""

from __future__ import annotations

import builtins
import ipaddress
import random
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import FloatingIP, IPAllocation, Port, Router, Subnet
from overcast.network import policies
from overcast.network.api import access, allocations, ipam, queries, records, tags
from overcast.network.api.agent_notices import AgentNotices
from overcast.network.api.allocations import FixedIPRequest
from overcast.network.api.errors import (
    BadRequest,
    InvalidInput,
    InvalidRoutes,
    PortInUse,
    RouterExternalGatewayInUseByFloatingIp,
    RouterInterfaceInUseByFloatingIP,
    RouterInterfaceNotFound,
    RouterInUse,
)
from overcast.network.api.networks import bump, check_revision, enforce, flag, owner_project
from overcast.network.api.quotas import NetworkQuotas
from overcast.network.api.records import Record
from overcast.network.api.settings import NetworkSettings

GATEWAY_OWNER = "network:router_gateway"
INTERFACE_OWNER = "network:router_interface"
# Neutron's max_routes.
MAX_ROUTES = 30
ATTRIBUTES: dict[str, queries.Attribute] = {
    "id": queries.Attribute("id"),
    "name": queries.Attribute("name"),
    "description": queries.Attribute("description"),
    "tenant_id": queries.Attribute("project_id"),
    "project_id": queries.Attribute("project_id"),
    "status": queries.Attribute("status"),
    "admin_state_up": queries.Attribute("admin_state_up", queries.as_bool),
    "revision_number": queries.Attribute("revision_number", queries.as_int),
    "created_at": queries.Attribute("created_at", queries.as_time),
    "updated_at": queries.Attribute("updated_at", queries.as_time),
}


def interfaces_of(session: Session, router_id: str) -> list[Port]:
    query = select(Port).where(Port.device_id == router_id, Port.device_owner == INTERFACE_OWNER)
    return list(session.scalars(query))


def leg_networks(session: Session, router_id: str) -> set[str]:
    """The networks the router has a leg on: its interfaces' and its gateway's."""
    return set(session.scalars(select(Port.network_id).where(Port.device_id == router_id)))


def attached_subnets(session: Session, router_id: str, *, with_gateway: bool = False) -> list[Subnet]:
    owners = (INTERFACE_OWNER, GATEWAY_OWNER) if with_gateway else (INTERFACE_OWNER,)
    query = select(Subnet).where(
        Subnet.id.in_(
            select(IPAllocation.subnet_id).where(
                IPAllocation.port_id.in_(
                    select(Port.id).where(Port.device_id == router_id, Port.device_owner.in_(owners))
                )
            )
        )
    )
    return list(session.scalars(query))


class Routers:
    def __init__(
        self,
        db: Database,
        settings: NetworkSettings,
        quotas: NetworkQuotas,
        rng: random.Random,
        notices: AgentNotices | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.quotas = quotas
        self.rng = rng
        self.notices = notices or AgentNotices()

    def _legs_changed(self, ctxt: RequestContext, session: Session, router: Router, *gone: str) -> None:
        """After the write commits, the host serving the router re-converges it: an agent's
        network_changed re-applies every router with a leg on that network, so telling the networks
        it keeps reaches it (a leg taken away goes with that), and the networks it left tell the hosts
        holding them."""
        self.notices.networks_changed(ctxt, [*leg_networks(session, router.id), *gone])

    # --- create, read -----------------------------------------------------------------------------------
    def create(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Record:
        project = owner_project(ctxt, attrs)
        enforce(ctxt, policies.CREATE_ROUTER, project)
        gateway = attrs.get("external_gateway_info")
        self._check_gateway_rules(ctxt, policies.CREATE_ROUTER, project, gateway)
        tag_list = tags.check_tags(attrs.get("tags", []))

        def write(session: Session) -> Record:
            self.quotas.consume(session, project, {"router": 1})
            router = Router(
                id=str(uuid.uuid4()),
                project_id=project,
                name=attrs.get("name") or "",
                description=attrs.get("description") or "",
                admin_state_up=flag(attrs, "admin_state_up", True),
                status="ACTIVE",
                enable_snat=True,
                routes=[],
                revision_number=0,
            )
            session.add(router)
            session.flush()
            if gateway:
                self._set_gateway(session, ctxt, router, gateway)
            tags.replace(session, router.id, tag_list)
            return records.router_records(session, [router])[0]

        return self.db.write(write)

    def get(self, ctxt: RequestContext, router_id: str) -> Record:
        enforce(ctxt, policies.GET_ROUTER, ctxt.project_id)
        with self.db.reader() as session:
            return records.router_records(session, [access.get_router(session, ctxt, router_id)])[0]

    def list(self, ctxt: RequestContext, query: queries.ListQuery) -> builtins.list[Record]:
        enforce(ctxt, policies.GET_ROUTER, ctxt.project_id)
        with self.db.reader() as session:
            stmt = queries.filtered(
                select(Router).where(access.owned(Router, ctxt)), Router, ATTRIBUTES, query.filters
            )
            return records.router_records(session, queries.page(session, stmt, Router, ATTRIBUTES, query))

    # --- the gateway ----------------------------------------------------------------------------------
    @staticmethod
    def _check_gateway_rules(ctxt: RequestContext, action: str, project: str, gateway: Any) -> None:
        if gateway is None:
            return
        if not isinstance(gateway, Mapping) or not set(gateway) <= {
            "network_id",
            "enable_snat",
            "external_fixed_ips",
        }:
            raise InvalidInput(
                f"Invalid external_gateway_info {gateway!r}: give network_id (and enable_snat)."
            )
        if not gateway.get("network_id"):
            raise InvalidInput("external_gateway_info needs a network_id.")
        for attribute in ("enable_snat", "external_fixed_ips"):
            if attribute in gateway:
                rule = policies.attribute_rule(action, f"external_gateway_info:{attribute}")
                enforce(ctxt, rule, project)
        if "enable_snat" in gateway and not isinstance(gateway["enable_snat"], bool):
            raise InvalidInput(f"'{gateway['enable_snat']}' is not a boolean for enable_snat.")

    def _set_gateway(
        self, session: Session, ctxt: RequestContext, router: Router, gateway: Mapping[str, Any]
    ) -> None:
        network = access.get_network(session, ctxt, str(gateway["network_id"]), lock=True)
        if not network.external:
            raise BadRequest(f"Bad router request: Network {network.id} is not an external network.")
        current = session.get(Port, router.gateway_port_id) if router.gateway_port_id else None
        if current is not None and current.network_id == network.id and "external_fixed_ips" not in gateway:
            router.enable_snat = gateway.get("enable_snat", router.enable_snat)
            return
        if current is not None:
            self._clear_gateway(session, router)
        fixed = gateway.get("external_fixed_ips")
        requests = (
            [FixedIPRequest.parse(entry) for entry in fixed] if isinstance(fixed, list) and fixed else None
        )
        # As Neutron: on an external network without a subnet the gateway port holds no address (its
        # data plane then has no external leg: no SNAT, no default route).
        port = allocations.service_port(
            session, network.id, "", GATEWAY_OWNER, router.id, requests, self.settings.base_mac, self.rng
        )
        router.gateway_port_id = port.id
        router.enable_snat = gateway.get("enable_snat", True)

    @staticmethod
    def _clear_gateway(session: Session, router: Router) -> None:
        if router.gateway_port_id is None:
            return
        port = session.get(Port, router.gateway_port_id)
        using = select(FloatingIP.id).where(FloatingIP.router_id == router.id)
        if (
            port is not None
            and session.scalars(using.where(FloatingIP.floating_network_id == port.network_id)).first()
        ):
            raise RouterExternalGatewayInUseByFloatingIp(
                f"Gateway cannot be updated for router {router.id}, since a gateway to external network "
                f"{port.network_id} is required by one or more floating IPs."
            )
        router.gateway_port_id = None
        session.flush()
        if port is not None:
            access.lock_network(session, port.network_id)
            allocations.release(session, port.id)
            session.delete(port)
            session.flush()

    # --- update, delete -------------------------------------------------------------------------------
    def update(
        self, ctxt: RequestContext, router_id: str, attrs: Mapping[str, Any], *, revision: int | None = None
    ) -> Record:
        def write(session: Session) -> Record:
            router = access.get_router(session, ctxt, router_id, lock=True)
            check_revision(router, revision)
            enforce(ctxt, policies.UPDATE_ROUTER, router.project_id)
            legs_before = leg_networks(session, router.id)
            if "external_gateway_info" in attrs:
                gateway = attrs["external_gateway_info"] or None
                self._check_gateway_rules(ctxt, policies.UPDATE_ROUTER, router.project_id, gateway)
                if gateway:
                    self._set_gateway(session, ctxt, router, gateway)
                else:
                    self._clear_gateway(session, router)
            if "routes" in attrs:
                router.routes = self._checked_routes(session, router, attrs["routes"] or [])
            for attribute in ("name", "description"):
                if attribute in attrs:
                    setattr(router, attribute, attrs[attribute] or "")
            if "admin_state_up" in attrs:
                router.admin_state_up = flag(attrs, "admin_state_up", True)
            bump(router)
            session.flush()
            self._legs_changed(ctxt, session, router, *legs_before)
            return records.router_records(session, [router])[0]

        return self.db.write(write)

    @staticmethod
    def _checked_routes(session: Session, router: Router, routes: Any) -> builtins.list[dict[str, str]]:
        checked = ipam.check_host_routes(routes)
        if len(checked) > MAX_ROUTES:
            raise InvalidRoutes(f"Invalid format for routes: more than {MAX_ROUTES} routes.")
        # As Neutron: a nexthop on any of the router's subnets, its gateway's included.
        subnets = attached_subnets(session, router.id, with_gateway=True)
        connected = [ipaddress.IPv4Network(subnet.cidr) for subnet in subnets]
        for route in checked:
            nexthop = ipaddress.IPv4Address(route["nexthop"])
            if not any(nexthop in cidr for cidr in connected):
                raise InvalidRoutes(
                    f"Invalid format for routes: {route}, the nexthop is not connected with router"
                )
        return checked

    def delete(self, ctxt: RequestContext, router_id: str, *, revision: int | None = None) -> None:
        def write(session: Session) -> None:
            router = access.get_router(session, ctxt, router_id, lock=True)
            check_revision(router, revision)
            enforce(ctxt, policies.DELETE_ROUTER, router.project_id)
            if interfaces_of(session, router.id):
                raise RouterInUse(f"Router {router.id} still has ports")
            self._clear_gateway(session, router)
            tags.remove_all(session, router.id)
            session.delete(router)
            self.quotas.release(session, router.project_id, {"router": 1})

        self.db.write(write)
        self.notices.router_deleted(ctxt, router_id)

    # --- interfaces -----------------------------------------------------------------------------------
    def add_interface(self, ctxt: RequestContext, router_id: str, body: Mapping[str, Any]) -> Record:
        subnet_id, port_id = self._interface_target(body)

        def write(session: Session) -> Record:
            router = access.get_router(session, ctxt, router_id, lock=True)
            enforce(ctxt, policies.ADD_ROUTER_INTERFACE, router.project_id)
            if port_id is not None:
                port = self._adopt_port(session, ctxt, router, port_id)
            else:
                assert subnet_id is not None
                port = self._port_on_subnet(session, ctxt, router, subnet_id)
            subnets = [allocation.subnet_id for allocation in allocations.held_by(session, port.id)]
            bump(router)
            session.flush()
            self._legs_changed(ctxt, session, router)
            return {
                "id": router.id,
                "tenant_id": router.project_id,
                "project_id": router.project_id,
                "port_id": port.id,
                "network_id": port.network_id,
                "subnet_id": subnets[0],
                "subnet_ids": subnets,
            }

        return self.db.write(write)

    @staticmethod
    def _interface_target(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
        subnet_id, port_id = body.get("subnet_id"), body.get("port_id")
        if (subnet_id is None) == (port_id is None):
            raise BadRequest("Bad router request: Either subnet_id or port_id must be specified.")
        for value in (subnet_id, port_id):
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"'{value}' is not a valid UUID.")
        return subnet_id, port_id

    def _check_new_subnet(self, session: Session, router: Router, subnet: Subnet) -> None:
        cidr = ipaddress.IPv4Network(subnet.cidr)
        for attached in attached_subnets(session, router.id):
            if attached.id == subnet.id:
                raise BadRequest(f"Bad router request: Router already has a port on subnet {subnet.id}.")
            if cidr.overlaps(ipaddress.IPv4Network(attached.cidr)):
                raise BadRequest(
                    f"Bad router request: Cidr {subnet.cidr} of subnet {subnet.id} overlaps with cidr "
                    f"{attached.cidr} of subnet {attached.id}."
                )

    def _port_on_subnet(self, session: Session, ctxt: RequestContext, router: Router, subnet_id: str) -> Port:
        subnet = access.get_subnet(session, ctxt, subnet_id)
        network = access.lock_network(session, subnet.network_id)
        if not ctxt.is_admin and network.project_id != router.project_id and not network.shared:
            raise access.subnet_not_found(subnet_id)
        if subnet.gateway_ip is None:
            raise BadRequest(f"Bad router request: Subnet {subnet.id} does not have a gateway IP.")
        self._check_new_subnet(session, router, subnet)
        self.quotas.consume(session, router.project_id, {"port": 1})
        request = FixedIPRequest(subnet.id, subnet.gateway_ip)
        return allocations.service_port(
            session,
            network.id,
            router.project_id,
            INTERFACE_OWNER,
            router.id,
            [request],
            self.settings.base_mac,
            self.rng,
        )

    def _adopt_port(self, session: Session, ctxt: RequestContext, router: Router, port_id: str) -> Port:
        port = access.get_port(session, ctxt, port_id)
        access.lock_network(session, port.network_id)
        if port.project_id != router.project_id and not ctxt.is_admin:
            raise access.port_not_found(port_id)
        if port.device_id or port.device_owner:
            raise PortInUse(
                f"Unable to complete operation on port {port.id} for network {port.network_id}. "
                f"Port already has an attached device {port.device_id}."
            )
        held = allocations.held_by(session, port.id)
        if len(held) != 1:
            raise BadRequest(
                f"Bad router request: Router port must have exactly one fixed IP, {port.id} has {len(held)}."
            )
        subnet = session.get(Subnet, held[0].subnet_id)
        assert subnet is not None
        self._check_new_subnet(session, router, subnet)
        port.device_id, port.device_owner = router.id, INTERFACE_OWNER
        bump(port)
        return port

    def remove_interface(self, ctxt: RequestContext, router_id: str, body: Mapping[str, Any]) -> Record:
        subnet_id, port_id = self._interface_target(body)

        def write(session: Session) -> Record:
            router = access.get_router(session, ctxt, router_id, lock=True)
            enforce(ctxt, policies.REMOVE_ROUTER_INTERFACE, router.project_id)
            port = self._interface(session, router, subnet_id, port_id)
            access.lock_network(session, port.network_id)
            subnets = [allocation.subnet_id for allocation in allocations.held_by(session, port.id)]
            self._check_unused(session, router, subnets)
            allocations.release(session, port.id)
            tags.remove_all(session, port.id)
            session.delete(port)
            self.quotas.release(session, router.project_id, {"port": 1})
            bump(router)
            session.flush()
            self._legs_changed(ctxt, session, router, port.network_id)
            return {
                "id": router.id,
                "tenant_id": router.project_id,
                "project_id": router.project_id,
                "port_id": port.id,
                "network_id": port.network_id,
                "subnet_id": subnets[0] if subnets else None,
                "subnet_ids": subnets,
            }

        return self.db.write(write)

    @staticmethod
    def _interface(session: Session, router: Router, subnet_id: str | None, port_id: str | None) -> Port:
        for port in interfaces_of(session, router.id):
            held = {allocation.subnet_id for allocation in allocations.held_by(session, port.id)}
            if port.id == port_id or (subnet_id is not None and subnet_id in held):
                return port
        if port_id is not None:
            raise RouterInterfaceNotFound(f"Router {router.id} does not have an interface with id {port_id}")
        raise RouterInterfaceNotFound(f"Router {router.id} has no interface on subnet {subnet_id}")

    @staticmethod
    def _check_unused(session: Session, router: Router, subnet_ids: builtins.list[str]) -> None:
        cidrs = [
            ipaddress.IPv4Network(subnet.cidr)
            for subnet in session.scalars(select(Subnet).where(Subnet.id.in_(subnet_ids)))
        ]
        for fixed in session.scalars(
            select(FloatingIP.fixed_ip_address).where(FloatingIP.router_id == router.id)
        ):
            if fixed is not None and any(ipaddress.IPv4Address(fixed) in cidr for cidr in cidrs):
                raise RouterInterfaceInUseByFloatingIP(
                    f"Router interface for subnet {subnet_ids[0]} on router {router.id} cannot be deleted, "
                    "as it is required by one or more floating IPs."
                )
        for route in router.routes:
            if any(ipaddress.IPv4Address(route["nexthop"]) in cidr for cidr in cidrs):
                raise BadRequest(
                    f"Bad router request: Router interface for subnet {subnet_ids[0]} on router {router.id} "
                    f"cannot be deleted, as it is required by one or more routes ({route})."
                )


def routers_reaching(session: Session, subnet_id: str, external_network_id: str) -> builtins.list[Router]:
    """Routers with an interface on the subnet and a gateway on the external network."""
    interface_ports = select(IPAllocation.port_id).where(IPAllocation.subnet_id == subnet_id)
    router_ids = select(Port.device_id).where(
        Port.id.in_(interface_ports), Port.device_owner == INTERFACE_OWNER
    )
    gateways = select(Port.id).where(
        Port.network_id == external_network_id, Port.device_owner == GATEWAY_OWNER
    )
    query = select(Router).where(Router.id.in_(router_ids), Router.gateway_port_id.in_(gateways))
    return list(session.scalars(query.order_by(Router.created_at)))
