"""The Networking API tells the agents at once (whole in-process cloud, noop data plane): a security
group rule created or deleted with the `openstack` CLI is re-applied by the agent of the host using the
group within a moment, and a deleted port's DHCP entry goes as soon, not at the agent's next periodic
sync (which this test counts and expects none of)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overcast.context import RequestContext
from overcast.network.drivers.model import HostState
from overcast.network.drivers.noop import NoopDriver
from overcast.network.manager import NetworkManager
from overcast.network.rpcapi import NetworkAgentAPI
from overcast.service import Service
from tests.support.cloud import InProcessCloud
from tests.support.waiting import WAIT_SECONDS, wait_until

HOST = "compute-notices"
COMPUTE_CONTEXT = RequestContext(user_id="compute", project_id="service", roles=("admin",), is_admin=True)


class SyncCountingDriver(NoopDriver):
    """The noop data plane, counting whole-host syncs so a test can tell a fanout from a sync."""

    def __init__(self) -> None:
        super().__init__()
        self.syncs = 0

    def sync(self, state: HostState) -> None:
        self.syncs += 1
        super().sync(state)


@pytest.fixture(scope="module")
def agent(cloud: InProcessCloud) -> Iterator[NetworkManager]:
    manager = NetworkManager(cloud.cloud, HOST, driver=SyncCountingDriver())
    service = Service(cloud.cloud, manager)
    service.start()
    yield manager
    service.stop()


def _rule_ids(driver: NoopDriver, group_id: str) -> set[str]:
    group = driver.security_groups.get(group_id)
    return {rule.id for rule in group.rules} if group is not None else set()


def test_a_rule_made_or_deleted_with_the_cli_is_applied_by_the_agent_at_once(
    cloud: InProcessCloud, agent: NetworkManager
) -> None:
    driver = agent.driver
    assert isinstance(driver, SyncCountingDriver)
    cloud.openstack("network", "create", "notice-net")
    cloud.openstack(
        "subnet", "create", "--network", "notice-net", "--subnet-range", "192.168.61.0/24", "notice-subnet"
    )
    group = cloud.openstack("security", "group", "create", "ssh-only", "-f", "json")
    port = cloud.openstack(
        "port", "create", "--network", "notice-net", "--host", HOST, "--project", "demo",
        "--security-group", group["id"], "notice-port", "-f", "json", user="overcast-admin",
    )  # fmt: skip
    NetworkAgentAPI(cloud.cloud.transport, timeout=WAIT_SECONDS).wire_port(COMPUTE_CONTEXT, HOST, port["id"])
    assert group["id"] in driver.security_groups
    syncs = driver.syncs

    rule = cloud.openstack(
        "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "--ingress",
        "ssh-only", "-f", "json",
    )  # fmt: skip
    wait_until(lambda: rule["id"] in _rule_ids(driver, group["id"]), 60, what="the agent to apply the rule")
    cloud.openstack("security", "group", "rule", "delete", rule["id"])
    wait_until(lambda: rule["id"] not in _rule_ids(driver, group["id"]), what="the agent to drop the rule")

    # A deleted port's DHCP entry leaves the network's server with the port.
    address = port["fixed_ips"][0]["ip_address"]
    other = cloud.openstack(
        "port", "create", "--network", "notice-net", "--host", HOST, "--project", "demo", "other-port",
        "-f", "json", user="overcast-admin",
    )  # fmt: skip
    NetworkAgentAPI(cloud.cloud.transport, timeout=WAIT_SECONDS).wire_port(COMPUTE_CONTEXT, HOST, other["id"])
    cloud.openstack("port", "delete", "notice-port", user="overcast-admin")
    wait_until(
        lambda: address not in {host.ip_address for host in driver.dhcp_servers[port["network_id"]].hosts},
        60,
        what="the agent to drop the deleted port's DHCP entry",
    )

    assert driver.syncs == syncs, "the agent synced the whole host instead of applying the fanout"
    assert cloud.cloud.settings.network_sync_interval >= 30

    cloud.openstack("port", "delete", "other-port", user="overcast-admin")
    cloud.openstack("security", "group", "delete", "ssh-only")
    cloud.openstack("network", "delete", "notice-net")
