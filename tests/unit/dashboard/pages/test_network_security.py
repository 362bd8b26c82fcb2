from __future__ import annotations

import pytest

from overcast.dashboard.client import APIError
from overcast.dashboard.pages.network_security import rule_body
from overcast.dashboard.web import Form


def rule(**fields: str) -> dict[str, object]:
    return rule_body("g1", Form({key: [value] for key, value in fields.items()}))["security_group_rule"]  # type: ignore[return-value]


def test_one_port_is_a_range_of_one_and_a_cidr_the_remote() -> None:
    assert rule(protocol="tcp", port_range_min="22", remote_ip_prefix="10.0.0.0/8") == {
        "security_group_id": "g1",
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "10.0.0.0/8",
    }


def test_any_protocol_and_a_remote_group_take_no_ports() -> None:
    body = rule(
        protocol="any",
        port_range_min="22",
        remote_group_id="g2",
        remote_ip_prefix="10.0.0.0/8",
        direction="egress",
    )
    assert body == {
        "security_group_id": "g1",
        "direction": "egress",
        "ethertype": "IPv4",
        "remote_group_id": "g2",
    }


@pytest.mark.parametrize(
    "fields", [{"protocol": "gre"}, {"port_range_min": "65536"}, {"port_range_max": "x"}]
)
def test_bad_rules_are_400s(fields: dict[str, str]) -> None:
    with pytest.raises(APIError) as refused:
        rule(**fields)
    assert refused.value.status == 400
