"""Subnets (IPv4): create with checked pools, gateway, DNS servers and routes, or with a CIDR allocated from
a subnet pool; list, show, update, delete.

A network with DHCP-enabled subnets has one DHCP port (`network:dhcp`, as Neutron's DHCP agent makes)
holding an address on each of them, so no VM port is ever given the DHCP server's address. There is no
DHCP agent yet: the port stays DOWN with Neutron's `reserved_dhcp_port` device id until the data plane
takes it.
"""

from __future__ import annotations

import builtins
import ipaddress
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import IPAllocation, Network, Port, Subnet
from overcast.network import policies
from overcast.network.api import access, allocations, ipam, prefix_allocator, queries, records, tags
from overcast.network.api.agent_notices import AgentNotices
from overcast.network.api.allocations import FixedIPRequest
from overcast.network.api.errors import (
    InvalidInput,
    NetworkSubnetPoolAffinityError,
    SubnetInUse,
    SubnetOverlap,
)
from overcast.network.api.networks import (
    SERVICE_DEVICE_OWNERS,
    bump,
    check_revision,
    enforce,
    flag,
    owner_project,
)
from overcast.network.api.quotas import NetworkQuotas
from overcast.network.api.records import Record
from overcast.network.api.routers import GATEWAY_OWNER
from overcast.network.api.settings import NetworkSettings
from overcast.network.api.subnet_pools import SubnetPools

DHCP_OWNER = "network:dhcp"
RESERVED_DHCP_DEVICE = "reserved_dhcp_port"
IMMUTABLE = ("cidr", "network_id", "ip_version", "subnetpool_id", "project_id", "tenant_id")
ATTRIBUTES: dict[str, queries.Attribute] = {
    "id": queries.Attribute("id"),
    "name": queries.Attribute("name"),
    "description": queries.Attribute("description"),
    "tenant_id": queries.Attribute("project_id"),
    "project_id": queries.Attribute("project_id"),
    "network_id": queries.Attribute("network_id"),
    "ip_version": queries.Attribute("ip_version", queries.as_int),
    "cidr": queries.Attribute("cidr"),
    "gateway_ip": queries.Attribute("gateway_ip"),
    "enable_dhcp": queries.Attribute("enable_dhcp", queries.as_bool),
    "subnetpool_id": queries.Attribute("subnetpool_id"),
    "revision_number": queries.Attribute("revision_number", queries.as_int),
    "created_at": queries.Attribute("created_at", queries.as_time),
    "updated_at": queries.Attribute("updated_at", queries.as_time),
}


def _gateway(cidr: ipaddress.IPv4Network, attrs: Mapping[str, Any]) -> ipaddress.IPv4Address | None:
    if "gateway_ip" not in attrs:
        return ipaddress.IPv4Address(int(cidr.network_address) + 1)
    if attrs["gateway_ip"] is None:
        return None
    gateway = ipam.parse_ip(attrs["gateway_ip"], "gateway_ip")
    ipam.check_gateway(cidr, gateway)
    return gateway


def _pools(cidr: ipaddress.IPv4Network, gateway: ipaddress.IPv4Address | None, given: Any) -> list[ipam.Pool]:
    if given is None:
        return ipam.default_pools(cidr, gateway)
    if not isinstance(given, list):
        raise InvalidInput(f"Invalid data format for allocation pools: '{given}'")
    pools = [ipam.Pool.parse(value) for value in given]
    ipam.check_pools(cidr, pools, gateway)
    return pools


def _check_pool_affinity(session: Session, network_id: str, subnetpool_id: str | None) -> None:
    """As Neutron: the subnets of one IP version on a network come from one pool (or none)."""
    others = select(Subnet.id).where(
        Subnet.network_id == network_id,
        Subnet.ip_version == 4,
        Subnet.subnetpool_id.is_distinct_from(subnetpool_id),
    )
    if session.scalar(others.limit(1)) is not None:
        raise NetworkSubnetPoolAffinityError(
            "Subnets hosted on the same network must be allocated from the same subnet pool."
        )


def _pool_request(attrs: Mapping[str, Any]) -> tuple[str | None, bool, int | None]:
    """The pool a new subnet asks for (an id, or the default pool), and the prefix length it wants."""
    pool_id = attrs.get("subnetpool_id")
    use_default = flag(attrs, "use_default_subnetpool", False)
    if pool_id is not None and use_default:
        raise InvalidInput("subnetpool_id and use_default_subnetpool cannot both be specified")
    if pool_id is not None and not (isinstance(pool_id, str) and access.is_uuid(pool_id)):
        raise InvalidInput(f"Invalid input for subnetpool_id. Reason: '{pool_id}' is not a valid UUID.")
    prefixlen = attrs.get("prefixlen")
    if prefixlen is not None:
        if pool_id is None and not use_default:
            raise InvalidInput(
                "prefixlen is only used with a subnet pool (subnetpool_id or use_default_subnetpool)."
            )
        if attrs.get("cidr") is not None:
            raise InvalidInput("cidr and prefixlen must not be supplied together")
        prefixlen = prefix_allocator.prefix_length(prefixlen, "prefixlen")
    return pool_id, use_default, prefixlen


def _check_no_overlap(session: Session, network_id: str, cidr: ipaddress.IPv4Network) -> None:
    for other in session.scalars(select(Subnet).where(Subnet.network_id == network_id)):
        if cidr.overlaps(ipaddress.IPv4Network(other.cidr)):
            raise SubnetOverlap(
                f"Invalid input for operation: Requested subnet with cidr: {cidr} for network: {network_id} "
                f"overlaps with another subnet ({other.id}, {other.cidr})."
            )


def address_gateways(session: Session, subnet: Subnet) -> None:
    """As Neutron: router gateways on an external network that had no subnet take an address from the
    first one it gains, so their routers gain an external leg (and SNAT); those past the end of its pools
    stay without. Runs under the network's row lock."""
    holding = select(IPAllocation.port_id).where(IPAllocation.port_id == Port.id)
    bare = session.scalars(
        select(Port).where(
            Port.network_id == subnet.network_id, Port.device_owner == GATEWAY_OWNER, ~exists(holding)
        )
    ).all()
    for port in bare:
        free = ipam.first_free(
            ipam.stored_pools(subnet.allocation_pools), allocations.taken_in(session, subnet)
        )
        if free is None:
            return
        allocations.allocate(session, port, [FixedIPRequest(subnet.id, str(free))], router_port=True)
        bump(port)


def sync_dhcp_port(session: Session, network: Network, rng: random.Random, base_mac: str) -> None:
    """Make the network's DHCP port hold one address on each DHCP-enabled subnet, and exist only while
    there is one. Runs under the network's row lock."""
    port = session.scalars(
        select(Port).where(Port.network_id == network.id, Port.device_owner == DHCP_OWNER)
    ).first()
    wanted = [subnet for subnet in allocations.network_subnets(session, network.id) if subnet.enable_dhcp]
    if not wanted:
        if port is not None:
            allocations.release(session, port.id)
            tags.remove_all(session, port.id)
            session.delete(port)
            session.flush()
        return
    if port is None:
        port = Port(
            id=str(uuid.uuid4()),
            network_id=network.id,
            project_id=network.project_id,
            mac_address=allocations.choose_mac(session, network.id, None, base_mac, rng),
            admin_state_up=True,
            status="DOWN",
            device_id=RESERVED_DHCP_DEVICE,
            device_owner=DHCP_OWNER,
            binding_host_id="",
            port_security_enabled=False,
            allowed_address_pairs=[],
            revision_number=0,
            name="",
            description="",
        )
        session.add(port)
        session.flush()
    held = set(session.scalars(select(IPAllocation.subnet_id).where(IPAllocation.port_id == port.id)))
    wanted_ids = {subnet.id for subnet in wanted}
    for subnet_id in held - wanted_ids:
        allocations.release_in_subnet(session, port.id, subnet_id)
    missing = [allocations.FixedIPRequest(subnet.id, None) for subnet in wanted if subnet.id not in held]
    if missing:
        allocations.allocate(session, port, missing)
        bump(port)


class Subnets:
    def __init__(
        self,
        db: Database,
        settings: NetworkSettings,
        quotas: NetworkQuotas,
        rng: random.Random,
        notices: AgentNotices | None = None,
    ) -> None:
        self.notices = notices or AgentNotices()
        self.db = db
        self.settings = settings
        self.quotas = quotas
        self.rng = rng

    def create(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Record:
        return self.create_many(ctxt, [attrs])[0]

    def create_many(self, ctxt: RequestContext, bodies: Sequence[Mapping[str, Any]]) -> builtins.list[Record]:
        """Neutron's bulk create: every resource or none, in one transaction."""
        writers = [self._writer(ctxt, attrs) for attrs in bodies]
        created = self.db.write(lambda session: [write(session) for write in writers])
        # Hosts serving the network's DHCP start answering for the new subnet.
        self.notices.networks_changed(ctxt, [subnet["network_id"] for subnet in created])
        return created

    def _writer(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Callable[[Session], Record]:
        """Checks what needs no database, then returns the work of creating it in a transaction."""
        project = owner_project(ctxt, attrs)
        if attrs.get("ip_version") != 4:
            raise InvalidInput(f"ip_version {attrs.get('ip_version')!r} is not supported: only 4.")
        pool_id, use_default_pool, prefixlen = _pool_request(attrs)
        pooled = pool_id is not None or use_default_pool
        if attrs.get("cidr") is None and not pooled:
            raise InvalidInput("A cidr must be specified in the absence of a subnet pool")
        requested = ipam.parse_cidr(attrs["cidr"]) if attrs.get("cidr") is not None else None
        if requested is not None:
            # Checked before the transaction too, so a bad gateway or pool costs no lock.
            _pools(requested, _gateway(requested, attrs), attrs.get("allocation_pools"))
        dns = ipam.check_dns_nameservers(attrs.get("dns_nameservers", []))
        routes = ipam.check_host_routes(attrs.get("host_routes", []))
        tag_list = tags.check_tags(attrs.get("tags", []))

        def write(session: Session) -> Record:
            network = access.get_network(session, ctxt, str(attrs.get("network_id")), lock=True)
            enforce(ctxt, policies.CREATE_SUBNET, network.project_id)
            subnetpool_id = None
            cidr = requested
            if pooled:
                subnetpool_id = pool_id or SubnetPools.default_pool_id(session, ctxt, 4)
                cidr = self._from_pool(session, ctxt, project, subnetpool_id, requested, prefixlen)
            assert cidr is not None  # a cidr or a pool, checked above
            _check_pool_affinity(session, network.id, subnetpool_id)
            gateway = _gateway(cidr, attrs)
            pools = _pools(cidr, gateway, attrs.get("allocation_pools"))
            _check_no_overlap(session, network.id, cidr)
            self.quotas.consume(session, project, {"subnet": 1})
            subnet = Subnet(
                id=str(uuid.uuid4()),
                network_id=network.id,
                project_id=project,
                name=attrs.get("name") or "",
                description=attrs.get("description") or "",
                ip_version=4,
                cidr=str(cidr),
                gateway_ip=str(gateway) if gateway else None,
                enable_dhcp=flag(attrs, "enable_dhcp", True),
                allocation_pools=[pool.as_dict() for pool in pools],
                dns_nameservers=dns,
                host_routes=routes,
                revision_number=0,
                subnetpool_id=subnetpool_id,
            )
            session.add(subnet)
            session.flush()
            tags.replace(session, subnet.id, tag_list)
            sync_dhcp_port(session, network, self.rng, self.settings.base_mac)
            if network.external:
                address_gateways(session, subnet)
            bump(network)
            return records.subnet_records(session, [subnet])[0]

        return write

    @staticmethod
    def _from_pool(
        session: Session,
        ctxt: RequestContext,
        project: str,
        pool_id: str,
        requested: ipaddress.IPv4Network | None,
        prefixlen: int | None,
    ) -> ipaddress.IPv4Network:
        """The pool's bounds are checked first (Neutron's errors), then the length an IPv4 subnet may have."""
        cidr = SubnetPools.allocate(session, ctxt, project, pool_id, 4, requested, prefixlen)
        if not isinstance(cidr, ipaddress.IPv4Network) or cidr.prefixlen > ipam.LONGEST_PREFIX:
            raise InvalidInput(
                f"A /{cidr.prefixlen} subnet has no room for a gateway and a port: an IPv4 subnet's prefix "
                f"length is at most {ipam.LONGEST_PREFIX}."
            )
        return cidr

    def get(self, ctxt: RequestContext, subnet_id: str) -> Record:
        enforce(ctxt, policies.GET_SUBNET, ctxt.project_id)
        with self.db.reader() as session:
            return records.subnet_records(session, [access.get_subnet(session, ctxt, subnet_id)])[0]

    def list(self, ctxt: RequestContext, query: queries.ListQuery) -> list[Record]:
        enforce(ctxt, policies.GET_SUBNET, ctxt.project_id)
        with self.db.reader() as session:
            stmt = queries.filtered(
                select(Subnet).where(access.subnet_visible(ctxt)), Subnet, ATTRIBUTES, query.filters
            )
            return records.subnet_records(session, queries.page(session, stmt, Subnet, ATTRIBUTES, query))

    def update(
        self, ctxt: RequestContext, subnet_id: str, attrs: Mapping[str, Any], *, revision: int | None = None
    ) -> Record:
        for attribute in IMMUTABLE:
            if attribute in attrs:
                raise InvalidInput(f"Cannot update read-only attribute {attribute}")

        def write(session: Session) -> Record:
            subnet = access.get_subnet(session, ctxt, subnet_id)
            check_revision(subnet, revision)
            network = access.lock_network(session, subnet.network_id)
            enforce(ctxt, policies.UPDATE_SUBNET, network.project_id)
            self._apply(session, subnet, attrs)
            if "enable_dhcp" in attrs:
                sync_dhcp_port(session, network, self.rng, self.settings.base_mac)
            bump(subnet)
            session.flush()
            return records.subnet_records(session, [subnet])[0]

        updated = self.db.write(write)
        self.notices.networks_changed(ctxt, [updated["network_id"]])
        return updated

    @staticmethod
    def _apply(session: Session, subnet: Subnet, attrs: Mapping[str, Any]) -> None:
        cidr = ipaddress.IPv4Network(subnet.cidr)
        if "gateway_ip" in attrs or "allocation_pools" in attrs:
            gateway = (
                _gateway(cidr, attrs)
                if "gateway_ip" in attrs
                else (ipaddress.IPv4Address(subnet.gateway_ip) if subnet.gateway_ip else None)
            )
            given = attrs.get("allocation_pools", subnet.allocation_pools)
            pools = _pools(cidr, gateway, given)
            if gateway is not None and str(gateway) != subnet.gateway_ip:
                held = session.get(IPAllocation, (subnet.network_id, str(gateway)))
                if held is not None:
                    raise SubnetInUse(f"Gateway {gateway} is already allocated to port {held.port_id}.")
            subnet.gateway_ip = str(gateway) if gateway else None
            subnet.allocation_pools = [pool.as_dict() for pool in pools]
        if "dns_nameservers" in attrs:
            subnet.dns_nameservers = ipam.check_dns_nameservers(attrs["dns_nameservers"])
        if "host_routes" in attrs:
            subnet.host_routes = ipam.check_host_routes(attrs["host_routes"])
        for attribute in ("name", "description"):
            if attribute in attrs:
                setattr(subnet, attribute, attrs[attribute] or "")
        if "enable_dhcp" in attrs:
            subnet.enable_dhcp = flag(attrs, "enable_dhcp", True)
        session.flush()

    def delete(self, ctxt: RequestContext, subnet_id: str, *, revision: int | None = None) -> None:
        def write(session: Session) -> str:
            subnet = access.get_subnet(session, ctxt, subnet_id)
            check_revision(subnet, revision)
            network = access.lock_network(session, subnet.network_id)
            enforce(ctxt, policies.DELETE_SUBNET, network.project_id)
            used = exists().where(
                IPAllocation.subnet_id == subnet.id,
                IPAllocation.port_id == Port.id,
                Port.device_owner.not_in(SERVICE_DEVICE_OWNERS),
            )
            if session.scalar(select(used)):
                raise SubnetInUse(
                    f"Unable to complete operation on subnet {subnet.id}: One or more ports have an IP "
                    "allocation from this subnet."
                )
            subnet.enable_dhcp = False
            session.flush()
            sync_dhcp_port(session, network, self.rng, self.settings.base_mac)
            tags.remove_all(session, subnet.id)
            session.delete(subnet)
            self.quotas.release(session, subnet.project_id, {"subnet": 1})
            bump(network)
            return network.id

        self.notices.networks_changed(ctxt, [self.db.write(write)])
