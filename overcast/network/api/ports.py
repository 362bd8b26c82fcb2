"""Ports: create with addresses from IPAM and a MAC unique on the network; list, show, update, delete.

A port is DOWN until a data plane binds it; there is no network agent yet, so every port stays DOWN.
"""

from __future__ import annotations

import builtins
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import IPAllocation, Network, Port, PortSecurityGroup
from overcast.network import policies
from overcast.network.api import access, allocations, ipam, queries, records, tags
from overcast.network.api.agent_notices import AgentNotices
from overcast.network.api.allocations import FixedIPRequest
from overcast.network.api.compute_notices import ComputeNotices
from overcast.network.api.errors import (
    AddressPairAndPortSecurityRequired,
    InvalidInput,
    L3PortInUse,
    PolicyNotAuthorized,
    PortSecurityAndIPRequiredForSecurityGroups,
    PortSecurityPortHasSecurityGroup,
)
from overcast.network.api.floating_ips import disassociate_port
from overcast.network.api.networks import bump, check_revision, enforce, flag, owner_project
from overcast.network.api.quotas import NetworkQuotas
from overcast.network.api.records import Record
from overcast.network.api.security_groups import SecurityGroups
from overcast.network.api.settings import NetworkSettings

# Neutron's max_allowed_address_pair.
MAX_ADDRESS_PAIRS = 10
# Ports a router or a floating IP holds: deleted through them, never directly.
L3_OWNERS = ("network:router_interface", "network:router_gateway", "network:floatingip")
ROUTER_OWNERS = ("network:router_interface", "network:router_gateway", "network:router_interface_distributed")
ATTRIBUTES: dict[str, queries.Attribute] = {
    "id": queries.Attribute("id"),
    "name": queries.Attribute("name"),
    "description": queries.Attribute("description"),
    "tenant_id": queries.Attribute("project_id"),
    "project_id": queries.Attribute("project_id"),
    "network_id": queries.Attribute("network_id"),
    "mac_address": queries.Attribute("mac_address"),
    "status": queries.Attribute("status"),
    "admin_state_up": queries.Attribute("admin_state_up", queries.as_bool),
    "device_id": queries.Attribute("device_id"),
    "device_owner": queries.Attribute("device_owner"),
    "binding:host_id": queries.Attribute("binding_host_id"),
    "port_security_enabled": queries.Attribute("port_security_enabled", queries.as_bool),
    "revision_number": queries.Attribute("revision_number", queries.as_int),
    "created_at": queries.Attribute("created_at", queries.as_time),
    "updated_at": queries.Attribute("updated_at", queries.as_time),
}


def _fixed_ips_filter(values: Sequence[str]) -> ColumnElement[bool]:
    """?fixed_ips=ip_address=10.0.0.5&fixed_ips=subnet_id=X: ports holding an address matching all."""
    conditions = []
    for value in values:
        key, _, wanted = value.partition("=")
        if key not in ("ip_address", "subnet_id") or not wanted:
            raise InvalidInput(f"Invalid fixed_ips filter {value!r}: use ip_address=IP or subnet_id=ID.")
        conditions.append(getattr(IPAllocation, key) == wanted)
    return Port.id.in_(select(IPAllocation.port_id).where(and_(*conditions)))


def _security_groups_filter(values: Sequence[str]) -> ColumnElement[bool]:
    """?security_groups=X: ports in any of the named groups."""
    return Port.id.in_(
        select(PortSecurityGroup.port_id).where(PortSecurityGroup.security_group_id.in_(values))
    )


def _address_pairs(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise InvalidInput(f"Allowed address pairs must be a list, not {value!r}.")
    if len(value) > MAX_ADDRESS_PAIRS:
        raise InvalidInput(f"Exceeded maximum amount of allowed address pairs {MAX_ADDRESS_PAIRS}.")
    pairs = []
    for pair in value:
        if (
            not isinstance(pair, Mapping)
            or "ip_address" not in pair
            or not set(pair) <= {"ip_address", "mac_address"}
        ):
            raise InvalidInput(
                f"Invalid allowed address pair {pair!r}: give ip_address and optionally mac_address."
            )
        address = pair["ip_address"]
        prefix = ipam.parse_prefix(address) if isinstance(address, str) and "/" in address else None
        parsed = {"ip_address": str(prefix) if prefix else str(ipam.parse_ip(address))}
        if pair.get("mac_address") is not None:
            parsed["mac_address"] = ipam.parse_mac(pair["mac_address"])
        pairs.append(parsed)
    if len({tuple(sorted(pair.items())) for pair in pairs}) != len(pairs):
        raise InvalidInput("Request contains duplicate address pair.")
    return pairs


def _fixed_ip_requests(value: Any) -> list[FixedIPRequest]:
    if not isinstance(value, list):
        raise InvalidInput(f"Invalid data format for fixed IP: '{value}'")
    return [FixedIPRequest.parse(entry) for entry in value]


class Ports:
    def __init__(
        self,
        db: Database,
        settings: NetworkSettings,
        quotas: NetworkQuotas,
        rng: random.Random,
        security_groups: SecurityGroups,
        notices: AgentNotices | None = None,
    ) -> None:
        self.notices = notices or AgentNotices()
        self.compute = ComputeNotices()
        self.db = db
        self.settings = settings
        self.quotas = quotas
        self.rng = rng
        self.security_groups = security_groups

    def create(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Record:
        return self.create_many(ctxt, [attrs])[0]

    def create_many(self, ctxt: RequestContext, bodies: Sequence[Mapping[str, Any]]) -> builtins.list[Record]:
        """Neutron's bulk create: every resource or none, in one transaction."""
        writers = [self._writer(ctxt, attrs) for attrs in bodies]
        created = self.db.write(lambda session: [write(session) for write in writers])
        # A new member: rules naming its groups as remote now match its addresses.
        self.notices.groups_changed(ctxt, [group for port in created for group in port["security_groups"]])
        return created

    def _writer(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Callable[[Session], Record]:
        """Checks what needs no database, then returns the work of creating it in a transaction."""
        project = owner_project(ctxt, attrs)
        enforce(ctxt, policies.CREATE_PORT, project)
        requests = _fixed_ip_requests(attrs["fixed_ips"]) if attrs.get("fixed_ips") is not None else None
        pairs = _address_pairs(attrs.get("allowed_address_pairs") or [])
        tag_list = tags.check_tags(attrs.get("tags", []))
        if "binding:host_id" in attrs:
            enforce(ctxt, policies.CREATE_PORT_BINDING, project)
        groups = attrs.get("security_groups")
        # Made before the port's transaction, which then finds it, so two first ports race on nothing.
        self.security_groups.ensure_default(project)

        def write(session: Session) -> Record:
            network = access.get_network(session, ctxt, str(attrs.get("network_id")), lock=True)
            self._check_network_access(ctxt, network, project)
            if attrs.get("mac_address") is not None:
                enforce(ctxt, policies.CREATE_PORT_MAC, network.project_id)
            if requests and any(request.ip_address is not None for request in requests):
                enforce(ctxt, policies.CREATE_PORT_FIXED_IP, network.project_id)
            security = flag(attrs, "port_security_enabled", network.port_security_enabled)
            if pairs and not security:
                raise AddressPairAndPortSecurityRequired(
                    "Port Security must be enabled in order to have allowed address pairs on a port."
                )
            if groups and not security:
                raise PortSecurityAndIPRequiredForSecurityGroups(
                    "Port security must be enabled and port must have an IP address in order to use "
                    "security groups."
                )
            self.quotas.consume(session, project, {"port": 1})
            port = Port(
                id=str(uuid.uuid4()),
                network_id=network.id,
                project_id=project,
                name=attrs.get("name") or "",
                description=attrs.get("description") or "",
                mac_address=allocations.choose_mac(
                    session, network.id, attrs.get("mac_address"), self.settings.base_mac, self.rng
                ),
                admin_state_up=flag(attrs, "admin_state_up", True),
                status="DOWN",
                device_id=attrs.get("device_id") or "",
                device_owner=attrs.get("device_owner") or "",
                binding_host_id=attrs.get("binding:host_id") or "",
                port_security_enabled=security,
                allowed_address_pairs=pairs,
                revision_number=0,
            )
            session.add(port)
            session.flush()
            allocations.allocate(session, port, requests, router_port=port.device_owner in ROUTER_OWNERS)
            # Ports the network service owns (DHCP, routers) and ports without port security get no groups.
            if groups is not None or (security and not port.device_owner.startswith("network:")):
                self.security_groups.bind(session, ctxt, port.id, project, groups)
            tags.replace(session, port.id, tag_list)
            return records.port_records(session, ctxt, [port])[0]

        return write

    @staticmethod
    def _check_network_access(ctxt: RequestContext, network: Network, project: str) -> None:
        if ctxt.is_admin or network.project_id == project or network.shared:
            return
        raise PolicyNotAuthorized(f"Tenant {project} not allowed to create port on this network")

    def get(self, ctxt: RequestContext, port_id: str) -> Record:
        enforce(ctxt, policies.GET_PORT, ctxt.project_id)
        with self.db.reader() as session:
            return records.port_records(session, ctxt, [access.get_port(session, ctxt, port_id)])[0]

    def list(self, ctxt: RequestContext, query: queries.ListQuery) -> list[Record]:
        enforce(ctxt, policies.GET_PORT, ctxt.project_id)
        if "binding:host_id" in query.filters and not policy.authorize(ctxt, policies.GET_PORT_BINDING):
            raise InvalidInput("[binding:host_id] is invalid attribute for filtering")
        special: dict[str, Callable[[Sequence[str]], ColumnElement[bool]]] = {
            "fixed_ips": _fixed_ips_filter,
            "security_groups": _security_groups_filter,
        }
        with self.db.reader() as session:
            stmt = queries.filtered(
                select(Port).where(access.port_visible(ctxt)), Port, ATTRIBUTES, query.filters, special
            )
            return records.port_records(session, ctxt, queries.page(session, stmt, Port, ATTRIBUTES, query))

    def update(
        self, ctxt: RequestContext, port_id: str, attrs: Mapping[str, Any], *, revision: int | None = None
    ) -> Record:
        for attribute in ("network_id", "project_id", "tenant_id"):
            if attribute in attrs:
                raise InvalidInput(f"Cannot update read-only attribute {attribute}")
        requests = _fixed_ip_requests(attrs["fixed_ips"]) if attrs.get("fixed_ips") is not None else None

        def write(session: Session) -> tuple[Record, builtins.list[str]]:
            port = access.get_port(session, ctxt, port_id)
            check_revision(port, revision)
            network = access.lock_network(session, port.network_id)
            enforce(ctxt, policies.UPDATE_PORT, port.project_id)
            before = self._groups_of(session, port.id)
            if "binding:host_id" in attrs:
                enforce(ctxt, policies.UPDATE_PORT_BINDING, port.project_id)
                port.binding_host_id = attrs["binding:host_id"] or ""
            if "mac_address" in attrs and ipam.parse_mac(attrs["mac_address"]) != port.mac_address:
                enforce(ctxt, policies.UPDATE_PORT_MAC, port.project_id)
                port.mac_address = allocations.choose_mac(
                    session, network.id, attrs["mac_address"], self.settings.base_mac, self.rng
                )
            if requests is not None:
                self._readdress(ctxt, session, port, network, requests)
            self._apply(port, attrs)
            if "security_groups" in attrs:
                if attrs["security_groups"] and not port.port_security_enabled:
                    raise PortSecurityAndIPRequiredForSecurityGroups(
                        "Port security must be enabled and port must have an IP address in order to use "
                        "security groups."
                    )
                self.security_groups.bind(
                    session, ctxt, port.id, port.project_id, attrs["security_groups"] or []
                )
            elif attrs.get("port_security_enabled") is False and session.scalar(
                select(exists().where(PortSecurityGroup.port_id == port.id))
            ):
                raise PortSecurityPortHasSecurityGroup(
                    "Port has security group associated. Cannot disable port security or ip address until "
                    "security group is removed"
                )
            bump(port)
            session.flush()
            return records.port_records(session, ctxt, [port])[0], before

        updated, before = self.db.write(write)
        # The port's host re-applies its groups and addresses; the groups it left and joined change members.
        self.notices.groups_changed(ctxt, [*before, *updated["security_groups"]])
        self.notices.networks_changed(ctxt, [updated["network_id"]])
        return updated

    @staticmethod
    def _groups_of(session: Session, port_id: str) -> builtins.list[str]:
        return list(
            session.scalars(
                select(PortSecurityGroup.security_group_id).where(PortSecurityGroup.port_id == port_id)
            )
        )

    @staticmethod
    def _readdress(
        ctxt: RequestContext,
        session: Session,
        port: Port,
        network: Network,
        requests: Sequence[FixedIPRequest],
    ) -> None:
        """Keep the addresses still asked for, release the others, allocate the new ones."""
        held = records.fixed_ips_of(session, [port.id])[port.id]
        kept = [
            req
            for req in requests
            if req.ip_address is not None
            and any(
                fixed["ip_address"] == req.ip_address and req.subnet_id in (None, fixed["subnet_id"])
                for fixed in held
            )
        ]
        new = [req for req in requests if req not in kept]
        if any(request.ip_address is not None for request in new):
            enforce(ctxt, policies.UPDATE_PORT_FIXED_IP, network.project_id)
        kept_addresses = {req.ip_address for req in kept}
        for fixed in held:
            if fixed["ip_address"] not in kept_addresses:
                session.delete(session.get(IPAllocation, (port.network_id, fixed["ip_address"])))
        session.flush()
        if new:
            allocations.allocate(session, port, new, router_port=port.device_owner in ROUTER_OWNERS)

    @staticmethod
    def _apply(port: Port, attrs: Mapping[str, Any]) -> None:
        for attribute in ("name", "description", "device_id", "device_owner"):
            if attribute in attrs:
                setattr(port, attribute, attrs[attribute] or "")
        if "admin_state_up" in attrs:
            port.admin_state_up = flag(attrs, "admin_state_up", True)
        if "port_security_enabled" in attrs:
            port.port_security_enabled = flag(attrs, "port_security_enabled", True)
        if "allowed_address_pairs" in attrs:
            port.allowed_address_pairs = _address_pairs(attrs["allowed_address_pairs"] or [])
        if port.allowed_address_pairs and not port.port_security_enabled:
            raise AddressPairAndPortSecurityRequired(
                "Port Security must be enabled in order to have allowed address pairs on a port."
            )

    def delete(
        self, ctxt: RequestContext, port_id: str, *, revision: int | None = None, tell_compute: bool = True
    ) -> None:
        """`tell_compute=False` is compute's own delete of a port it has already taken off its server."""
        server_uuid = ""

        def write(session: Session) -> tuple[str, builtins.list[str]]:
            nonlocal server_uuid
            port = access.get_port(session, ctxt, port_id)
            check_revision(port, revision)
            network = access.lock_network(session, port.network_id)
            # The network's owner may delete ports on it (Neutron's admin_or_network_owner).
            if not policy.authorize(ctxt, policies.DELETE_PORT, {"project_id": network.project_id}):
                enforce(ctxt, policies.DELETE_PORT, port.project_id)
            if port.device_owner in L3_OWNERS:
                raise L3PortInUse(
                    f"Port {port.id} cannot be deleted directly via the port API: has device owner "
                    f"{port.device_owner}."
                )
            groups = self._groups_of(session, port.id)
            # Only a port bound to a host was ever plugged into its server; an unbound one that merely
            # names the server as its device leaves compute nothing to unplug (nor an agent to unwire it).
            if port.device_owner.startswith("compute:") and port.device_id and port.binding_host_id:
                server_uuid = port.device_id
            disassociate_port(session, port.id)
            allocations.release(session, port.id)
            session.execute(delete(PortSecurityGroup).where(PortSecurityGroup.port_id == port.id))
            tags.remove_all(session, port.id)
            session.delete(port)
            if port.project_id and port.device_owner != "network:dhcp":
                self.quotas.release(session, port.project_id, {"port": 1})
            return port.network_id, groups

        network_id, groups = self.db.write(write)
        self.notices.groups_changed(ctxt, groups)
        self.notices.networks_changed(ctxt, [network_id])
        if server_uuid and tell_compute:
            self.compute.port_deleted(ctxt, server_uuid, port_id)
