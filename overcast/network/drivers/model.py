"""The desired state a network driver is handed: what one host's data plane should look like.

Records are frozen and carry only what the data plane needs (no names, projects or timestamps): the
agent builds them from the database, the driver turns them into bridges, devices, DHCP servers and
firewall rules. Addresses are strings as the API spells them; a driver validates what it uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

SegmentationType = Literal["flat", "vxlan"]
Direction = Literal["ingress", "egress"]
Ethertype = Literal["IPv4", "IPv6"]


@dataclass(frozen=True)
class Network:
    """An L2 segment: VXLAN (``segmentation_id`` is the VNI) or flat on ``physical_network``."""

    id: str
    segmentation_type: SegmentationType
    segmentation_id: int | None = None
    mtu: int = 1450
    physical_network: str | None = None


@dataclass(frozen=True)
class HostRoute:
    destination: str
    nexthop: str


@dataclass(frozen=True)
class Subnet:
    id: str
    network_id: str
    cidr: str
    gateway_ip: str | None = None
    enable_dhcp: bool = True
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[HostRoute, ...] = ()


@dataclass(frozen=True)
class FixedIP:
    subnet_id: str
    ip_address: str


@dataclass(frozen=True)
class AddressPair:
    """An extra address (or CIDR) a port may send from; with no MAC, the port's own."""

    ip_address: str
    mac_address: str | None = None


@dataclass(frozen=True)
class Port:
    """A VM's NIC: ``device`` is the host-side interface (QEMU's tap) that joins the network's bridge."""

    id: str
    network_id: str
    mac_address: str
    device: str
    fixed_ips: tuple[FixedIP, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()
    port_security_enabled: bool = True
    security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecurityGroupRule:
    """Neutron's rule: ``protocol`` is a name (tcp, udp, icmp, ...) or a number; None means any."""

    id: str
    direction: Direction
    ethertype: Ethertype = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


@dataclass(frozen=True)
class SecurityGroup:
    """A group's rules and the addresses of its members (what rules naming it as remote group match)."""

    id: str
    rules: tuple[SecurityGroupRule, ...] = ()
    member_ips: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DhcpHost:
    """One static DHCP entry: the port with this MAC gets this address and host name."""

    mac_address: str
    ip_address: str
    hostname: str


@dataclass(frozen=True)
class DhcpServer:
    """A network's DHCP server on this host: its own port (MAC and addresses) and every port's entry."""

    network_id: str
    mac_address: str
    fixed_ips: tuple[FixedIP, ...]
    subnets: tuple[Subnet, ...]
    hosts: tuple[DhcpHost, ...] = ()
    mtu: int | None = None  # told to the guests (option 26): a VXLAN network's is below 1500


@dataclass(frozen=True)
class RouterInterface:
    port_id: str
    network_id: str
    mac_address: str
    ip_address: str
    cidr: str


@dataclass(frozen=True)
class ExternalGateway:
    port_id: str
    network_id: str
    mac_address: str
    ip_address: str
    cidr: str
    gateway_ip: str | None = None
    enable_snat: bool = True


@dataclass(frozen=True)
class FloatingIP:
    floating_ip_address: str
    fixed_ip_address: str


@dataclass(frozen=True)
class Router:
    id: str
    interfaces: tuple[RouterInterface, ...] = ()
    gateway: ExternalGateway | None = None
    floating_ips: tuple[FloatingIP, ...] = ()
    routes: tuple[HostRoute, ...] = ()  # Neutron's extra routes


@dataclass(frozen=True)
class HostState:
    """Everything one host's data plane should hold; what is not here is removed by ``sync``.

    ``remote_vteps`` names, per VXLAN network, the underlay addresses of the other hosts with ports
    on it (the agent knows them from the ports' bindings).
    """

    networks: tuple[Network, ...] = ()
    ports: tuple[Port, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    dhcp_servers: tuple[DhcpServer, ...] = ()
    routers: tuple[Router, ...] = ()
    remote_vteps: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    """What a driver finds on its host, by id: the read-back side of ``HostState``.

    ``ports`` maps each wired port to its network; ``vteps`` each VXLAN network to its remote VTEPs.
    """

    networks: frozenset[str] = frozenset()
    ports: Mapping[str, str] = field(default_factory=dict)
    security_groups: frozenset[str] = frozenset()
    dhcp_servers: frozenset[str] = frozenset()
    routers: frozenset[str] = frozenset()
    vteps: Mapping[str, frozenset[str]] = field(default_factory=dict)
