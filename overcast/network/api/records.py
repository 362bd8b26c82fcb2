"""Rows as Neutron represents them: the attributes of each resource, with what the caller may not see
left out (provider attributes and bindings are an admin's)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.models.network import (
    AddressScope,
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    SubnetPool,
)
from overcast.db.value_sets import in_values
from overcast.network import policies
from overcast.network.api import rule_checks, tags

Record = dict[str, Any]


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Standard = Network | Subnet | Port | SecurityGroup | SecurityGroupRule | Router | FloatingIP | SubnetPool


def _standard(row: Standard, tag_list: list[str]) -> Record:
    return {
        "tenant_id": row.project_id,
        "project_id": row.project_id,
        "tags": tag_list,
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
        "revision_number": row.revision_number,
    }


def network_records(session: Session, ctxt: RequestContext, networks: Sequence[Network]) -> list[Record]:
    ids = [network.id for network in networks]
    subnets: dict[str, list[str]] = {network_id: [] for network_id in ids}
    # The address scope of the pool a network's IPv4 subnets came from (one pool per network and version).
    scopes: dict[str, str | None] = dict.fromkeys(ids)
    if ids:
        query = select(Subnet.network_id, Subnet.id).where(Subnet.network_id.in_(ids)).order_by(Subnet.id)
        for network_id, subnet_id in session.execute(query):
            subnets[network_id].append(subnet_id)
        scoped = (
            select(Subnet.network_id, SubnetPool.address_scope_id)
            .join(SubnetPool, SubnetPool.id == Subnet.subnetpool_id)
            .where(Subnet.network_id.in_(ids), Subnet.ip_version == 4)
        )
        for network_id, scope_id in session.execute(scoped):
            scopes[network_id] = scope_id
    tag_lists = tags.tags_of(session, ids)
    shown = {
        attribute: policy.authorize(ctxt, policies.attribute_rule(policies.GET_NETWORK, attribute))
        for attribute in policies.PROVIDER_ATTRIBUTES
    }
    records = []
    for network in networks:
        record = {
            "id": network.id,
            "name": network.name,
            "description": network.description,
            "admin_state_up": network.admin_state_up,
            "status": network.status,
            "shared": network.shared,
            "router:external": network.external,
            "is_default": network.is_default,
            "subnets": subnets[network.id],
            "mtu": network.mtu,
            "port_security_enabled": network.port_security_enabled,
            "ipv4_address_scope": scopes[network.id],
            # Subnets are IPv4 only.
            "ipv6_address_scope": None,
            **_standard(network, tag_lists[network.id]),
        }
        provider = {
            "provider:network_type": network.network_type,
            "provider:physical_network": network.physical_network,
            "provider:segmentation_id": network.segmentation_id,
        }
        record.update({name: value for name, value in provider.items() if shown[name]})
        records.append(record)
    return records


def subnet_records(session: Session, subnets: Sequence[Subnet]) -> list[Record]:
    tag_lists = tags.tags_of(session, [subnet.id for subnet in subnets])
    return [
        {
            "id": subnet.id,
            "name": subnet.name,
            "description": subnet.description,
            "network_id": subnet.network_id,
            "ip_version": subnet.ip_version,
            "cidr": subnet.cidr,
            "gateway_ip": subnet.gateway_ip,
            "enable_dhcp": subnet.enable_dhcp,
            "allocation_pools": list(subnet.allocation_pools),
            "dns_nameservers": list(subnet.dns_nameservers),
            "host_routes": list(subnet.host_routes),
            "ipv6_ra_mode": None,
            "ipv6_address_mode": None,
            "subnetpool_id": subnet.subnetpool_id,
            **_standard(subnet, tag_lists[subnet.id]),
        }
        for subnet in subnets
    ]


def fixed_ips_of(session: Session, port_ids: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    ids = list(port_ids)
    found: dict[str, list[dict[str, str]]] = {port_id: [] for port_id in ids}
    if ids:
        query = select(IPAllocation).where(IPAllocation.port_id.in_(ids))
        for allocation in session.scalars(query):
            found[allocation.port_id].append(
                {"subnet_id": allocation.subnet_id, "ip_address": allocation.ip_address}
            )
    for addresses in found.values():
        addresses.sort(key=lambda fixed_ip: (fixed_ip["subnet_id"], _address_key(fixed_ip["ip_address"])))
    return found


def _address_key(address: str) -> tuple[int, ...]:
    return tuple(int(part) for part in address.split("."))


def port_records(session: Session, ctxt: RequestContext, ports: Sequence[Port]) -> list[Record]:
    ids = [port.id for port in ports]
    fixed_ips = fixed_ips_of(session, ids)
    groups: dict[str, list[str]] = {port_id: [] for port_id in ids}
    if ids:
        query = select(PortSecurityGroup).where(PortSecurityGroup.port_id.in_(ids))
        for binding in session.scalars(query.order_by(PortSecurityGroup.security_group_id)):
            groups[binding.port_id].append(binding.security_group_id)
    tag_lists = tags.tags_of(session, ids)
    binding_shown = policy.authorize(ctxt, policies.GET_PORT_BINDING)
    records = []
    for port in ports:
        record = {
            "id": port.id,
            "name": port.name,
            "description": port.description,
            "network_id": port.network_id,
            "mac_address": port.mac_address,
            "admin_state_up": port.admin_state_up,
            "status": port.status,
            "device_id": port.device_id,
            "device_owner": port.device_owner,
            "fixed_ips": fixed_ips[port.id],
            "allowed_address_pairs": list(port.allowed_address_pairs),
            "port_security_enabled": port.port_security_enabled,
            "security_groups": groups[port.id],
            "binding:vnic_type": "normal",
            **_standard(port, tag_lists[port.id]),
        }
        if binding_shown:
            record.update(
                {
                    "binding:host_id": port.binding_host_id,
                    "binding:profile": {},
                    "binding:vif_details": {},
                    "binding:vif_type": "unbound",
                }
            )
        records.append(record)
    return records


def rule_of(row: SecurityGroupRule) -> rule_checks.Rule:
    return rule_checks.Rule(
        row.direction,
        row.ethertype,
        row.protocol,
        row.port_range_min,
        row.port_range_max,
        row.remote_ip_prefix,
        row.remote_group_id,
    )


def rule_records(rules: Sequence[SecurityGroupRule]) -> list[Record]:
    return [
        {
            "id": rule.id,
            "security_group_id": rule.security_group_id,
            "direction": rule.direction,
            "ethertype": rule.ethertype,
            "protocol": rule.protocol,
            "port_range_min": rule.port_range_min,
            "port_range_max": rule.port_range_max,
            "remote_ip_prefix": rule.remote_ip_prefix,
            "remote_group_id": rule.remote_group_id,
            "description": rule.description,
            **_standard(rule, []),
        }
        for rule in rules
    ]


def security_group_records(session: Session, groups: Sequence[SecurityGroup]) -> list[Record]:
    ids = [group.id for group in groups]
    rules: dict[str, list[SecurityGroupRule]] = {group_id: [] for group_id in ids}
    if ids:
        query = select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(ids))
        for rule in session.scalars(query.order_by(SecurityGroupRule.created_at, SecurityGroupRule.id)):
            rules[rule.security_group_id].append(rule)
    tag_lists = tags.tags_of(session, ids)
    return [
        {
            "id": group.id,
            "name": group.name,
            "description": group.description,
            "stateful": group.stateful,
            "security_group_rules": rule_records(rules[group.id]),
            **_standard(group, tag_lists[group.id]),
        }
        for group in groups
    ]


def router_records(session: Session, routers: Sequence[Router]) -> list[Record]:
    tag_lists = tags.tags_of(session, [router.id for router in routers])
    gateway_ports = [router.gateway_port_id for router in routers if router.gateway_port_id]
    gateways = {port.id: port for port in session.scalars(select(Port).where(Port.id.in_(gateway_ports)))}
    addresses = fixed_ips_of(session, gateways)
    result = []
    for router in routers:
        gateway = gateways.get(router.gateway_port_id or "")
        info = (
            None
            if gateway is None
            else {
                "network_id": gateway.network_id,
                "enable_snat": router.enable_snat,
                "external_fixed_ips": addresses[gateway.id],
            }
        )
        result.append(
            {
                "id": router.id,
                "name": router.name,
                "description": router.description,
                "admin_state_up": router.admin_state_up,
                "status": router.status,
                "external_gateway_info": info,
                "routes": list(router.routes),
                **_standard(router, tag_lists[router.id]),
            }
        )
    return result


def port_details(port: Port | None) -> Record | None:
    """Neutron's fip-port-details: what a floating IP's user wants to know of the port it is mapped to."""
    if port is None:
        return None
    return {
        "name": port.name,
        "network_id": port.network_id,
        "mac_address": port.mac_address,
        "admin_state_up": port.admin_state_up,
        "status": port.status,
        "device_id": port.device_id,
        "device_owner": port.device_owner,
    }


def floating_ip_records(session: Session, floating_ips: Sequence[FloatingIP]) -> list[Record]:
    tag_lists = tags.tags_of(session, [floating_ip.id for floating_ip in floating_ips])
    port_ids = {fip.fixed_port_id for fip in floating_ips if fip.fixed_port_id is not None}
    # Many listings have no associated address at all: then no port query.
    found = session.scalars(select(Port).where(in_values(session, Port.id, port_ids))) if port_ids else ()
    ports = {port.id: port for port in found}
    return [
        {
            "id": fip.id,
            "description": fip.description,
            "floating_network_id": fip.floating_network_id,
            "floating_ip_address": fip.floating_ip_address,
            "port_id": fip.fixed_port_id,
            "fixed_ip_address": fip.fixed_ip_address,
            "router_id": fip.router_id,
            "status": fip.status,
            "port_details": port_details(ports.get(fip.fixed_port_id or "")),
            **_standard(fip, tag_lists[fip.id]),
        }
        for fip in floating_ips
    ]


def address_scope_records(scopes: Sequence[AddressScope]) -> list[Record]:
    """Neutron's address scopes carry no standard attributes (no description, revision or timestamps)."""
    return [
        {
            "id": scope.id,
            "name": scope.name,
            "ip_version": scope.ip_version,
            "shared": scope.shared,
            "tenant_id": scope.project_id,
            "project_id": scope.project_id,
        }
        for scope in scopes
    ]


def subnetpool_records(session: Session, pools: Sequence[SubnetPool]) -> list[Record]:
    tag_lists = tags.tags_of(session, [pool.id for pool in pools])
    return [
        {
            "id": pool.id,
            "name": pool.name,
            "description": pool.description,
            "ip_version": pool.ip_version,
            "prefixes": list(pool.prefixes),
            "default_prefixlen": pool.default_prefixlen,
            "min_prefixlen": pool.min_prefixlen,
            "max_prefixlen": pool.max_prefixlen,
            "default_quota": pool.default_quota,
            "address_scope_id": pool.address_scope_id,
            "shared": pool.shared,
            "is_default": pool.is_default,
            **_standard(pool, tag_lists[pool.id]),
        }
        for pool in pools
    ]
