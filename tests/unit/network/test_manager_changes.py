"""The agent's `network_changed` on the noop driver: a port's new groups and a floating IP's association
reach the host's driver at once, through the API's cast, touching only the changed network's slice."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.cloud import Cloud
from overcast.db import Database
from overcast.network.api.service import NetworkAPI
from overcast.network.drivers.base import NetworkDriverError
from overcast.network.drivers.model import Network
from overcast.network.drivers.noop import NoopDriver
from overcast.network.manager import NetworkManager
from overcast.network.rpcapi import NetworkAgentAPI
from overcast.service import Service
from tests.support.waiting import WAIT_SECONDS, wait_until
from tests.unit.network.agent_setup import (
    ALICE,
    agent_cloud,
    bound_port,
    external_network,
    network_api,
    network_with_subnet,
    routed_network,
)


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Cloud:
    # No periodic sync during a test: only the casts can bring a change.
    return agent_cloud(db, tmp_path, network_sync_interval=3600.0)


@pytest.fixture
def api(cloud: Cloud) -> NetworkAPI:
    return network_api(cloud)


@pytest.fixture
def driver() -> NoopDriver:
    return NoopDriver()


@pytest.fixture
def agent(cloud: Cloud, driver: NoopDriver) -> NetworkManager:
    return NetworkManager(cloud, "host-a", driver=driver)


def test_a_ports_new_groups_reach_its_chain_without_a_whole_host_sync(
    api: NetworkAPI, agent: NetworkManager, driver: NoopDriver
) -> None:
    network_id, _ = network_with_subnet(api)
    other_network, _ = network_with_subnet(api, cidr="10.1.0.0/24")
    port = bound_port(api, network_id, "host-a")
    elsewhere = bound_port(api, other_network, "host-a")
    agent.sync()
    web = api.security_groups.create(ALICE, {"name": "web"})
    api.ports.update(ALICE, port["id"], {"security_groups": [web["id"]]})
    driver.calls.clear()

    agent.network_changed(ALICE, network_id)

    assert driver.ports[port["id"]].security_group_ids == (web["id"],)
    assert web["id"] in driver.security_groups
    assert ("ensure_port", port["id"]) in driver.calls
    # Only the changed network's slice: the other network's port and nothing removed.
    assert ("ensure_port", elsewhere["id"]) not in driver.calls
    assert not [call for call in driver.calls if call[0].startswith("remove_")]


def test_a_floating_ips_association_reaches_the_router_serving_it(
    api: NetworkAPI, agent: NetworkManager, driver: NoopDriver
) -> None:
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    vm = bound_port(api, network_id, "host-a")
    agent.sync()  # host-a serves the router from now on
    assert driver.routers[router_id].floating_ips == ()
    floating = api.floating_ips.create(ALICE, {"floating_network_id": public_id, "port_id": vm["id"]})
    driver.calls.clear()

    agent.network_changed(ALICE, network_id)

    fixed = vm["fixed_ips"][0]["ip_address"]
    assert [
        (one.floating_ip_address, one.fixed_ip_address) for one in driver.routers[router_id].floating_ips
    ] == [(floating["floating_ip_address"], fixed)]
    assert ("ensure_router", router_id) in driver.calls
    assert api.floating_ips.get(ALICE, floating["id"])["status"] == "ACTIVE"

    api.floating_ips.update(ALICE, floating["id"], {"port_id": None})
    agent.network_changed(ALICE, network_id)

    assert driver.routers[router_id].floating_ips == ()
    assert api.floating_ips.get(ALICE, floating["id"])["status"] == "DOWN"


def test_a_slice_names_a_router_only_on_a_host_serving_it(
    api: NetworkAPI, cloud: Cloud, agent: NetworkManager, driver: NoopDriver
) -> None:
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    bound_port(api, network_id, "host-a")
    bound_port(api, network_id, "host-b")
    agent.sync()
    other_driver = NoopDriver()
    other = NetworkManager(cloud, "host-b", driver=other_driver)

    other.network_changed(ALICE, network_id)

    assert set(driver.routers) == {router_id} and other_driver.routers == {}
    assert set(other_driver.networks) == {network_id}


@pytest.fixture
def served(cloud: Cloud, agent: NetworkManager) -> Iterator[NetworkAPI]:
    """The agent on the bus, and a Networking API that casts to it as the API process does."""
    service = Service(cloud, agent)
    service.start()
    agents = NetworkAgentAPI(cloud.transport, timeout=WAIT_SECONDS)
    yield NetworkAPI(cloud, rng=random.Random(7), agents=agents)
    service.stop()


def test_the_apis_casts_apply_a_floating_ip_and_a_ports_groups_with_no_sync(
    served: NetworkAPI, agent: NetworkManager, driver: NoopDriver
) -> None:
    api = served
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    vm = bound_port(api, network_id, "host-a")
    agent.sync()
    floating = api.floating_ips.create(ALICE, {"floating_network_id": public_id})

    api.floating_ips.update(ALICE, floating["id"], {"port_id": vm["id"]})

    wait_until(lambda: len(driver.routers[router_id].floating_ips) == 1, timeout=60)
    api.floating_ips.update(ALICE, floating["id"], {"port_id": None})
    wait_until(lambda: driver.routers[router_id].floating_ips == (), timeout=60)

    web = api.security_groups.create(ALICE, {"name": "web"})
    api.ports.update(ALICE, vm["id"], {"security_groups": [web["id"]]})
    wait_until(lambda: driver.ports[vm["id"]].security_group_ids == (web["id"],), timeout=60)
    assert web["id"] in driver.security_groups


def test_a_deleted_router_and_network_leave_the_host_at_once_with_no_sync(
    served: NetworkAPI, agent: NetworkManager, driver: NoopDriver
) -> None:
    api = served
    public_id, _ = external_network(api)
    network_id, subnet_id, router_id = routed_network(api, public_id)
    vm = bound_port(api, network_id, "host-a")
    agent.sync()
    assert router_id in driver.routers and network_id in driver.dhcp_servers

    api.ports.delete(ALICE, vm["id"])
    api.routers.remove_interface(ALICE, router_id, {"subnet_id": subnet_id})
    api.routers.delete(ALICE, router_id)
    wait_until(lambda: router_id not in driver.routers, timeout=60)
    api.networks.delete(ALICE, network_id)
    wait_until(lambda: network_id not in driver.networks and network_id not in driver.dhcp_servers)


class NoFlatDriver(NoopDriver):
    """A data plane that cannot wire a flat network (as linuxbridge without its physical interface)."""

    def ensure_network(self, network: Network, remote_vteps: frozenset[str] = frozenset()) -> None:
        if network.segmentation_type == "flat":
            raise NetworkDriverError(f"Physical network {network.physical_network} has no interface here.")
        super().ensure_network(network, remote_vteps)


def test_a_router_leg_the_host_cannot_wire_fails_only_that_router(api: NetworkAPI, cloud: Cloud) -> None:
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    vm = bound_port(api, network_id, "host-a")
    driver = NoFlatDriver()
    agent = NetworkManager(cloud, "host-a", driver=driver)
    with pytest.raises(NetworkDriverError):
        agent.sync()  # claims the router, then fails on its flat public leg
    web = api.security_groups.create(ALICE, {"name": "web"})
    api.ports.update(ALICE, vm["id"], {"security_groups": [web["id"]]})

    agent.network_changed(ALICE, network_id)

    assert driver.ports[vm["id"]].security_group_ids == (web["id"],)
    assert network_id in driver.dhcp_servers and router_id not in driver.routers
