"""Security groups through the network service: the default group, rule checks, ports' groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overcast.db import Database
from overcast.errors import OvercastError
from overcast.network.api import rule_checks
from overcast.network.api.errors import (
    InvalidInput,
    PortSecurityAndIPRequiredForSecurityGroups,
    PortSecurityPortHasSecurityGroup,
    SecurityGroupCannotRemoveDefault,
    SecurityGroupCannotUpdateDefault,
    SecurityGroupDefaultAlreadyExists,
    SecurityGroupInUse,
    SecurityGroupNotFound,
    SecurityGroupRuleExists,
)
from overcast.network.api.queries import ListQuery
from overcast.network.api.service import NetworkAPI
from tests.unit.network.test_ports import ADMIN, ALICE, BOB, create_concurrently, make_subnet, network_api


@pytest.fixture
def api(db: Database, tmp_path: Path) -> NetworkAPI:
    return network_api(db, tmp_path)


def rule(**attrs: Any) -> rule_checks.Rule:
    return rule_checks.checked({"direction": "ingress", **attrs})


@pytest.mark.parametrize(
    "attrs",
    [
        {"direction": "sideways"},
        {"ethertype": "IPv5"},
        {"protocol": "tcpx"},
        {"protocol": "256"},
        {"protocol": -1},
        {"protocol": "tcp", "port_range_min": 0, "port_range_max": 22},
        {"protocol": "tcp", "port_range_min": 23, "port_range_max": 22},
        {"protocol": "tcp", "port_range_min": 22, "port_range_max": 65536},
        {"protocol": "tcp", "port_range_min": 22},
        {"protocol": "tcp", "port_range_min": "x", "port_range_max": 22},
        {"port_range_min": 22, "port_range_max": 22},
        {"protocol": "gre", "port_range_min": 1, "port_range_max": 2},
        {"protocol": "icmp", "port_range_min": 256},
        {"protocol": "icmp", "port_range_max": 0},
        {"protocol": "icmpv6", "ethertype": "IPv4"},
        {"remote_ip_prefix": "10.0.0.0/33"},
        {"remote_ip_prefix": "fd00::/64"},
        {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "x"},
    ],
)
def test_bad_rules_are_invalid_input(attrs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        rule(**attrs)


def test_good_rules() -> None:
    ssh = rule(protocol="TCP", port_range_min="22", port_range_max=22, remote_ip_prefix="10.1.2.3/8")
    assert (ssh.protocol, ssh.port_range_min, ssh.port_range_max) == ("tcp", 22, 22)
    assert ssh.remote_ip_prefix == "10.0.0.0/8"  # host bits dropped, as Neutron does
    echo = rule(protocol=1, port_range_min=8, port_range_max=0)
    assert (echo.protocol, echo.port_range_min, echo.port_range_max) == ("1", 8, 0)
    assert rule(protocol="any").protocol is None
    assert rule(protocol="icmp").same_as(rule(protocol="1"))
    assert rule(ethertype="IPv6", protocol="ipv6-icmp", remote_ip_prefix="fd00::/64").ethertype == "IPv6"


def test_the_default_group_appears_with_neutrons_rules(api: NetworkAPI) -> None:
    (group,) = api.security_groups.list(ALICE, ListQuery())
    assert group["name"] == "default" and group["project_id"] == ALICE.project_id
    shapes = {(r["direction"], r["ethertype"], r["remote_group_id"]) for r in group["security_group_rules"]}
    assert shapes == {("egress", "IPv4", None), ("egress", "IPv6", None),
                      ("ingress", "IPv4", group["id"]), ("ingress", "IPv6", group["id"])}  # fmt: skip
    assert [g["id"] for g in api.security_groups.list(ALICE, ListQuery())] == [group["id"]]
    assert api.security_groups.list(BOB, ListQuery())[0]["id"] != group["id"]
    with pytest.raises(SecurityGroupCannotRemoveDefault):
        api.security_groups.delete(ALICE, group["id"])
    with pytest.raises(SecurityGroupCannotUpdateDefault):
        api.security_groups.update(ALICE, group["id"], {"name": "renamed"})
    with pytest.raises(SecurityGroupDefaultAlreadyExists):
        api.security_groups.create(ALICE, {"name": "default"})


def check_first_lists_make_one_default_group(api: NetworkAPI) -> None:
    results = create_concurrently(lambda: {"groups": api.security_groups.list(ALICE, ListQuery())}, 8)
    assert all(isinstance(result, dict) for result in results), results
    groups = api.security_groups.list(ADMIN, ListQuery(filters={"project_id": [ALICE.project_id]}))
    assert [group["name"] for group in groups] == ["default"]


def test_concurrent_first_lists_make_one_default_group(api: NetworkAPI) -> None:
    check_first_lists_make_one_default_group(api)


def test_rules_on_a_group(api: NetworkAPI) -> None:
    web = api.security_groups.create(ALICE, {"name": "web", "description": "http"})
    assert [r["direction"] for r in web["security_group_rules"]] == ["egress", "egress"]
    http = {"security_group_id": web["id"], "direction": "ingress", "protocol": "tcp", "port_range_min": 80,
            "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"}  # fmt: skip
    created = api.security_groups.create_rule(ALICE, http)
    assert created["protocol"] == "tcp" and created["ethertype"] == "IPv4"
    with pytest.raises(SecurityGroupRuleExists):
        api.security_groups.create_rule(ALICE, {**http, "protocol": "6"})
    with pytest.raises(SecurityGroupNotFound):
        api.security_groups.create_rule(BOB, {**http, "port_range_min": 81, "port_range_max": 81})
    bobs = api.security_groups.create(BOB, {"name": "bobs"})
    with pytest.raises(SecurityGroupNotFound):
        api.security_groups.create_rule(
            ALICE, {**http, "remote_ip_prefix": None, "remote_group_id": bobs["id"]}
        )
    api.security_groups.delete_rule(ALICE, created["id"])
    assert len(api.security_groups.get(ALICE, web["id"])["security_group_rules"]) == 2
    api.security_groups.delete(ALICE, web["id"])


def test_ports_take_the_default_group_or_the_named_ones(api: NetworkAPI) -> None:
    network_id, _ = make_subnet(api, ALICE)
    (default,) = api.security_groups.list(ALICE, ListQuery())
    port = api.ports.create(ALICE, {"network_id": network_id})
    assert port["security_groups"] == [default["id"]]
    web = api.security_groups.create(ALICE, {"name": "web"})
    named = api.ports.create(ALICE, {"network_id": network_id, "security_groups": [web["id"]]})
    assert named["security_groups"] == [web["id"]]
    with pytest.raises(SecurityGroupInUse):
        api.security_groups.delete(ALICE, web["id"])
    (dhcp,) = api.ports.list(ALICE, ListQuery(filters={"device_owner": ["network:dhcp"]}))
    assert dhcp["security_groups"] == []
    with pytest.raises(PortSecurityPortHasSecurityGroup):
        api.ports.update(ALICE, named["id"], {"port_security_enabled": False})
    bare = api.ports.update(ALICE, named["id"], {"port_security_enabled": False, "security_groups": []})
    assert bare["security_groups"] == [] and not bare["port_security_enabled"]
    with pytest.raises(PortSecurityAndIPRequiredForSecurityGroups):
        api.ports.create(ALICE, {"network_id": network_id, "port_security_enabled": False,
                                 "security_groups": [web["id"]]})  # fmt: skip
    bobs = api.security_groups.create(BOB, {"name": "bobs"})
    with pytest.raises(SecurityGroupNotFound):
        api.ports.create(ALICE, {"network_id": network_id, "security_groups": [bobs["id"]]})
    found = api.ports.list(ALICE, ListQuery(filters={"security_groups": [web["id"]]}))
    assert found == []
    api.security_groups.delete(ALICE, web["id"])


def test_deleting_a_group_takes_the_rules_naming_it(api: NetworkAPI) -> None:
    target = api.security_groups.create(ALICE, {"name": "target"})
    other = api.security_groups.create(ALICE, {"name": "other"})
    api.security_groups.create_rule(ALICE, {"security_group_id": other["id"], "direction": "ingress",
                                            "remote_group_id": target["id"]})  # fmt: skip
    api.security_groups.delete(ALICE, target["id"])
    remaining = api.security_groups.get(ALICE, other["id"])["security_group_rules"]
    assert all(r["remote_group_id"] is None for r in remaining) and len(remaining) == 2


def test_bad_group_ids(api: NetworkAPI) -> None:
    for bad in ("default", "not-a-uuid"):
        with pytest.raises(OvercastError) as raised:
            api.security_groups.get(ALICE, bad)
        assert raised.value.status == 404
