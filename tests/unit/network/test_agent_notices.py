"""The Networking API tells the agents of what it committed: which writes send which fanout, that a cast
made inside a caller's transaction waits for its commit (and is dropped on rollback), and that a cast
that fails leaves the user's request a success."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db import Database
from overcast.network.api.queries import ListQuery
from overcast.network.api.service import NetworkAPI
from overcast.network.rpcapi import NetworkAgentAPI
from tests.unit.network.agent_setup import (
    ADMIN,
    ALICE,
    agent_cloud,
    bound_port,
    external_network,
    network_with_subnet,
    routed_network,
)


class RecordingAgents(NetworkAgentAPI):
    """The agents' client with the bus replaced by a list: what the API would have cast, in order."""

    def __init__(self, cloud: Cloud, *, failing: bool = False) -> None:
        super().__init__(cloud.transport)
        self.sent: list[tuple[str, Any]] = []
        self.failing = failing

    def network_changed(self, ctxt: RequestContext, network_id: str) -> None:
        self._send("network_changed", network_id)

    def security_groups_changed(self, ctxt: RequestContext, group_ids: list[str]) -> None:
        self._send("security_groups_changed", sorted(group_ids))

    def network_deleted(self, ctxt: RequestContext, network_id: str) -> None:
        self._send("network_deleted", network_id)

    def router_deleted(self, ctxt: RequestContext, router_id: str) -> None:
        self._send("router_deleted", router_id)

    def _send(self, method: str, argument: Any) -> None:
        if self.failing:
            raise ConnectionError("the bus is down")
        self.sent.append((method, argument))


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Cloud:
    return agent_cloud(db, tmp_path)


@pytest.fixture
def agents(cloud: Cloud) -> RecordingAgents:
    return RecordingAgents(cloud)


@pytest.fixture
def api(cloud: Cloud, agents: RecordingAgents) -> NetworkAPI:
    return NetworkAPI(cloud, rng=random.Random(11), agents=agents)


def test_a_rule_created_or_deleted_tells_the_agents_its_group_changed(
    api: NetworkAPI, agents: RecordingAgents
) -> None:
    group = api.security_groups.create(ALICE, {"name": "web"})
    assert agents.sent == []  # a new group has no port yet: no host uses it

    rule = api.security_groups.create_rule(
        ALICE, {"security_group_id": group["id"], "direction": "ingress", "protocol": "tcp",
                "port_range_min": 22, "port_range_max": 22, "ethertype": "IPv4"},
    )  # fmt: skip
    api.security_groups.delete_rule(ALICE, rule["id"])

    assert agents.sent == [("security_groups_changed", [group["id"]])] * 2


def test_deleting_a_group_tells_the_agents_of_the_groups_whose_rules_named_it(
    api: NetworkAPI, agents: RecordingAgents
) -> None:
    web = api.security_groups.create(ALICE, {"name": "web"})
    db = api.security_groups.create(ALICE, {"name": "db"})
    api.security_groups.create_rule(
        ALICE, {"security_group_id": db["id"], "direction": "ingress", "remote_group_id": web["id"]}
    )
    agents.sent.clear()

    api.security_groups.delete(ALICE, web["id"])

    assert agents.sent == [("security_groups_changed", [db["id"]])]


def test_a_port_created_changed_or_deleted_tells_its_groups_and_network(
    api: NetworkAPI, agents: RecordingAgents
) -> None:
    network_id, _ = network_with_subnet(api)
    web = api.security_groups.create(ALICE, {"name": "web"})
    db = api.security_groups.create(ALICE, {"name": "db"})
    agents.sent.clear()

    port = bound_port(api, network_id, "compute-1", security_groups=[web["id"]])
    assert agents.sent == [("security_groups_changed", [web["id"]])]  # a new member of web
    agents.sent.clear()

    api.ports.update(ALICE, port["id"], {"security_groups": [db["id"]]})
    assert agents.sent == [
        ("security_groups_changed", sorted([web["id"], db["id"]])),
        ("network_changed", network_id),
    ]
    agents.sent.clear()

    api.ports.delete(ADMIN, port["id"])
    assert agents.sent == [("security_groups_changed", [db["id"]]), ("network_changed", network_id)]


def test_subnet_writes_tell_the_agents_of_their_network(api: NetworkAPI, agents: RecordingAgents) -> None:
    network_id, subnet_id = network_with_subnet(api)
    api.subnets.update(ALICE, subnet_id, {"dns_nameservers": ["192.0.2.53"]})
    api.subnets.delete(ALICE, subnet_id)

    assert agents.sent == [("network_changed", network_id)] * 3


def test_a_floating_ip_associated_and_disassociated_tells_the_fixed_ports_network(
    api: NetworkAPI, agents: RecordingAgents
) -> None:
    public_id, _ = external_network(api)
    network_id, _, _ = routed_network(api, public_id)
    port = bound_port(api, network_id, "compute-1")
    floating = api.floating_ips.create(ALICE, {"floating_network_id": public_id})
    agents.sent.clear()

    api.floating_ips.update(ALICE, floating["id"], {"port_id": port["id"]})
    api.floating_ips.update(ALICE, floating["id"], {"port_id": None})
    api.floating_ips.update(ALICE, floating["id"], {"port_id": port["id"]})
    api.floating_ips.delete(ALICE, floating["id"])

    assert agents.sent == [("network_changed", network_id)] * 4


def test_router_writes_tell_the_networks_the_router_has_legs_on_and_those_it_left(
    api: NetworkAPI, agents: RecordingAgents
) -> None:
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    other_id, other_subnet_id = network_with_subnet(api, "10.1.0.0/24")
    agents.sent.clear()

    api.routers.add_interface(ALICE, router_id, {"subnet_id": other_subnet_id})
    added = sorted(agents.sent)
    agents.sent.clear()
    api.routers.remove_interface(ALICE, router_id, {"subnet_id": other_subnet_id})
    removed = sorted(agents.sent)
    agents.sent.clear()
    api.routers.update(ALICE, router_id, {"external_gateway_info": None})
    cleared = sorted(agents.sent)

    legs = [("network_changed", one) for one in (network_id, other_id, public_id)]
    assert added == sorted(legs)
    assert removed == sorted(legs)  # the left network too: hosts holding it drop the leg
    assert cleared == sorted(("network_changed", one) for one in (network_id, public_id))


def test_deleting_a_router_or_a_network_tells_the_agents_it_is_gone(
    api: NetworkAPI, agents: RecordingAgents
) -> None:
    network_id, _ = network_with_subnet(api)
    router = api.routers.create(ALICE, {"name": "lonely"})
    agents.sent.clear()

    api.routers.delete(ALICE, router["id"])
    api.networks.delete(ALICE, network_id)

    assert agents.sent == [("router_deleted", router["id"]), ("network_deleted", network_id)]


def test_a_write_inside_a_callers_transaction_casts_after_its_commit_and_not_on_rollback(
    api: NetworkAPI, agents: RecordingAgents
) -> None:
    network_id, _ = network_with_subnet(api)
    agents.sent.clear()

    with api.db.writer():
        api.subnets.create(ALICE, {"network_id": network_id, "ip_version": 4, "cidr": "10.0.1.0/24"})
        assert agents.sent == []  # the agents would read the state from before it
    assert agents.sent == [("network_changed", network_id)]
    agents.sent.clear()

    with pytest.raises(RuntimeError), api.db.writer():
        api.subnets.create(ALICE, {"network_id": network_id, "ip_version": 4, "cidr": "10.0.2.0/24"})
        raise RuntimeError("the caller's own work failed")
    assert agents.sent == []
    cidrs = sorted(subnet["cidr"] for subnet in api.subnets.list(ALICE, ListQuery()))
    assert cidrs == ["10.0.0.0/24", "10.0.1.0/24"]  # the rolled-back subnet is not there


def test_a_cast_that_fails_leaves_the_write_done(cloud: Cloud, caplog: pytest.LogCaptureFixture) -> None:
    api = NetworkAPI(cloud, rng=random.Random(12), agents=RecordingAgents(cloud, failing=True))
    group = api.security_groups.create(ALICE, {"name": "web"})

    rule = api.security_groups.create_rule(
        ALICE, {"security_group_id": group["id"], "direction": "ingress", "protocol": "icmp"}
    )

    assert api.security_groups.get_rule(ALICE, rule["id"])["protocol"] == "icmp"
    assert f"could not tell the network agents that groups ['{group['id']}'] changed" in caplog.text
