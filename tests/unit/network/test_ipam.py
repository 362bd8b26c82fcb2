"""Address arithmetic: CIDRs, gateways, pools, routes, name servers and MACs, with Neutron's refusals."""

from __future__ import annotations

import ipaddress
import random

import pytest

from overcast.network.api import ipam
from overcast.network.api.errors import (
    GatewayConflictWithAllocationPools,
    InvalidInput,
    OverlappingAllocationPools,
)

CIDR = ipaddress.IPv4Network("10.0.0.0/24")


@pytest.mark.parametrize(
    "text",
    [
        "10.0.0.0/33",
        "10.0.0.0",
        "fd00::/64",
        "",
        "a.b.c.d/8",
        "10.0.0.0/31",
        "0.0.0.0/0",
        None,
        42,
    ],
)
def test_bad_cidrs_are_invalid_input(text: object) -> None:
    with pytest.raises(InvalidInput):
        ipam.parse_cidr(text)


def test_a_cidr_with_host_bits_is_its_network_and_an_odd_spelling_names_the_one_to_use() -> None:
    assert ipam.parse_cidr("10.99.99.0/16") == ipaddress.IPv4Network("10.99.0.0/16")  # as Neutron stores it
    assert ipam.parse_cidr("10.0.0.0/30") == ipaddress.IPv4Network("10.0.0.0/30")
    with pytest.raises(InvalidInput, match=r"'10\.0\.0\.0/24' is recommended"):
        ipam.parse_cidr("10.0.0.0/024")


def test_default_pools_leave_out_the_gateway() -> None:
    def spans(gateway: str | None) -> list[tuple[str, str]]:
        pools = ipam.default_pools(CIDR, ipaddress.IPv4Address(gateway) if gateway else None)
        return [(pool.as_dict()["start"], pool.as_dict()["end"]) for pool in pools]

    assert spans("10.0.0.1") == [("10.0.0.2", "10.0.0.254")]
    assert spans("10.0.0.254") == [("10.0.0.1", "10.0.0.253")]
    assert spans("10.0.0.100") == [("10.0.0.1", "10.0.0.99"), ("10.0.0.101", "10.0.0.254")]
    assert spans(None) == [("10.0.0.1", "10.0.0.254")]


def test_gateway_must_be_a_host_of_the_subnet() -> None:
    for outside in ("10.0.0.0", "10.0.0.255", "10.0.1.1"):
        with pytest.raises(InvalidInput):
            ipam.check_gateway(CIDR, ipaddress.IPv4Address(outside))
    ipam.check_gateway(CIDR, ipaddress.IPv4Address("10.0.0.254"))


def test_pools_must_be_inside_apart_and_clear_of_the_gateway() -> None:
    gateway = ipaddress.IPv4Address("10.0.0.1")

    def pools(*spans: tuple[str, str]) -> list[ipam.Pool]:
        return [ipam.Pool.parse({"start": start, "end": end}) for start, end in spans]

    ipam.check_pools(CIDR, pools(("10.0.0.2", "10.0.0.9"), ("10.0.0.20", "10.0.0.29")), gateway)
    with pytest.raises(InvalidInput):
        ipam.check_pools(CIDR, pools(("10.0.0.250", "10.0.0.255")), gateway)  # the broadcast address
    with pytest.raises(OverlappingAllocationPools):
        ipam.check_pools(CIDR, pools(("10.0.0.2", "10.0.0.9"), ("10.0.0.9", "10.0.0.20")), gateway)
    with pytest.raises(GatewayConflictWithAllocationPools):
        ipam.check_pools(CIDR, pools(("10.0.0.1", "10.0.0.9")), gateway)
    with pytest.raises(InvalidInput):
        ipam.Pool.parse({"start": "10.0.0.9", "end": "10.0.0.2"})
    with pytest.raises(InvalidInput):
        ipam.Pool.parse({"start": "10.0.0.9"})


def test_first_free_skips_what_is_taken_across_pools() -> None:
    pools = [
        ipam.Pool(int(ipaddress.IPv4Address("10.0.0.20")), int(ipaddress.IPv4Address("10.0.0.21"))),
        ipam.Pool(int(ipaddress.IPv4Address("10.0.0.2")), int(ipaddress.IPv4Address("10.0.0.3"))),
    ]
    taken = {int(ipaddress.IPv4Address(address)) for address in ("10.0.0.2", "10.0.0.3", "10.0.0.20")}
    assert ipam.first_free(pools, taken) == ipaddress.IPv4Address("10.0.0.21")
    taken.add(int(ipaddress.IPv4Address("10.0.0.21")))
    assert ipam.first_free(pools, taken) is None


def test_name_servers_and_routes() -> None:
    assert ipam.check_dns_nameservers(["10.0.0.53", "8.8.8.8"]) == ["10.0.0.53", "8.8.8.8"]
    for bad in (["10.0.0.53", "10.0.0.53"], ["1.2.3"], "10.0.0.53", ["10.0.0.1"] * 6):
        with pytest.raises(InvalidInput):
            ipam.check_dns_nameservers(bad)
    route = {"destination": "10.1.0.0/16", "nexthop": "10.0.0.254"}
    assert ipam.check_host_routes([route]) == [route]
    for bad_routes in (
        [route, route],
        [{"destination": "10.1.0.1/16", "nexthop": "10.0.0.254"}],
        [{"destination": "10.1.0.0/16"}],
        [{**route, "metric": 1}],
    ):
        with pytest.raises(InvalidInput):
            ipam.check_host_routes(bad_routes)


def test_macs() -> None:
    assert ipam.parse_mac("FA:16:3E:00:00:01") == "fa:16:3e:00:00:01"
    for bad in ("fa:16:3e:00:00", "01:00:5e:00:00:01", "00:00:00:00:00:00", "zz:16:3e:00:00:01", 7):
        with pytest.raises(InvalidInput):
            ipam.parse_mac(bad)
    rng = random.Random(7)
    generated = {ipam.generate_mac("fa:16:3e:00:00:00", rng) for _ in range(100)}
    assert len(generated) == 100 and all(mac.startswith("fa:16:3e:") for mac in generated)
