"""Which rule accepts or drops a packet at a VM's port: the firewall's rule model evaluated in Python.

It walks the chains ``drivers/linuxbridge/firewall.py`` writes, in the kernel's order, over the same
``drivers/model.py`` records the agent hands the driver, so the answer names the rule that decides:

- a packet the VM sends (its source is, or claims to be, the port's) meets the port's stateless
  anti-spoofing chain (bridge prerouting), then conntrack (established and related pass), then the
  DHCP request rule, the egress rules of the port's groups, then the port's default drop;
- a packet to the VM meets conntrack, the DHCP answer rule, the ingress rules of the port's groups, and
  the default drop.

A port without port security has no chain at all. IPv6 rules are skipped as the firewall skips them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from overcast.network.drivers.base import NetworkDriverError
from overcast.network.drivers.linuxbridge.firewall import PORTED_PROTOCOLS, PROTOCOL_NUMBERS
from overcast.network.drivers.model import Port, SecurityGroup, SecurityGroupRule

Verdict = Literal["accept", "drop"]
Protocol = Literal["tcp", "udp", "icmp"]
ECHO_REQUEST = 8
DHCP_SERVER_PORT, DHCP_CLIENT_PORT = 67, 68


class TraceError(NetworkDriverError):
    default_message = "The packet cannot be traced."


@dataclass(frozen=True)
class Packet:
    """An IPv4 packet seen at a port; ``established`` says conntrack already knows its connection."""

    src: str
    dst: str
    protocol: Protocol
    dport: int | None = None
    sport: int | None = None
    icmp_type: int = ECHO_REQUEST
    icmp_code: int = 0
    established: bool = False


@dataclass(frozen=True)
class Decision:
    """What decided: ``stage`` is port-security, anti-spoofing, conntrack, dhcp, security-group or
    default-drop; a security group rule names its id, its group and the match the firewall writes."""

    verdict: Verdict
    stage: str
    direction: str
    reason: str
    rule_id: str | None = None
    security_group_id: str | None = None
    match: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def trace(port: Port, groups: Iterable[SecurityGroup], packet: Packet) -> Decision:
    """The verdict on ``packet`` at ``port``: egress if its destination is not one of the port's
    addresses (so a forged source meets the anti-spoofing chain), else ingress."""
    _validate(packet)
    direction = "ingress" if packet.dst in _port_addresses(port) else "egress"
    if not port.port_security_enabled:
        return Decision("accept", "port-security", direction, "port security is off: the port has no filter")
    if direction == "egress":
        spoofed = _anti_spoofing(port, packet)
        if spoofed is not None:
            return spoofed
    if packet.established:
        return Decision("accept", "conntrack", direction, "ct state established,related accept")
    if _is_dhcp(packet, direction):
        return Decision("accept", "dhcp", direction, _DHCP_REASONS[direction])
    by_id = {group.id: group for group in groups}
    for group_id in port.security_group_ids:
        group = by_id.get(group_id)
        if group is None:
            raise TraceError(f"Security group {group_id} of port {port.id} is not in the rule set.")
        for rule in group.rules:
            if rule_matches(rule, direction, packet, by_id):
                return Decision(
                    "accept",
                    "security-group",
                    direction,
                    f"rule {rule.id} of security group {group.id} accepts it",
                    rule_id=rule.id,
                    security_group_id=group.id,
                    match=describe_rule(rule),
                )
    groups_named = ", ".join(port.security_group_ids) or "none"
    return Decision(
        "drop",
        "default-drop",
        direction,
        f"no {direction} rule of the port's groups ({groups_named}) matches",
    )


def _validate(packet: Packet) -> None:
    for address in (packet.src, packet.dst):
        try:
            if ipaddress.ip_address(address).version != 4:
                raise TraceError(f"{address} is not IPv4: the firewall filters IPv4 only.")
        except ValueError as error:
            raise TraceError(f"{address} is not an IP address.") from error
    if packet.protocol in ("tcp", "udp") and packet.dport is None:
        raise TraceError(f"A {packet.protocol} packet needs a destination port (--dport).")


def _port_addresses(port: Port) -> set[str]:
    return {fixed.ip_address for fixed in port.fixed_ips}


def _anti_spoofing(port: Port, packet: Packet) -> Decision | None:
    """The port's spoof chain for an IPv4 packet from its own MAC: a drop, or None if it passes on to
    the inet table (its accepts are the bridge table's only)."""
    if packet.protocol == "udp" and packet.sport == DHCP_SERVER_PORT:
        return Decision(
            "drop", "anti-spoofing", "egress", "udp sport 67 drop: no DHCP server behind a VM port"
        )
    if (
        packet.src == "0.0.0.0"
        and packet.dst == "255.255.255.255"
        and packet.protocol == "udp"
        and packet.sport == DHCP_CLIENT_PORT
        and packet.dport == DHCP_SERVER_PORT
    ):
        # The bridge table's accept ends only that table: the inet table's port chain still decides.
        return None
    source = ipaddress.ip_address(packet.src)
    allowed = [ipaddress.ip_network(address) for address in _port_addresses(port) if ":" not in address]
    allowed += [
        ipaddress.ip_network(pair.ip_address, strict=False)
        for pair in port.allowed_address_pairs
        if ":" not in pair.ip_address
    ]
    if not any(source in network for network in allowed):
        held = ", ".join(sorted(str(network) for network in allowed)) or "none"
        return Decision(
            "drop",
            "anti-spoofing",
            "egress",
            f"source {packet.src} is none of the port's addresses ({held}): the spoof chain drops it",
        )
    return None


_DHCP_REASONS = {
    "ingress": "udp sport 67 udp dport 68 accept: the network's DHCP server answers, whatever the groups say",
    "egress": "udp sport 68 udp dport 67 accept: the port asks for its address, whatever the groups say",
}


def _is_dhcp(packet: Packet, direction: str) -> bool:
    """DHCP passes the port's chains before its groups (Neutron's behaviour): answers in, requests out."""
    client, server = DHCP_CLIENT_PORT, DHCP_SERVER_PORT
    ports = (server, client) if direction == "ingress" else (client, server)
    return packet.protocol == "udp" and (packet.sport, packet.dport) == ports


def rule_matches(
    rule: SecurityGroupRule, direction: str, packet: Packet, groups: dict[str, SecurityGroup]
) -> bool:
    """Whether ``rule`` matches as its nftables match would (``firewall._rule_match``)."""
    if rule.direction != direction or rule.ethertype != "IPv4":
        return False
    peer = ipaddress.ip_address(packet.src if direction == "ingress" else packet.dst)
    if rule.remote_group_id:
        remote = groups.get(rule.remote_group_id)
        members = remote.member_ips if remote is not None else frozenset()
        if str(peer) not in members:
            return False
    elif rule.remote_ip_prefix and peer not in ipaddress.ip_network(rule.remote_ip_prefix, strict=False):
        return False
    if rule.protocol is None or rule.protocol.lower() == "any":
        return True
    number = protocol_number(rule.protocol)
    if number != PROTOCOL_NUMBERS[packet.protocol]:
        return False
    if number in PORTED_PROTOCOLS and rule.port_range_min is not None:
        last = rule.port_range_max if rule.port_range_max is not None else rule.port_range_min
        return packet.dport is not None and rule.port_range_min <= packet.dport <= last
    if number == PROTOCOL_NUMBERS["icmp"] and rule.port_range_min is not None:
        # Neutron keeps an ICMP rule's type in port_range_min and its code in port_range_max.
        if packet.icmp_type != rule.port_range_min:
            return False
        return rule.port_range_max is None or packet.icmp_code == rule.port_range_max
    return True


def protocol_number(protocol: str) -> int:
    if protocol.isascii() and protocol.isdecimal():
        return int(protocol)
    if protocol.lower() not in PROTOCOL_NUMBERS:
        raise TraceError(f"Unknown protocol {protocol} in a security group rule.")
    return PROTOCOL_NUMBERS[protocol.lower()]


def describe_rule(rule: SecurityGroupRule) -> str:
    """A rule as an operator reads it: direction, protocol, ports or ICMP type, and its peer."""
    parts = [rule.direction, rule.ethertype, rule.protocol or "any protocol"]
    if rule.port_range_min is not None:
        last = rule.port_range_max if rule.port_range_max is not None else rule.port_range_min
        is_icmp = (rule.protocol or "").lower() == "icmp"
        if is_icmp:
            parts.append(
                f"type {rule.port_range_min}"
                + (f" code {rule.port_range_max}" if rule.port_range_max is not None else "")
            )
        else:
            parts.append(
                f"port {rule.port_range_min}"
                if last == rule.port_range_min
                else f"ports {rule.port_range_min}-{last}"
            )
    peer = "from" if rule.direction == "ingress" else "to"
    if rule.remote_group_id:
        parts.append(f"{peer} members of group {rule.remote_group_id}")
    else:
        parts.append(f"{peer} {rule.remote_ip_prefix or 'anywhere'}")
    return " ".join(parts)
