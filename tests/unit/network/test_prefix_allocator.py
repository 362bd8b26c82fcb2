"""Subnet pool prefix arithmetic: parsing, bounds, first-fit allocation, overlap and quota units."""

from __future__ import annotations

import ipaddress

import pytest

from overcast.network.api import prefix_allocator
from overcast.network.api.errors import (
    EmptySubnetPoolPrefixList,
    IllegalSubnetPoolPrefixBounds,
    InvalidInput,
    MaxPrefixSubnetAllocationError,
    MinPrefixSubnetAllocationError,
    PrefixVersionMismatch,
)
from overcast.network.api.prefix_allocator import Bounds


def nets(*texts: str) -> list[prefix_allocator.Prefix]:
    return [ipaddress.ip_network(text) for text in texts]


def test_prefixes_are_collapsed_sorted_and_of_one_version() -> None:
    version, prefixes = prefix_allocator.parse_prefixes(["10.1.0.0/24", "10.0.0.0/24", "10.0.1.0/24"])
    assert version == 4
    assert [str(prefix) for prefix in prefixes] == ["10.0.0.0/23", "10.1.0.0/24"]
    assert prefix_allocator.parse_prefixes(["2001:db8::/48"])[0] == 6
    with pytest.raises(PrefixVersionMismatch):
        prefix_allocator.parse_prefixes(["10.0.0.0/24", "2001:db8::/64"])
    with pytest.raises(EmptySubnetPoolPrefixList):
        prefix_allocator.parse_prefixes([])


@pytest.mark.parametrize("text", ["10.0.0.1/24", "10.0.0.0", "nonsense/8", 7, "10.0.0.0/33"])
def test_a_prefix_is_a_canonical_cidr(text: object) -> None:
    with pytest.raises(InvalidInput):
        prefix_allocator.parse_prefix(text)


def test_bounds_default_as_neutron_and_refuse_inverted_ones() -> None:
    assert Bounds.checked(4, None, None, None) == Bounds(8, 32, 8)
    assert Bounds.checked(6, None, None, None) == Bounds(64, 128, 64)
    assert Bounds.checked(4, 16, 28, 24) == Bounds(16, 28, 24)
    with pytest.raises(IllegalSubnetPoolPrefixBounds, match="max_prefixlen=33, ip_version_max=32"):
        Bounds.checked(4, None, 33, None)
    with pytest.raises(IllegalSubnetPoolPrefixBounds, match="min_prefixlen=28, max_prefixlen=24"):
        Bounds.checked(4, 28, 24, None)
    with pytest.raises(IllegalSubnetPoolPrefixBounds, match="default_prefixlen=8, min_prefixlen=16"):
        Bounds.checked(4, 16, 24, 8)
    with pytest.raises(IllegalSubnetPoolPrefixBounds, match="default_prefixlen=30, max_prefixlen=28"):
        Bounds.checked(4, 16, 28, 30)


def test_a_prefix_length_outside_the_bounds_is_refused() -> None:
    bounds = Bounds(20, 28, 24)
    bounds.check(20)
    bounds.check(28)
    with pytest.raises(MinPrefixSubnetAllocationError, match="minimum allowed prefix is 20"):
        bounds.check(16)
    with pytest.raises(MaxPrefixSubnetAllocationError, match="maximum allowed prefix is 28"):
        bounds.check(29)


def test_first_free_takes_the_lowest_aligned_block_around_taken_ones() -> None:
    pool = nets("10.100.0.0/24", "10.101.0.0/24")
    assert prefix_allocator.first_free(pool, [], 28) == ipaddress.ip_network("10.100.0.0/28")
    taken = nets("10.100.0.0/28", "10.100.0.32/28")
    assert prefix_allocator.first_free(pool, taken, 28) == ipaddress.ip_network("10.100.0.16/28")
    # A /26 must be aligned: the first one not overlapping the taken /28s.
    assert prefix_allocator.first_free(pool, taken, 26) == ipaddress.ip_network("10.100.0.64/26")
    # A whole /24 only fits in the untouched second prefix.
    assert prefix_allocator.first_free(pool, taken, 24) == ipaddress.ip_network("10.101.0.0/24")


def test_nested_and_unaligned_taken_cidrs_are_stepped_over() -> None:
    pool = nets("10.0.0.0/22")
    # A /24 with a /28 inside it (a subnet left over from before a prefix was re-added), then a /30.
    taken = nets("10.0.0.16/28", "10.0.0.0/24", "10.0.1.4/30")
    assert prefix_allocator.first_free(pool, taken, 28) == ipaddress.ip_network("10.0.1.16/28")
    assert prefix_allocator.first_free(pool, taken, 30) == ipaddress.ip_network("10.0.1.0/30")
    assert prefix_allocator.first_free(pool, taken, 23) == ipaddress.ip_network("10.0.2.0/23")
    assert prefix_allocator.first_free(pool, taken, 22) is None


def test_first_free_matches_a_search_of_every_block() -> None:
    pool = nets("10.0.0.0/24", "10.0.4.0/23")
    taken = nets("10.0.0.0/26", "10.0.0.96/27", "10.0.4.0/25", "10.0.4.200/29")
    for length in range(22, 31):
        every = [
            block
            for prefix in pool
            if prefix.prefixlen <= length
            for block in prefix.subnets(new_prefix=length)
            if not any(block.overlaps(used) for used in taken)
        ]
        assert prefix_allocator.first_free(pool, taken, length) == min(every, default=None), length


def test_an_exhausted_pool_has_nothing_free() -> None:
    pool = nets("10.0.0.0/27")
    taken = nets("10.0.0.0/28")
    assert prefix_allocator.first_free(pool, taken, 28) == ipaddress.ip_network("10.0.0.16/28")
    assert prefix_allocator.first_free(pool, [*taken, *nets("10.0.0.16/28")], 28) is None
    # Bigger than any prefix of the pool.
    assert prefix_allocator.first_free(pool, [], 26) is None


def test_ipv6_pools_allocate_too() -> None:
    pool = nets("2001:db8::/56")
    first = prefix_allocator.first_free(pool, [], 64)
    assert first == ipaddress.ip_network("2001:db8::/64")
    assert prefix_allocator.first_free(pool, [first], 64) == ipaddress.ip_network("2001:db8:0:1::/64")
    # IPv4 subnets never count against an IPv6 pool.
    assert prefix_allocator.first_free(pool, nets("10.0.0.0/8"), 64) == first


def test_a_named_cidr_is_free_only_inside_the_pool_and_clear_of_taken_ones() -> None:
    pool = nets("10.0.0.0/24")
    taken = nets("10.0.0.0/28")
    assert prefix_allocator.is_free(pool, taken, ipaddress.ip_network("10.0.0.16/28"))
    assert not prefix_allocator.is_free(pool, taken, ipaddress.ip_network("10.0.0.0/27"))
    assert not prefix_allocator.is_free(pool, taken, ipaddress.ip_network("10.0.1.0/28"))
    assert not prefix_allocator.is_free(pool, taken, ipaddress.ip_network("10.0.0.0/23"))


def test_overlap_quota_units_and_removal() -> None:
    assert prefix_allocator.overlapping(nets("10.0.0.0/16"), nets("10.0.5.0/24"))
    assert not prefix_allocator.overlapping(nets("10.0.0.0/16"), nets("10.1.0.0/16", "2001:db8::/32"))
    assert prefix_allocator.quota_units(ipaddress.ip_network("10.0.0.0/24")) == 256
    assert prefix_allocator.quota_units(ipaddress.ip_network("2001:db8::/60")) == 16
    assert prefix_allocator.quota_units(ipaddress.ip_network("2001:db8::/80")) == 0
    remaining = prefix_allocator.without(nets("10.0.0.0/23"), nets("10.0.1.0/24"))
    assert remaining == nets("10.0.0.0/24")
    assert prefix_allocator.without(nets("10.0.0.0/24"), nets("10.0.0.0/16")) == []
