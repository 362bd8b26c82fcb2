"""What the linuxbridge firewall writes for a group or a port (the nftables text, no kernel needed):
Neutron's rule fields each become the match an operator would expect."""

from __future__ import annotations

import pytest

from overcast.network.drivers.base import NetworkDriverError
from overcast.network.drivers.linuxbridge.firewall import group_script, spoof_rules
from overcast.network.drivers.model import AddressPair, FixedIP, Port, SecurityGroup, SecurityGroupRule

GROUP = "0b5a2c57-4a8e-4b7e-9c55-6f1d1d3c9a01"
OTHER = "6f1d1d3c-9a01-4b7e-9c55-0b5a2c574a8e"


def rules_of(*rules: SecurityGroupRule, members: frozenset[str] = frozenset()) -> list[str]:
    script = group_script(SecurityGroup(id=GROUP, rules=rules, member_ips=members))
    return [line.split(" ", 5)[5] for line in script.splitlines() if line.startswith("add rule")]


def rule(**fields: object) -> SecurityGroupRule:
    return SecurityGroupRule(id="r", **{"direction": "ingress", **fields})  # type: ignore[arg-type]


def test_a_port_range_of_one_port_and_of_many() -> None:
    assert rules_of(rule(protocol="tcp", port_range_min=22, port_range_max=22)) == [
        "meta nfproto ipv4 meta l4proto 6 th dport 22 accept"
    ]
    assert rules_of(rule(protocol="udp", port_range_min=1000, port_range_max=2000)) == [
        "meta nfproto ipv4 meta l4proto 17 th dport 1000-2000 accept"
    ]


def test_icmp_type_and_code_come_from_the_port_range_fields() -> None:
    assert rules_of(rule(protocol="icmp", port_range_min=8, port_range_max=0)) == [
        "meta nfproto ipv4 meta l4proto 1 icmp type 8 icmp code 0 accept"
    ]


def test_protocols_by_number_and_any() -> None:
    assert rules_of(rule(protocol="112"), rule(protocol="any"), rule(protocol=None)) == [
        "meta nfproto ipv4 meta l4proto 112 accept",
        "meta nfproto ipv4 accept",
        "meta nfproto ipv4 accept",
    ]


def test_the_remote_is_the_source_of_ingress_and_the_destination_of_egress() -> None:
    assert rules_of(
        rule(remote_ip_prefix="192.0.2.7/24"), rule(direction="egress", remote_group_id=OTHER)
    ) == [
        "meta nfproto ipv4 ip saddr 192.0.2.0/24 accept",
        f"meta nfproto ipv4 ip daddr @sg-{OTHER}-members accept",
    ]


def test_ipv6_rules_are_left_out_and_members_fill_the_groups_set() -> None:
    members = frozenset({"10.0.0.5", "fd00::5"})
    script = group_script(SecurityGroup(id=GROUP, rules=(rule(ethertype="IPv6"),), member_ips=members))
    assert "add rule" not in script
    assert f"add element inet overcast sg-{GROUP}-members {{ 10.0.0.5 }}" in script


def test_an_unknown_protocol_name_is_refused() -> None:
    with pytest.raises(NetworkDriverError):
        rules_of(rule(protocol="carrier-pigeon"))


def test_a_ports_anti_spoofing_allows_its_addresses_and_pairs_only() -> None:
    port = Port(
        id="p",
        network_id="n",
        mac_address="FA:16:3E:00:00:0A",
        device="ovt-p",
        fixed_ips=(FixedIP("s", "10.0.0.10"),),
        allowed_address_pairs=(AddressPair("10.0.1.0/24", "fa:16:3e:00:00:0b"),),
    )
    assert spoof_rules(port) == [
        "ether saddr != { fa:16:3e:00:00:0a, fa:16:3e:00:00:0b } drop",
        "ether type arp arp saddr ether . arp saddr ip { fa:16:3e:00:00:0a . 10.0.0.10, "
        "fa:16:3e:00:00:0b . 10.0.1.0/24, fa:16:3e:00:00:0a . 0.0.0.0, fa:16:3e:00:00:0b . 0.0.0.0 } accept",
        "udp sport 67 drop",
        "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept",
        "ether saddr . ip saddr { fa:16:3e:00:00:0a . 10.0.0.10, fa:16:3e:00:00:0b . 10.0.1.0/24 } accept",
        "drop",
    ]
