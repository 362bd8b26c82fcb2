"""The trace evaluates the firewall's rule model in the kernel's order and names what decides."""

from __future__ import annotations

import pytest

from overcast.network.drivers.model import AddressPair, FixedIP, Port, SecurityGroup, SecurityGroupRule
from overcast.network.inspect import group_rule_count
from overcast.network.trace import Packet, TraceError, describe_rule, trace

WEB = SecurityGroup(
    id="sg-web",
    rules=(
        SecurityGroupRule(id="r-icmp", direction="ingress", protocol="icmp", remote_ip_prefix="0.0.0.0/0"),
        SecurityGroupRule(
            id="r-http", direction="ingress", protocol="tcp", port_range_min=80, port_range_max=81
        ),
        SecurityGroupRule(id="r-out", direction="egress"),
        SecurityGroupRule(id="r-v6", direction="ingress", ethertype="IPv6"),
    ),
)
ADMINS = SecurityGroup(
    id="sg-admins",
    rules=(
        SecurityGroupRule(
            id="r-ssh-peers",
            direction="ingress",
            protocol="tcp",
            port_range_min=22,
            remote_group_id="sg-peers",
        ),
        SecurityGroupRule(
            id="r-dns", direction="egress", protocol="udp", port_range_min=53, remote_ip_prefix="10.0.0.0/24"
        ),
        SecurityGroupRule(id="r-echo-reply", direction="ingress", protocol="icmp", port_range_min=0),
    ),
)
PEERS = SecurityGroup(id="sg-peers", member_ips=frozenset({"10.0.0.9"}))
GROUPS = (WEB, ADMINS, PEERS)


def port(*groups: str, security: bool = True, pairs: tuple[AddressPair, ...] = ()) -> Port:
    return Port(
        id="p1",
        network_id="n1",
        mac_address="fa:16:3e:00:00:01",
        device="ovt-p1",
        fixed_ips=(FixedIP("s1", "10.0.0.5"),),
        allowed_address_pairs=pairs,
        port_security_enabled=security,
        security_group_ids=groups,
    )


def test_an_ingress_packet_is_accepted_by_the_rule_that_matches_it() -> None:
    decision = trace(port("sg-web"), GROUPS, Packet("192.0.2.7", "10.0.0.5", "icmp"))
    assert (decision.verdict, decision.stage, decision.direction) == ("accept", "security-group", "ingress")
    assert (decision.rule_id, decision.security_group_id) == ("r-icmp", "sg-web")
    assert decision.match == "ingress IPv4 icmp from 0.0.0.0/0"


def test_port_ranges_bound_what_a_tcp_rule_accepts() -> None:
    assert trace(port("sg-web"), GROUPS, Packet("192.0.2.7", "10.0.0.5", "tcp", dport=81)).rule_id == "r-http"
    decision = trace(port("sg-web"), GROUPS, Packet("192.0.2.7", "10.0.0.5", "tcp", dport=82))
    assert (decision.verdict, decision.stage, decision.rule_id) == ("drop", "default-drop", None)


def test_without_a_matching_rule_the_port_chain_drops_by_default() -> None:
    decision = trace(port("sg-web"), GROUPS, Packet("192.0.2.7", "10.0.0.5", "tcp", dport=22))
    assert (decision.verdict, decision.stage) == ("drop", "default-drop")
    assert "sg-web" in decision.reason


def test_a_port_without_groups_drops_everything_new_inbound_and_outbound() -> None:
    assert trace(port(), GROUPS, Packet("192.0.2.7", "10.0.0.5", "icmp")).stage == "default-drop"
    assert trace(port(), GROUPS, Packet("10.0.0.5", "192.0.2.7", "icmp")).stage == "default-drop"


def test_an_established_connection_passes_conntrack_before_any_group() -> None:
    packet = Packet("192.0.2.7", "10.0.0.5", "tcp", dport=22, established=True)
    decision = trace(port(), GROUPS, packet)
    assert (decision.verdict, decision.stage, decision.rule_id) == ("accept", "conntrack", None)


def test_a_forged_source_is_dropped_by_anti_spoofing_even_when_established() -> None:
    packet = Packet("10.0.0.6", "192.0.2.7", "icmp", established=True)
    decision = trace(port("sg-web"), GROUPS, packet)
    assert (decision.verdict, decision.stage, decision.direction) == ("drop", "anti-spoofing", "egress")
    assert "10.0.0.5/32" in decision.reason


def test_an_allowed_address_pair_may_send() -> None:
    forged = Packet("10.0.0.40", "192.0.2.7", "tcp", dport=443)
    assert trace(port("sg-web"), GROUPS, forged).stage == "anti-spoofing"
    paired = port("sg-web", pairs=(AddressPair("10.0.0.32/28"),))
    assert trace(paired, GROUPS, forged).rule_id == "r-out"


def test_a_vm_may_not_answer_as_a_dhcp_server_but_may_ask_for_an_address_whatever_its_groups() -> None:
    server = Packet("10.0.0.5", "10.0.0.8", "udp", sport=67, dport=68)
    assert trace(port("sg-web"), GROUPS, server).stage == "anti-spoofing"
    request = Packet("0.0.0.0", "255.255.255.255", "udp", sport=68, dport=67)
    decision = trace(port(), GROUPS, request)  # no group: the port chain's DHCP rule lets it out
    assert (decision.verdict, decision.stage, decision.direction) == ("accept", "dhcp", "egress")
    renewal = Packet("10.0.0.5", "10.0.0.2", "udp", sport=68, dport=67)
    assert trace(port(), GROUPS, renewal).stage == "dhcp"


def test_dhcp_offers_reach_a_port_without_groups() -> None:
    offer = Packet("10.0.0.2", "10.0.0.5", "udp", sport=67, dport=68)
    assert (trace(port(), GROUPS, offer).verdict, trace(port(), GROUPS, offer).stage) == ("accept", "dhcp")


def test_remote_groups_match_their_members_only() -> None:
    member = Packet("10.0.0.9", "10.0.0.5", "tcp", dport=22)
    assert trace(port("sg-admins"), GROUPS, member).rule_id == "r-ssh-peers"
    stranger = Packet("10.0.0.10", "10.0.0.5", "tcp", dport=22)
    assert trace(port("sg-admins"), GROUPS, stranger).stage == "default-drop"


def test_egress_rules_match_the_destination_prefix() -> None:
    inside = Packet("10.0.0.5", "10.0.0.1", "udp", dport=53)
    assert trace(port("sg-admins"), GROUPS, inside).rule_id == "r-dns"
    outside = Packet("10.0.0.5", "192.0.2.1", "udp", dport=53)
    assert trace(port("sg-admins"), GROUPS, outside).stage == "default-drop"


def test_icmp_rules_with_a_type_match_that_type_only() -> None:
    reply = Packet("192.0.2.7", "10.0.0.5", "icmp", icmp_type=0)
    assert trace(port("sg-admins"), GROUPS, reply).rule_id == "r-echo-reply"
    request = Packet("192.0.2.7", "10.0.0.5", "icmp", icmp_type=8)
    assert trace(port("sg-admins"), GROUPS, request).stage == "default-drop"


def test_the_groups_are_tried_in_the_ports_order() -> None:
    packet = Packet("10.0.0.9", "10.0.0.5", "icmp", icmp_type=0)
    assert trace(port("sg-web", "sg-admins"), GROUPS, packet).rule_id == "r-icmp"
    assert trace(port("sg-admins", "sg-web"), GROUPS, packet).rule_id == "r-echo-reply"


def test_a_port_without_port_security_has_no_filter() -> None:
    decision = trace(port(security=False), GROUPS, Packet("10.9.9.9", "192.0.2.7", "tcp", dport=25))
    assert (decision.verdict, decision.stage) == ("accept", "port-security")


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (Packet("10.0.0.5", "fe80::1", "icmp"), "not IPv4"),
        (Packet("10.0.0.5", "example", "icmp"), "not an IP address"),
        (Packet("10.0.0.5", "192.0.2.7", "tcp"), "--dport"),
    ],
)
def test_packets_the_firewall_cannot_see_are_refused(packet: Packet, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        trace(port("sg-web"), GROUPS, packet)


def test_a_group_missing_from_the_rule_set_is_an_error_not_a_drop() -> None:
    with pytest.raises(TraceError, match="sg-gone"):
        trace(port("sg-gone"), GROUPS, Packet("192.0.2.7", "10.0.0.5", "icmp"))


def test_rules_are_described_as_operators_read_them() -> None:
    assert describe_rule(WEB.rules[1]) == "ingress IPv4 tcp ports 80-81 from anywhere"
    assert describe_rule(ADMINS.rules[0]) == "ingress IPv4 tcp port 22 from members of group sg-peers"
    assert describe_rule(ADMINS.rules[2]) == "ingress IPv4 icmp type 0 from anywhere"


def test_the_rule_counts_a_port_report_expects_are_what_the_firewall_writes() -> None:
    assert group_rule_count(WEB, "ingress") == 2  # the IPv6 rule is not written
    assert group_rule_count(WEB, "egress") == 1
    assert group_rule_count(PEERS, "ingress") == 0
