"""Networking v2 tables (Neutron's): networks, subnets, ports, their IP allocations, standard tags, address
scopes and subnet pools."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin


class Network(Base, TimestampMixin):
    __tablename__ = "networks"
    # One tenant network per VXLAN id and one flat network per physical network; vxlan networks have no
    # physical network and flat ones no segmentation id, and NULLs never collide.
    __table_args__ = (
        UniqueConstraint("network_type", "segmentation_id"),
        UniqueConstraint("physical_network"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="ACTIVE")
    shared: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    external: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    network_type: Mapped[str] = mapped_column(String(16), nullable=False)
    physical_network: Mapped[str | None] = mapped_column(String(64), nullable=True)
    segmentation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mtu: Mapped[int] = mapped_column(Integer, nullable=False)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Neutron's is_default: the external network get-me-a-network puts projects' routers' gateways on.
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="0")


class AutoAllocatedTopology(Base):
    """A project's get-me-a-network topology. The project is the primary key: of two first servers
    asking at once, one claims the row and builds, the other waits for it. Network and router are
    empty while the claimant builds them."""

    __tablename__ = "auto_allocated_topologies"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Deleting the network by hand ends the topology (the next request makes a new one).
    network_id: Mapped[str | None] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), nullable=True
    )
    router_id: Mapped[str | None] = mapped_column(
        ForeignKey("routers.id", ondelete="SET NULL"), nullable=True
    )


class AddressScope(Base):
    """An address scope: subnet pools in one scope never hand out overlapping prefixes."""

    __tablename__ = "address_scopes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    ip_version: Mapped[int] = mapped_column(Integer, nullable=False)
    shared: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class SubnetPool(Base, TimestampMixin):
    """A subnet pool: subnets asking for a prefix length get the first free block of its prefixes."""

    __tablename__ = "subnetpools"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    ip_version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The pool's CIDRs, collapsed and sorted: ["10.0.0.0/16", ...].
    prefixes: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    default_prefixlen: Mapped[int] = mapped_column(Integer, nullable=False)
    min_prefixlen: Mapped[int] = mapped_column(Integer, nullable=False)
    max_prefixlen: Mapped[int] = mapped_column(Integer, nullable=False)
    # Addresses (IPv4) or /64s (IPv6) one project may take from the pool; None is unlimited.
    default_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    address_scope_id: Mapped[str | None] = mapped_column(
        ForeignKey("address_scopes.id"), nullable=True, index=True
    )
    shared: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class Subnet(Base, TimestampMixin):
    __tablename__ = "subnets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), nullable=False, index=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    ip_version: Mapped[int] = mapped_column(Integer, nullable=False)
    cidr: Mapped[str] = mapped_column(String(64), nullable=False)
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # [{"start": ip, "end": ip}, ...], [ip, ...] and [{"destination": cidr, "nexthop": ip}, ...]
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False, default=list)
    dns_nameservers: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    host_routes: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The pool the cidr was allocated from; a pool with subnets cannot be deleted.
    subnetpool_id: Mapped[str | None] = mapped_column(ForeignKey("subnetpools.id"), nullable=True, index=True)


class Port(Base, TimestampMixin):
    __tablename__ = "ports"
    __table_args__ = (UniqueConstraint("network_id", "mac_address"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), nullable=False, index=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    mac_address: Mapped[str] = mapped_column(String(32), nullable=False)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="DOWN")
    device_id: Mapped[str] = mapped_column(String(255), nullable=False, default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    binding_host_id: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # [{"ip_address": ip or cidr, "mac_address": mac}, ...]
    allowed_address_pairs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class IPAllocation(Base):
    """An address a port holds. The primary key is (network, address): two ports can never commit one
    address on a network, whatever two API processes decided concurrently."""

    __tablename__ = "ip_allocations"

    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), primary_key=True)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id"), nullable=False, index=True)
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), nullable=False, index=True
    )


class NetworkTag(Base):
    """A standard tag on a networking resource (resource ids are UUIDs, unique across the types)."""

    __tablename__ = "network_tags"

    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)


class SecurityGroup(Base, TimestampMixin):
    __tablename__ = "security_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    stateful: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class DefaultSecurityGroup(Base):
    """A project's `default` group. The project is the primary key: of two transactions making a
    project's first default group at once, one commits and the other retries and finds it."""

    __tablename__ = "default_security_groups"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), nullable=False, unique=True
    )


class SecurityGroupRule(Base, TimestampMixin):
    __tablename__ = "security_group_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), nullable=False, index=True
    )
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)
    ethertype: Mapped[str] = mapped_column(String(4), nullable=False)
    # A name (tcp, icmp, ...) or a number as the client gave it; None is any protocol.
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    remote_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), nullable=True, index=True
    )
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class PortSecurityGroup(Base):
    __tablename__ = "port_security_groups"

    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id"), primary_key=True, index=True
    )


class Router(Base, TimestampMixin):
    """A router. Its interfaces and its gateway are ports whose device_id is the router's id
    (device_owner network:router_interface, network:router_gateway)."""

    __tablename__ = "routers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="ACTIVE")
    gateway_port_id: Mapped[str | None] = mapped_column(ForeignKey("ports.id"), nullable=True)
    enable_snat: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # [{"destination": cidr, "nexthop": ip}, ...]
    routes: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class FloatingIP(Base, TimestampMixin):
    """A floating IP: an address on an external network (held by a network:floatingip port there),
    mapped to one fixed address of one port through a router."""

    __tablename__ = "floating_ips"
    # One floating IP per fixed address of a port on each external network.
    __table_args__ = (
        UniqueConstraint(
            "floating_network_id", "fixed_port_id", "fixed_ip_address", name="uq_floating_ips_fixed_address"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    floating_network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), nullable=False, index=True)
    floating_ip_address: Mapped[str] = mapped_column(String(64), nullable=False)
    floating_port_id: Mapped[str] = mapped_column(ForeignKey("ports.id"), nullable=False, unique=True)
    fixed_port_id: Mapped[str | None] = mapped_column(ForeignKey("ports.id"), nullable=True, index=True)
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    router_id: Mapped[str | None] = mapped_column(ForeignKey("routers.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="DOWN")
    revision_number: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
