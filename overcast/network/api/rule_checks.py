"""What makes a security group rule valid (Neutron's checks): direction, ethertype, protocol by name or
number, port ranges or ICMP type and code, and one remote (a prefix or a group) of the rule's family."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from overcast.network.api.errors import InvalidInput

DIRECTIONS = ("ingress", "egress")
ETHERTYPES = ("IPv4", "IPv6")
# IANA protocol names Neutron accepts, with their numbers.
PROTOCOL_NUMBERS: dict[str, int] = {
    "hopopt": 0,
    "icmp": 1,
    "igmp": 2,
    "ipip": 4,
    "tcp": 6,
    "egp": 8,
    "udp": 17,
    "ipv6-encap": 41,
    "ipv6-route": 43,
    "ipv6-frag": 44,
    "rsvp": 46,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "ipv6-icmp": 58,
    "icmpv6": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
    "ospf": 89,
    "pgm": 113,
    "vrrp": 112,
    "sctp": 132,
    "udplite": 136,
    "dccp": 33,
}
# Protocols whose rules name ports (a range) and those whose rules name an ICMP type and code.
PORT_PROTOCOLS = frozenset({6, 17, 33, 132, 136})
ICMP_PROTOCOLS = frozenset({1, 58})
ICMPV6 = 58
ANY = ("any", "")
HIGHEST_PORT = 65535
HIGHEST_ICMP_VALUE = 255


@dataclass(frozen=True)
class Rule:
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None

    def same_as(self, other: Rule) -> bool:
        return _number(self.protocol) == _number(other.protocol) and (
            (
                self.direction,
                self.ethertype,
                self.port_range_min,
                self.port_range_max,
                self.remote_ip_prefix,
                self.remote_group_id,
            )
            == (
                other.direction,
                other.ethertype,
                other.port_range_min,
                other.port_range_max,
                other.remote_ip_prefix,
                other.remote_group_id,
            )
        )


def _number(protocol: str | None) -> int | None:
    if protocol is None:
        return None
    return PROTOCOL_NUMBERS[protocol] if protocol in PROTOCOL_NUMBERS else int(protocol)


def _protocol(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.lower() in ANY):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        name = value.lower()
        if name in PROTOCOL_NUMBERS:
            return name
        if name.isascii() and name.isdigit() and int(name) <= 255:
            return str(int(name))
    raise InvalidInput(
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"[{', '.join(sorted(set(PROTOCOL_NUMBERS)))}] and integer representations [0 to 255] are supported."
    )


def _port(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"Invalid value for {name}: {value!r}.")
    text = str(value)
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"Invalid value for {name}: {value!r}.")
    return int(text)


def _ports(number: int | None, low: int | None, high: int | None) -> tuple[int | None, int | None]:
    if low is None and high is None:
        return None, None
    if number is None:
        raise InvalidInput("Must also specify protocol if port range is given.")
    if number in ICMP_PROTOCOLS:
        for label, value in (("type", low), ("code", high)):
            if value is not None and value > HIGHEST_ICMP_VALUE:
                raise InvalidInput(
                    f"Invalid value for ICMP {label} {value}: it must be 0 to {HIGHEST_ICMP_VALUE}."
                )
        if low is None:
            raise InvalidInput(
                f"ICMP code (port-range-max) {high} is provided but ICMP type (port-range-min) is missing."
            )
        return low, high
    if number not in PORT_PROTOCOLS:
        raise InvalidInput(
            f"Invalid protocol {number} for port range, only supported for TCP, UDP, UDPLITE, SCTP and DCCP."
        )
    if low is None or high is None:
        raise InvalidInput("For TCP/UDP protocols, port_range_min and port_range_max must both be given.")
    for value in (low, high):
        if not 1 <= value <= HIGHEST_PORT:
            raise InvalidInput(f"Invalid value for port {value}")
    if low > high:
        raise InvalidInput("For TCP/UDP protocols, port_range_min must be <= port_range_max")
    return low, high


def _prefix(ethertype: str, value: Any) -> str | None:
    if value is None:
        return None
    try:
        network = ipaddress.ip_network(value, strict=False) if isinstance(value, str) else None
    except ValueError:
        network = None
    if network is None:
        raise InvalidInput(f"'{value}' is not a valid IP subnet.")
    if f"IPv{network.version}" != ethertype:
        raise InvalidInput(f"Conflicting value ethertype {ethertype} for CIDR {value}")
    return str(network)


def checked(attrs: Mapping[str, Any]) -> Rule:
    direction = attrs.get("direction")
    if direction not in DIRECTIONS:
        raise InvalidInput(f"'{direction}' is not in ['ingress', 'egress']")
    ethertype = attrs.get("ethertype") or "IPv4"
    if ethertype not in ETHERTYPES and str(ethertype).lower() in ("ipv4", "ipv6"):
        ethertype = "IPv" + str(ethertype)[-1]
    if ethertype not in ETHERTYPES:
        raise InvalidInput(f"Invalid ethertype {ethertype} for protocol: use IPv4 or IPv6.")
    protocol = _protocol(attrs.get("protocol"))
    number = _number(protocol)
    if number == ICMPV6 and ethertype == "IPv4":
        raise InvalidInput(f"Ethertype IPv4 is not supported for protocol {protocol}.")
    low, high = _ports(
        number,
        _port("port_range_min", attrs.get("port_range_min")),
        _port("port_range_max", attrs.get("port_range_max")),
    )
    if attrs.get("remote_ip_prefix") is not None and attrs.get("remote_group_id") is not None:
        raise InvalidInput("Only remote_ip_prefix or remote_group_id may be provided.")
    return Rule(
        direction=str(direction),
        ethertype=str(ethertype),
        protocol=protocol,
        port_range_min=low,
        port_range_max=high,
        remote_ip_prefix=_prefix(str(ethertype), attrs.get("remote_ip_prefix")),
        remote_group_id=attrs.get("remote_group_id"),
    )
