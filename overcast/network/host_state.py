"""What one host's data plane should hold, read from the database as the drivers' model records.

A host wires the ports bound to it (``binding:host_id``) that belong to VMs, the networks they are on,
their security groups (and the groups their rules name as remote, whose member sets they match), and
the DHCP server of every network whose DHCP port is bound to it, and the routers whose ports are bound
to it (their legs' networks with them, their associated floating IPs). Everything is read in one read
transaction, so the records are one consistent snapshot. A VXLAN network's remote VTEPs are the
underlay addresses of the other hosts with ports bound on it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.network import (
    FloatingIP as FloatingIPRow,
)
from overcast.db.models.network import (
    IPAllocation,
    PortSecurityGroup,
    SecurityGroupRule,
)
from overcast.db.models.network import Network as NetworkRow
from overcast.db.models.network import Port as PortRow
from overcast.db.models.network import Router as RouterRow
from overcast.db.models.network import Subnet as SubnetRow
from overcast.network.drivers import names
from overcast.network.drivers.model import (
    AddressPair,
    DhcpHost,
    DhcpServer,
    ExternalGateway,
    FixedIP,
    FloatingIP,
    HostRoute,
    HostState,
    Network,
    Port,
    Router,
    RouterInterface,
    SecurityGroup,
    Subnet,
)
from overcast.network.drivers.model import SecurityGroupRule as RuleRecord

DHCP_OWNER = "network:dhcp"
ROUTER_INTERFACE_OWNER = "network:router_interface"
ROUTER_GATEWAY_OWNER = "network:router_gateway"
ROUTER_OWNERS = (ROUTER_INTERFACE_OWNER, ROUTER_GATEWAY_OWNER)
# Ports Neutron's own agents serve (DHCP, router interfaces and gateways, floating IPs): never a VM's tap.
SERVICE_OWNER_PREFIX = "network:"


def is_vm_port(port: PortRow) -> bool:
    """A VM's NIC (compute:*, or a port an operator bound by hand); DHCP and router ports are not."""
    return not port.device_owner.startswith(SERVICE_OWNER_PREFIX)


def dhcp_hostname(ip_address: str) -> str:
    """Neutron's DHCP host name for an address: host-10-0-0-3."""
    return "host-" + ip_address.replace(".", "-").replace(":", "-")


class HostStateReader:
    """Builds a host's ``HostState`` (or the slice of it on some networks) inside one read session."""

    def __init__(self, session: Session, host: str, underlay_ips: Mapping[str, str]) -> None:
        self.session = session
        self.host = host
        self.underlay_ips = underlay_ips

    def build(self, network_ids: Collection[str] | None = None, *, with_routers: bool = False) -> HostState:
        """The whole host (``network_ids`` None, routers included), or the slice on some networks: a
        wire's leaves routers to the sync; a change's (``with_routers``) takes the routers served here
        with a leg on them, each with every leg's network, so a floating IP reaches its router at once."""
        query = select(PortRow).where(PortRow.binding_host_id == self.host)
        if network_ids is not None:
            query = query.where(PortRow.network_id.in_(list(network_ids)))
        bound = list(self.session.scalars(query.order_by(PortRow.id)))
        vm_ports = [port for port in bound if is_vm_port(port)]
        dhcp_ports = [port for port in bound if port.device_owner == DHCP_OWNER]
        router_ids = (
            self._routers_of({port.device_id for port in bound if port.device_owner in ROUTER_OWNERS})
            if network_ids is None or with_routers
            else []
        )
        router_ports = self._router_ports(router_ids)
        wired_network_ids = sorted({port.network_id for port in [*vm_ports, *dhcp_ports, *router_ports]})
        if not wired_network_ids:
            return HostState()
        networks = list(
            self.session.scalars(
                select(NetworkRow).where(NetworkRow.id.in_(wired_network_ids)).order_by(NetworkRow.id)
            )
        )
        on_networks = list(
            self.session.scalars(
                select(PortRow).where(PortRow.network_id.in_(wired_network_ids)).order_by(PortRow.id)
            )
        )
        fixed_ips = self._fixed_ips(wired_network_ids)
        groups_of_port = self._groups_of_ports([port.id for port in vm_ports])
        return HostState(
            networks=tuple(_network(row) for row in networks),
            ports=tuple(_port(row, fixed_ips[row.id], groups_of_port[row.id]) for row in vm_ports),
            security_groups=self._security_groups(
                {
                    group
                    for port in vm_ports
                    if port.port_security_enabled
                    for group in groups_of_port[port.id]
                }
            ),
            dhcp_servers=self._dhcp_servers(networks, dhcp_ports, on_networks, fixed_ips),
            routers=self._routers(router_ids, router_ports, fixed_ips),
            remote_vteps=self._remote_vteps(networks, on_networks),
        )

    def _fixed_ips(self, network_ids: list[str]) -> dict[str, tuple[FixedIP, ...]]:
        found: dict[str, list[FixedIP]] = defaultdict(list)
        rows = self.session.execute(
            select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)
            .where(IPAllocation.network_id.in_(network_ids))
            .order_by(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)
        )
        for port_id, subnet_id, ip_address in rows:
            found[port_id].append(FixedIP(subnet_id, ip_address))
        return defaultdict(tuple, {port_id: tuple(ips) for port_id, ips in found.items()})

    def _groups_of_ports(self, port_ids: list[str]) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = defaultdict(list)
        if port_ids:
            rows = self.session.execute(
                select(PortSecurityGroup.port_id, PortSecurityGroup.security_group_id)
                .where(PortSecurityGroup.port_id.in_(port_ids))
                .order_by(PortSecurityGroup.port_id, PortSecurityGroup.security_group_id)
            )
            for port_id, group_id in rows:
                found[port_id].append(group_id)
        return defaultdict(tuple, {port_id: tuple(groups) for port_id, groups in found.items()})

    def _security_groups(self, used: set[str]) -> tuple[SecurityGroup, ...]:
        """The ports' groups and, transitively, the remote groups their rules match on."""
        rules: dict[str, list[SecurityGroupRule]] = {}
        pending = set(used)
        while pending:
            for group_id in pending:
                rules[group_id] = []
            rows = self.session.scalars(
                select(SecurityGroupRule)
                .where(SecurityGroupRule.security_group_id.in_(sorted(pending)))
                .order_by(SecurityGroupRule.id)
            )
            for rule in rows:
                rules[rule.security_group_id].append(rule)
            named = {rule.remote_group_id for group_id in pending for rule in rules[group_id]}
            pending = {group_id for group_id in named if group_id is not None} - set(rules)
        members = self._member_ips(rules)
        return tuple(
            SecurityGroup(
                id=group_id,
                rules=tuple(_rule(rule) for rule in rules[group_id]),
                member_ips=frozenset(members[group_id]),
            )
            for group_id in sorted(rules)
        )

    def _member_ips(self, group_ids: Iterable[str]) -> dict[str, set[str]]:
        members: dict[str, set[str]] = defaultdict(set)
        rows = self.session.execute(
            select(PortSecurityGroup.security_group_id, IPAllocation.ip_address)
            .join(IPAllocation, IPAllocation.port_id == PortSecurityGroup.port_id)
            .where(PortSecurityGroup.security_group_id.in_(sorted(group_ids)))
        )
        for group_id, ip_address in rows:
            members[group_id].add(ip_address)
        return members

    def _dhcp_servers(
        self,
        networks: list[NetworkRow],
        dhcp_ports: list[PortRow],
        on_networks: list[PortRow],
        fixed_ips: Mapping[str, tuple[FixedIP, ...]],
    ) -> tuple[DhcpServer, ...]:
        if not dhcp_ports:
            return ()
        served = {port.network_id: port for port in dhcp_ports}
        subnets: dict[str, list[Subnet]] = defaultdict(list)
        for row in self.session.scalars(
            select(SubnetRow)
            .where(SubnetRow.network_id.in_(sorted(served)), SubnetRow.enable_dhcp.is_(True))
            .order_by(SubnetRow.created_at, SubnetRow.id)
        ):
            subnets[row.network_id].append(_subnet(row))
        servers = []
        for network in networks:
            port = served.get(network.id)
            if port is None:
                continue
            hosts = tuple(
                DhcpHost(other.mac_address, fixed.ip_address, dhcp_hostname(fixed.ip_address))
                for other in on_networks
                if other.network_id == network.id and other.id != port.id
                for fixed in fixed_ips[other.id]
            )
            servers.append(
                DhcpServer(
                    network_id=network.id,
                    mac_address=port.mac_address,
                    fixed_ips=fixed_ips[port.id],
                    subnets=tuple(subnets[network.id]),
                    hosts=hosts,
                    mtu=network.mtu,
                )
            )
        return tuple(servers)

    def _routers_of(self, device_ids: set[str]) -> list[str]:
        if not device_ids:
            return []
        return list(
            self.session.scalars(
                select(RouterRow.id).where(RouterRow.id.in_(sorted(device_ids))).order_by(RouterRow.id)
            )
        )

    def _router_ports(self, router_ids: list[str]) -> list[PortRow]:
        if not router_ids:
            return []
        return list(
            self.session.scalars(
                select(PortRow)
                .where(PortRow.device_id.in_(router_ids), PortRow.device_owner.in_(ROUTER_OWNERS))
                .order_by(PortRow.id)
            )
        )

    def _routers(
        self, router_ids: list[str], ports: list[PortRow], fixed_ips: Mapping[str, tuple[FixedIP, ...]]
    ) -> tuple[Router, ...]:
        """Each router's legs (one per port, on its first address) and its associated floating IPs."""
        if not router_ids:
            return ()
        subnet_ids = sorted({fixed_ips[port.id][0].subnet_id for port in ports if fixed_ips[port.id]})
        subnets = {
            row.id: row for row in self.session.scalars(select(SubnetRow).where(SubnetRow.id.in_(subnet_ids)))
        }
        legs: dict[str, list[tuple[PortRow, FixedIP, SubnetRow]]] = defaultdict(list)
        for port in ports:
            if fixed_ips[port.id]:
                first = fixed_ips[port.id][0]
                legs[port.device_id].append((port, first, subnets[first.subnet_id]))
        floating = self._floating_ips(router_ids)
        rows = self.session.scalars(
            select(RouterRow).where(RouterRow.id.in_(router_ids)).order_by(RouterRow.id)
        )
        return tuple(_router(row, legs[row.id], floating[row.id]) for row in rows)

    def _floating_ips(self, router_ids: list[str]) -> dict[str, list[FloatingIP]]:
        floating: dict[str, list[FloatingIP]] = defaultdict(list)
        rows = self.session.execute(
            select(FloatingIPRow.router_id, FloatingIPRow.floating_ip_address, FloatingIPRow.fixed_ip_address)
            .where(FloatingIPRow.router_id.in_(router_ids), FloatingIPRow.fixed_ip_address.is_not(None))
            .order_by(FloatingIPRow.floating_ip_address)
        )
        for router_id, floating_ip_address, fixed_ip_address in rows:
            if router_id and fixed_ip_address:  # both by the query; the columns are nullable
                floating[router_id].append(FloatingIP(floating_ip_address, fixed_ip_address))
        return floating

    def _remote_vteps(
        self, networks: list[NetworkRow], on_networks: list[PortRow]
    ) -> dict[str, frozenset[str]]:
        hosts: dict[str, set[str]] = defaultdict(set)
        for port in on_networks:
            if port.binding_host_id and port.binding_host_id != self.host:
                hosts[port.network_id].add(port.binding_host_id)
        local = self.underlay_ips.get(self.host)
        return {
            network.id: frozenset(
                ip
                for other in hosts[network.id]
                if (ip := self.underlay_ips.get(other)) and ip != local and not ip.startswith("127.")
            )
            for network in networks
            if network.network_type == "vxlan"
        }


def read_host_state(
    session: Session,
    host: str,
    underlay_ips: Mapping[str, str],
    network_ids: Collection[str] | None = None,
    *,
    with_routers: bool = False,
) -> HostState:
    return HostStateReader(session, host, underlay_ips).build(network_ids, with_routers=with_routers)


def _network(row: NetworkRow) -> Network:
    vxlan = row.network_type == "vxlan"
    return Network(
        id=row.id,
        segmentation_type="vxlan" if vxlan else "flat",
        segmentation_id=row.segmentation_id if vxlan else None,
        mtu=row.mtu,
        physical_network=None if vxlan else row.physical_network,
    )


def _port(row: PortRow, fixed_ips: tuple[FixedIP, ...], groups: tuple[str, ...]) -> Port:
    return Port(
        id=row.id,
        network_id=row.network_id,
        mac_address=row.mac_address,
        device=names.tap(row.id),
        fixed_ips=fixed_ips,
        allowed_address_pairs=tuple(
            AddressPair(pair["ip_address"], pair.get("mac_address")) for pair in row.allowed_address_pairs
        ),
        port_security_enabled=row.port_security_enabled,
        security_group_ids=groups if row.port_security_enabled else (),
    )


def _subnet(row: SubnetRow) -> Subnet:
    return Subnet(
        id=row.id,
        network_id=row.network_id,
        cidr=row.cidr,
        gateway_ip=row.gateway_ip,
        enable_dhcp=row.enable_dhcp,
        dns_nameservers=tuple(row.dns_nameservers),
        host_routes=tuple(HostRoute(route["destination"], route["nexthop"]) for route in row.host_routes),
    )


def _rule(row: SecurityGroupRule) -> RuleRecord:
    return RuleRecord(
        id=row.id,
        direction="egress" if row.direction == "egress" else "ingress",
        ethertype="IPv6" if row.ethertype == "IPv6" else "IPv4",
        protocol=row.protocol,
        port_range_min=row.port_range_min,
        port_range_max=row.port_range_max,
        remote_ip_prefix=row.remote_ip_prefix,
        remote_group_id=row.remote_group_id,
    )


def _router(
    row: RouterRow, legs: list[tuple[PortRow, FixedIP, SubnetRow]], floating: list[FloatingIP]
) -> Router:
    interfaces = tuple(
        RouterInterface(port.id, port.network_id, port.mac_address, fixed.ip_address, subnet.cidr)
        for port, fixed, subnet in legs
        if port.device_owner == ROUTER_INTERFACE_OWNER
    )
    gateway = next(
        (
            ExternalGateway(
                port_id=port.id,
                network_id=port.network_id,
                mac_address=port.mac_address,
                ip_address=fixed.ip_address,
                cidr=subnet.cidr,
                gateway_ip=subnet.gateway_ip,
                enable_snat=row.enable_snat,
            )
            for port, fixed, subnet in legs
            if port.id == row.gateway_port_id
        ),
        None,
    )
    # Floating IPs live on the gateway leg: without a gateway there is nowhere to hold them.
    return Router(row.id, interfaces, gateway, tuple(floating) if gateway is not None else ())
