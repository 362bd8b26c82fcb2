"""Prefix arithmetic for subnet pools (IPv4 and IPv6): no database here, only what is valid and what is free.

A pool's prefixes are kept collapsed and sorted. A subnet asking for a prefix length gets the first free,
aligned block of that size in address order: the pool's prefixes less the subnets already allocated
from it. Quotas count IPv4 addresses and IPv6 /64s, as Neutron's default_quota does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from overcast.network.api.errors import (
    EmptySubnetPoolPrefixList,
    IllegalSubnetPoolPrefixBounds,
    InvalidInput,
    MaxPrefixSubnetAllocationError,
    MinPrefixSubnetAllocationError,
    PrefixVersionMismatch,
)

Prefix = ipaddress.IPv4Network | ipaddress.IPv6Network
# Per IP version: the longest prefix, the default min_prefixlen, and the prefix length quotas count in.
MAX_PREFIXLEN = {4: 32, 6: 128}
DEFAULT_MIN_PREFIXLEN = {4: 8, 6: 64}
QUOTA_UNIT_PREFIXLEN = {4: 32, 6: 64}


def parse_prefix(text: Any) -> Prefix:
    """A CIDR in canonical form (its network address, as Neutron requires of subnet lists)."""
    if not isinstance(text, str) or "/" not in text:
        raise InvalidInput(f"'{text}' is not a valid IP subnet.")
    try:
        prefix = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidInput(f"'{text}' is not a valid IP subnet.") from None
    if ipaddress.ip_interface(text).ip != prefix.network_address:
        raise InvalidInput(f"'{text}' isn't a recognized IP subnet cidr, '{prefix}' is recommended.")
    return prefix


def collapse(prefixes: Iterable[Prefix]) -> list[Prefix]:
    """Merged and sorted: overlapping or adjacent prefixes become one."""
    listed = list(prefixes)
    if not listed:
        return []
    return sorted(ipaddress.collapse_addresses(listed))  # type: ignore[arg-type, type-var]


def parse_prefixes(given: Any) -> tuple[int, list[Prefix]]:
    """A pool's prefixes: its IP version and the prefixes collapsed."""
    if not isinstance(given, list):
        raise InvalidInput(f"'{given}' is not a list of IP subnets.")
    if not given:
        raise EmptySubnetPoolPrefixList("Empty subnet pool prefix list.")
    prefixes = [parse_prefix(text) for text in given]
    versions = {prefix.version for prefix in prefixes}
    if len(versions) > 1:
        raise PrefixVersionMismatch("Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
    return versions.pop(), collapse(prefixes)


def stored(prefixes: Sequence[str]) -> list[Prefix]:
    return [ipaddress.ip_network(text) for text in prefixes]


def prefix_length(value: Any, name: str) -> int:
    """A non-negative integer; Neutron converts numeric strings too."""
    if isinstance(value, bool):
        raise InvalidInput(f"Invalid input for {name}. Reason: '{value}' is not an integer.")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise InvalidInput(f"Invalid input for {name}. Reason: '{value}' should be non-negative.")
    return value


@dataclass(frozen=True)
class Bounds:
    """The prefix lengths a pool hands out, and the one a subnet gets when it names none."""

    min_prefixlen: int
    max_prefixlen: int
    default_prefixlen: int

    @classmethod
    def checked(
        cls, ip_version: int, minimum: int | None, maximum: int | None, default: int | None
    ) -> Bounds:
        """Missing values take Neutron's defaults (8 or 64, the version's longest, and min_prefixlen)."""
        longest = MAX_PREFIXLEN[ip_version]
        max_prefixlen = longest if maximum is None else maximum
        min_prefixlen = DEFAULT_MIN_PREFIXLEN[ip_version] if minimum is None else minimum
        default_prefixlen = min_prefixlen if default is None else default
        if max_prefixlen > longest:
            raise _illegal("max_prefixlen", max_prefixlen, "ip_version_max", longest)
        if min_prefixlen > max_prefixlen:
            raise _illegal("min_prefixlen", min_prefixlen, "max_prefixlen", max_prefixlen)
        if default_prefixlen < min_prefixlen:
            raise _illegal("default_prefixlen", default_prefixlen, "min_prefixlen", min_prefixlen)
        if default_prefixlen > max_prefixlen:
            raise _illegal("default_prefixlen", default_prefixlen, "max_prefixlen", max_prefixlen)
        return cls(min_prefixlen, max_prefixlen, default_prefixlen)

    def check(self, prefixlen: int) -> None:
        """A subnet's prefix length must lie within the pool's bounds."""
        if prefixlen < self.min_prefixlen:
            raise MinPrefixSubnetAllocationError(
                f"Unable to allocate subnet with prefix length {prefixlen}, minimum allowed prefix is "
                f"{self.min_prefixlen}."
            )
        if prefixlen > self.max_prefixlen:
            raise MaxPrefixSubnetAllocationError(
                f"Unable to allocate subnet with prefix length {prefixlen}, maximum allowed prefix is "
                f"{self.max_prefixlen}."
            )


def _illegal(kind: str, value: int, base_kind: str, base: int) -> IllegalSubnetPoolPrefixBounds:
    return IllegalSubnetPoolPrefixBounds(f"Illegal prefix bounds: {kind}={value}, {base_kind}={base}.")


def free_blocks(prefix: Prefix, taken: Iterable[Prefix]) -> list[Prefix]:
    """What of `prefix` no taken CIDR overlaps, as aligned blocks in address order."""
    blocks: list[Prefix] = [prefix]
    for used in taken:
        if used.version != prefix.version:
            continue
        remaining: list[Prefix] = []
        for block in blocks:
            if not block.overlaps(used):
                remaining.append(block)
            elif used.prefixlen > block.prefixlen:
                remaining.extend(block.address_exclude(used))  # type: ignore[arg-type]
            # else the taken CIDR covers the whole block
        blocks = remaining
    return sorted(blocks)  # type: ignore[type-var]


def first_free(prefixes: Sequence[Prefix], taken: Sequence[Prefix], prefixlen: int) -> Prefix | None:
    """The lowest free block of `prefixlen` in the pool, or None when the pool has no room for one.

    One sweep over the taken CIDRs in address order per prefix: a candidate that overlaps one moves past
    it to the next aligned block, so a pool with thousands of subnets costs a sort, not a search."""
    for prefix in sorted(prefixes, key=lambda prefix: (prefix.version, int(prefix.network_address))):
        if prefix.prefixlen > prefixlen or prefixlen > prefix.max_prefixlen:
            continue
        size = 2 ** (prefix.max_prefixlen - prefixlen)
        last = int(prefix.broadcast_address)
        used = sorted(
            (int(cidr.network_address), int(cidr.broadcast_address))
            for cidr in taken
            if cidr.version == prefix.version and cidr.overlaps(prefix)  # type: ignore[arg-type]
        )
        candidate = int(prefix.network_address)
        for low, high in used:
            if candidate + size - 1 > last or low > candidate + size - 1:
                break
            if high >= candidate:
                candidate = (high // size + 1) * size
        if candidate + size - 1 <= last:
            return type(prefix)((candidate, prefixlen))
    return None


def is_free(prefixes: Sequence[Prefix], taken: Sequence[Prefix], cidr: Prefix) -> bool:
    """Whether a CIDR a client named lies inside the pool and overlaps nothing taken from it."""
    inside = any(cidr.version == prefix.version and cidr.subnet_of(prefix) for prefix in prefixes)  # type: ignore[arg-type]
    return inside and not any(cidr.overlaps(used) for used in taken if used.version == cidr.version)


def overlapping(ours: Sequence[Prefix], theirs: Sequence[Prefix]) -> bool:
    return any(a.version == b.version and a.overlaps(b) for a in ours for b in theirs)  # type: ignore[arg-type]


def quota_units(cidr: Prefix) -> int:
    """IPv4 addresses or IPv6 /64s in a CIDR (a subnet longer than /64 counts none, as Neutron's)."""
    shift = QUOTA_UNIT_PREFIXLEN[cidr.version] - cidr.prefixlen
    return 0 if shift < 0 else 2**shift


def without(prefixes: Sequence[Prefix], removed: Sequence[Prefix]) -> list[Prefix]:
    """The pool's prefixes less the removed ones (Neutron's remove_prefixes)."""
    remaining: list[Prefix] = []
    for prefix in prefixes:
        remaining.extend(free_blocks(prefix, removed))
    return collapse(remaining)
