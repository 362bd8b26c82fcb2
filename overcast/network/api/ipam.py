"""Address arithmetic for subnets and ports (IPv4): no database here, only what is valid and what is free.

A subnet's hosts are its addresses but the network and broadcast ones. Its gateway is never in an
allocation pool, so no port is ever given it; the DHCP port takes the first free pool address like
any other port (see `subnets.py`).
"""

from __future__ import annotations

import ipaddress
import itertools
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from overcast.network.api.errors import (
    GatewayConflictWithAllocationPools,
    InvalidInput,
    OverlappingAllocationPools,
)

IPv4 = ipaddress.IPv4Address
# Neutron's max_dns_nameservers and max_subnet_host_routes.
MAX_DNS_NAMESERVERS = 5
MAX_HOST_ROUTES = 20
# The smallest IPv4 subnet Neutron users make: two hosts (a gateway and a DHCP port, or two ports).
LONGEST_PREFIX = 30
MAC_PATTERN = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


def parse_ip(text: Any, what: str = "ip_address") -> IPv4:
    if not isinstance(text, str):
        raise InvalidInput(f"'{text}' is not a valid IP address.")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidInput(f"'{text}' is not a valid IP address.") from None
    if not isinstance(address, IPv4):
        raise InvalidInput(f"{what} '{text}': only IPv4 is supported.")
    return address


def parse_cidr(text: Any) -> ipaddress.IPv4Network:
    """A subnet's CIDR, normalised to its network address as Neutron stores it (10.99.99.0/16 is taken as
    10.99.0.0/16); a spelling that is not address/prefix in canonical form names the one to use."""
    if not isinstance(text, str) or "/" not in text:
        raise InvalidInput(f"'{text}' is not a valid IP subnet.")
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput(f"'{text}' is not a valid IP subnet.") from None
    if not isinstance(loose, ipaddress.IPv4Network):
        raise InvalidInput(f"'{text}' is not an IPv4 subnet: only IPv4 is supported.")
    if str(ipaddress.ip_interface(text)) != text:
        raise InvalidInput(f"'{text}' isn't a recognized IP subnet cidr, '{loose}' is recommended.")
    if loose.prefixlen > LONGEST_PREFIX or loose.prefixlen < 1:
        raise InvalidInput(f"'{text}': an IPv4 subnet's prefix length must be 1 to {LONGEST_PREFIX}.")
    return loose


def parse_prefix(text: Any) -> ipaddress.IPv4Network:
    """A route destination or an allowed address: an address or a CIDR, host bits allowed to be zero only."""
    if not isinstance(text, str):
        raise InvalidInput(f"'{text}' is not a valid IP subnet.")
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise InvalidInput(f"'{text}' is not a valid IP subnet.") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise InvalidInput(f"'{text}': only IPv4 is supported.")
    return network


def hosts(cidr: ipaddress.IPv4Network) -> tuple[int, int]:
    """First and last host address of a subnet, as integers."""
    return int(cidr.network_address) + 1, int(cidr.broadcast_address) - 1


@dataclass(frozen=True)
class Pool:
    first: int
    last: int

    @classmethod
    def parse(cls, value: Any) -> Pool:
        if not isinstance(value, Mapping) or set(value) != {"start", "end"}:
            raise InvalidInput(f"Invalid allocation pool {value!r}: give exactly 'start' and 'end'.")
        first, last = parse_ip(value["start"], "start"), parse_ip(value["end"], "end")
        if first > last:
            raise InvalidInput(f"The allocation pool {first}-{last} is not valid: start is after end.")
        return cls(int(first), int(last))

    def contains(self, address: int) -> bool:
        return self.first <= address <= self.last

    def overlaps(self, other: Pool) -> bool:
        return self.first <= other.last and other.first <= self.last

    def as_dict(self) -> dict[str, str]:
        return {"start": str(IPv4(self.first)), "end": str(IPv4(self.last))}


def default_pools(cidr: ipaddress.IPv4Network, gateway: IPv4 | None) -> list[Pool]:
    """Every host address but the gateway, as one or two ranges."""
    first, last = hosts(cidr)
    if gateway is None or not first <= int(gateway) <= last:
        return [Pool(first, last)]
    pools = [Pool(first, int(gateway) - 1), Pool(int(gateway) + 1, last)]
    return [pool for pool in pools if pool.first <= pool.last]


def check_gateway(cidr: ipaddress.IPv4Network, gateway: IPv4) -> None:
    first, last = hosts(cidr)
    if not first <= int(gateway) <= last:
        raise InvalidInput(f"Gateway IP {gateway} is not a host address of subnet {cidr}.")


def check_pools(cidr: ipaddress.IPv4Network, pools: Sequence[Pool], gateway: IPv4 | None) -> None:
    first, last = hosts(cidr)
    for pool in pools:
        if pool.first < first or pool.last > last:
            raise InvalidInput(
                f"The allocation pool {pool.as_dict()['start']}-{pool.as_dict()['end']} spans beyond the "
                f"subnet cidr {cidr}."
            )
    ordered = sorted(pools, key=lambda pool: pool.first)
    for before, after in itertools.pairwise(ordered):
        if before.overlaps(after):
            raise OverlappingAllocationPools(
                f"Found overlapping allocation pools: {before.as_dict()} and {after.as_dict()} "
                f"for subnet {cidr}."
            )
    if gateway is not None and any(pool.contains(int(gateway)) for pool in pools):
        raise GatewayConflictWithAllocationPools(
            f"Gateway ip {gateway} conflicts with allocation pool {_pool_of(pools, gateway)}."
        )


def _pool_of(pools: Sequence[Pool], address: IPv4) -> str:
    pool = next(pool for pool in pools if pool.contains(int(address)))
    return f"{pool.as_dict()['start']}-{pool.as_dict()['end']}"


def stored_pools(pools: Iterable[Mapping[str, str]]) -> list[Pool]:
    return [Pool(int(IPv4(pool["start"])), int(IPv4(pool["end"]))) for pool in pools]


def first_free(pools: Sequence[Pool], taken: set[int]) -> IPv4 | None:
    """The lowest pool address nobody holds (pools in order; they never overlap)."""
    for pool in sorted(pools, key=lambda pool: pool.first):
        address = pool.first
        while address <= pool.last:
            if address not in taken:
                return IPv4(address)
            address += 1
    return None


def check_dns_nameservers(values: Any) -> list[str]:
    if not isinstance(values, list):
        raise InvalidInput(f"Invalid data format for nameserver: '{values}'")
    if len(values) > MAX_DNS_NAMESERVERS:
        raise InvalidInput(f"Number of DNS nameservers exceeds the limit {MAX_DNS_NAMESERVERS}.")
    servers = [str(parse_ip(value, "dns_nameservers")) for value in values]
    if len(set(servers)) != len(servers):
        raise InvalidInput(f"Duplicate nameserver in {values}.")
    return servers


def check_host_routes(values: Any) -> list[dict[str, str]]:
    if not isinstance(values, list):
        raise InvalidInput(f"Invalid data format for hostroute: '{values}'")
    if len(values) > MAX_HOST_ROUTES:
        raise InvalidInput(f"Number of host routes exceeds the limit {MAX_HOST_ROUTES}.")
    routes = []
    for value in values:
        if not isinstance(value, Mapping) or set(value) != {"destination", "nexthop"}:
            raise InvalidInput(f"Invalid data format for hostroute: '{value}'")
        routes.append(
            {
                "destination": str(parse_prefix(value["destination"])),
                "nexthop": str(parse_ip(value["nexthop"])),
            }
        )
    if len({tuple(route.items()) for route in routes}) != len(routes):
        raise InvalidInput(f"Duplicate hostroute in {values}.")
    return routes


def parse_mac(text: Any) -> str:
    """A unicast Ethernet address in Neutron's spelling (lower case, colons)."""
    if not isinstance(text, str):
        raise InvalidInput(f"'{text}' is not a valid MAC address")
    mac = text.lower().replace("-", ":")
    if not MAC_PATTERN.fullmatch(mac) or mac == "00:00:00:00:00:00" or int(mac[:2], 16) & 1:
        raise InvalidInput(f"'{text}' is not a valid MAC address")
    return mac


def generate_mac(base_mac: str, rng: random.Random) -> str:
    """The base's first three bytes and three random ones (Neutron's base_mac)."""
    prefix = parse_mac(base_mac).split(":")[:3]
    return ":".join([*prefix, *(f"{rng.randrange(256):02x}" for _ in range(3))])
