"""EC2 permissions folded from Neutron rules: one per protocol and port range, CIDRs and group pairs
gathered, "anywhere" for a rule with no remote, ICMP's -1."""

from __future__ import annotations

from typing import Any

import pytest

from overcast.ec2.errors import Ec2Error
from overcast.ec2.security_groups import _protocol, permissions_of

GROUPS = {"g-uuid": "sg-0123456789abcdef0", "peer-uuid": "sg-00000000000000001"}
OWNERS = {"g-uuid": "project-a", "peer-uuid": "project-a"}


def _rule(**values: Any) -> dict[str, Any]:
    rule = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
            "port_range_max": 22, "remote_ip_prefix": None, "remote_group_id": None}  # fmt: skip
    return {**rule, **values}


def test_rules_of_one_port_range_fold_into_one_permission() -> None:
    rules = [
        _rule(remote_ip_prefix="10.0.0.0/8"),
        _rule(remote_ip_prefix="192.0.2.0/24"),
        _rule(remote_group_id="peer-uuid"),
        _rule(ethertype="IPv6", remote_ip_prefix="2001:db8::/32"),
        _rule(direction="egress", protocol=None, port_range_min=None, port_range_max=None),
    ]
    [ssh] = permissions_of(rules, "ingress", GROUPS, OWNERS)
    assert (ssh["ipProtocol"], ssh["fromPort"], ssh["toPort"]) == ("tcp", 22, 22)
    assert ssh["ipRanges"] == [{"cidrIp": "10.0.0.0/8"}, {"cidrIp": "192.0.2.0/24"}]
    assert ssh["ipv6Ranges"] == [{"cidrIpv6": "2001:db8::/32"}]
    assert ssh["groups"] == [{"groupId": "sg-00000000000000001", "userId": "project-a"}]
    [everything] = permissions_of(rules, "egress", GROUPS, OWNERS)
    assert (everything["ipProtocol"], everything["fromPort"], everything["toPort"]) == ("-1", None, None)
    assert everything["ipRanges"] == [{"cidrIp": "0.0.0.0/0"}]  # no remote: anywhere


def test_icmp_type_and_code_are_its_ports_with_minus_one_for_all() -> None:
    rules = [_rule(protocol="icmp", port_range_min=None, port_range_max=None),
             _rule(protocol="icmp", port_range_min=8, port_range_max=0)]  # fmt: skip
    ranges = {
        (p["ipProtocol"], p["fromPort"], p["toPort"])
        for p in permissions_of(rules, "ingress", GROUPS, OWNERS)
    }
    assert ranges == {("icmp", -1, -1), ("icmp", 8, 0)}


@pytest.mark.parametrize(
    ("given", "neutron"),
    [("tcp", "tcp"), ("6", "tcp"), ("UDP", "udp"), ("1", "icmp"), ("-1", None), ("all", None), ("47", "47")],
)
def test_ip_protocols_in_neutrons_terms(given: str, neutron: str | None) -> None:
    assert _protocol(given) == neutron


@pytest.mark.parametrize("given", ["sctp-ish", "256", "", "\u0661"])  # the last: an Arabic-Indic one
def test_unknown_protocols_are_invalid_parameter_values(given: str) -> None:
    with pytest.raises(Ec2Error) as error:
        _protocol(given)
    assert error.value.code == "InvalidParameterValue"
