"""The network agent on the noop driver: wiring and unwiring ports, their status by compare-and-swap, the
DHCP port's claim, and the sync that repairs drift; over the bus as the compute host calls it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from overcast.cloud import Cloud
from overcast.config import Settings, load_settings
from overcast.db import Database
from overcast.db.models.network import Port as PortRow
from overcast.network.agent_records import dhcp_device_id
from overcast.network.api.service import NetworkAPI
from overcast.network.driver_choice import load_network_driver, resolve_network_driver_name
from overcast.network.drivers import names
from overcast.network.drivers.base import NetworkDriverError
from overcast.network.drivers.model import Network
from overcast.network.drivers.noop import NoopDriver
from overcast.network.manager import NetworkManager, PortNotBoundHere, PortNotFound
from overcast.network.rpcapi import NetworkAgentAPI
from overcast.service import Service
from tests.support.waiting import WAIT_SECONDS, wait_until
from tests.unit.network.agent_setup import (
    ADMIN,
    ALICE,
    agent_cloud,
    bound_port,
    external_network,
    network_api,
    network_with_subnet,
    port_row,
    routed_network,
)


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Cloud:
    return agent_cloud(db, tmp_path)


@pytest.fixture
def api(cloud: Cloud) -> NetworkAPI:
    return network_api(cloud)


@pytest.fixture
def driver() -> NoopDriver:
    return NoopDriver()


@pytest.fixture
def agent(cloud: Cloud, driver: NoopDriver) -> NetworkManager:
    return NetworkManager(cloud, "host-a", driver=driver)


def dhcp_port(api: NetworkAPI, network_id: str) -> dict[str, Any]:
    with api.db.reader() as session:
        port_id = session.scalars(
            select(PortRow.id).where(PortRow.network_id == network_id, PortRow.device_owner == "network:dhcp")
        ).one()
    return port_row(api, port_id)


def test_wiring_a_port_plugs_it_claims_dhcp_and_sets_it_active(
    api: NetworkAPI, agent: NetworkManager, driver: NoopDriver
) -> None:
    network_id, subnet_id = network_with_subnet(api)
    port = bound_port(api, network_id, "host-a")

    vif = agent.wire_port(ALICE, port["id"])

    assert vif == {
        "port_id": port["id"],
        "mac_address": port["mac_address"],
        "device": names.tap(port["id"]),
        "mtu": 1450,
        "network_id": network_id,
        "fixed_ips": [{"subnet_id": subnet_id, "ip_address": port["fixed_ips"][0]["ip_address"]}],
    }
    assert set(driver.ports) == {port["id"]} and set(driver.networks) == {network_id}
    assert set(driver.security_groups) == set(port["security_groups"])
    (server,) = driver.dhcp_servers.values()
    assert [host.mac_address for host in server.hosts] == [port["mac_address"]]
    shown = port_row(api, port["id"])
    assert shown["status"] == "ACTIVE" and shown["revision_number"] > port["revision_number"]
    dhcp = dhcp_port(api, network_id)
    assert dhcp["binding:host_id"] == "host-a" and dhcp["status"] == "ACTIVE"
    assert dhcp["device_id"] == dhcp_device_id("host-a", network_id)


def test_only_ports_bound_here_are_wired(api: NetworkAPI, agent: NetworkManager, driver: NoopDriver) -> None:
    network_id, _ = network_with_subnet(api)
    elsewhere = bound_port(api, network_id, "host-b")
    unbound = api.ports.create(ALICE, {"network_id": network_id})

    for port in (elsewhere, unbound):
        with pytest.raises(PortNotBoundHere):
            agent.wire_port(ALICE, port["id"])
        assert port_row(api, port["id"])["status"] == "DOWN"
    with pytest.raises(PortNotFound):
        agent.wire_port(ALICE, "9b1c1a5e-0000-4000-8000-000000000000")
    assert driver.ports == {} and driver.networks == {}
    # Another host's network keeps its DHCP port for the agent that will have a port on it.
    assert dhcp_port(api, network_id)["binding:host_id"] == ""


def test_unwiring_takes_the_port_off_and_sets_it_down(
    api: NetworkAPI, agent: NetworkManager, driver: NoopDriver
) -> None:
    network_id, _ = network_with_subnet(api)
    port = bound_port(api, network_id, "host-a")
    agent.wire_port(ALICE, port["id"])

    agent.unwire_port(ALICE, port["id"])
    agent.unwire_port(ALICE, port["id"])  # absent is fine

    assert driver.ports == {}
    assert port_row(api, port["id"])["status"] == "DOWN"
    agent.unwire_port(ALICE, "9b1c1a5e-0000-4000-8000-000000000000")


def test_a_port_rebound_to_another_host_keeps_the_status_that_host_gave_it(
    api: NetworkAPI, agent: NetworkManager, db: Database
) -> None:
    network_id, _ = network_with_subnet(api)
    port = bound_port(api, network_id, "host-a")
    agent.wire_port(ALICE, port["id"])
    api.ports.update(ADMIN, port["id"], {"binding:host_id": "host-b"})

    agent.unwire_port(ALICE, port["id"])  # host-a's late clean-up after the move

    assert port_row(api, port["id"])["status"] == "ACTIVE"
    with db.writer() as session:
        session.execute(update(PortRow).where(PortRow.id == port["id"]).values(status="DOWN"))
    agent.sync()
    assert port_row(api, port["id"])["status"] == "DOWN"  # not this host's to report any more


def test_sync_converges_the_host_and_repairs_drift(
    api: NetworkAPI, agent: NetworkManager, driver: NoopDriver
) -> None:
    network_id, _ = network_with_subnet(api)
    kept = bound_port(api, network_id, "host-a")
    deleted = bound_port(api, network_id, "host-a")
    agent.sync()
    assert set(driver.ports) == {kept["id"], deleted["id"]}
    assert {port_row(api, port["id"])["status"] for port in (kept, deleted)} == {"ACTIVE"}
    assert set(driver.dhcp_servers) == {network_id}

    # Drift: a tap gone, a DHCP server dead, a port deleted while the agent was not looking.
    driver.remove_port(kept["id"])
    driver.remove_dhcp(network_id)
    api.ports.delete(ADMIN, deleted["id"])
    driver.calls.clear()
    agent.sync()

    assert set(driver.ports) == {kept["id"]}
    (server,) = driver.dhcp_servers.values()
    assert [host.mac_address for host in server.hosts] == [kept["mac_address"]]
    assert ("remove_port", deleted["id"]) in driver.calls and ("ensure_port", kept["id"]) in driver.calls

    # Converged: a second sync removes nothing.
    driver.calls.clear()
    agent.sync()
    assert [call for call in driver.calls if call[0].startswith("remove_")] == []

    # Nothing bound here any more: the host ends up empty.
    api.ports.delete(ADMIN, kept["id"])
    api.ports.update(ADMIN, dhcp_port(api, network_id)["id"], {"binding:host_id": ""})
    agent.sync()
    assert (driver.networks, driver.ports, driver.dhcp_servers, driver.security_groups) == ({}, {}, {}, {})


UNDERLAY = {"host-a": "192.0.2.1", "host-b": "192.0.2.2"}


@pytest.fixture
def agents(cloud: Cloud) -> Iterator[dict[str, NetworkManager]]:
    """Two hosts' agents on one bus and database, each with its own underlay address."""
    managers = {
        host: NetworkManager(
            Cloud(
                settings=cloud.settings.model_copy(update={"network_underlay_ip": address}),
                db=cloud.db,
                transport=cloud.transport,
            ),
            host,
            driver=NoopDriver(),
        )
        for host, address in UNDERLAY.items()
    }
    services = [Service(cloud, manager) for manager in managers.values()]
    for service in services:
        service.start()
    yield managers
    for service in services:
        service.stop()


def test_the_compute_host_wires_over_the_bus_and_peers_learn_of_it(
    api: NetworkAPI, cloud: Cloud, agents: dict[str, NetworkManager]
) -> None:
    network_id, _ = network_with_subnet(api)
    client = NetworkAgentAPI(cloud.transport, timeout=WAIT_SECONDS)
    first = bound_port(api, network_id, "host-a")
    assert client.wire_port(ALICE, "host-a", first["id"])["device"] == names.tap(first["id"])
    second = bound_port(api, network_id, "host-b")

    vif = client.wire_port(ALICE, "host-b", second["id"])

    assert vif["port_id"] == second["id"] and port_row(api, second["id"])["status"] == "ACTIVE"
    # host-a serves the network's DHCP: host-b's wiring tells it of the new port's entry at once.
    served = agents["host-a"].driver
    assert isinstance(served, NoopDriver)
    wait_until(lambda: len(served.dhcp_servers[network_id].hosts) == 2, timeout=60)
    # Each host's VXLAN tunnel reaches the other's recorded underlay address.
    assert served.remote_vteps[network_id] == {UNDERLAY["host-b"]}
    other = agents["host-b"].driver
    assert isinstance(other, NoopDriver) and other.remote_vteps[network_id] == {UNDERLAY["host-a"]}
    assert agents["host-b"].driver.inventory().dhcp_servers == frozenset()
    with pytest.raises(PortNotBoundHere):
        client.wire_port(ALICE, "host-a", second["id"])
    client.unwire_port(ALICE, "host-b", second["id"])
    assert port_row(api, second["id"])["status"] == "DOWN"


def test_the_fake_virt_driver_pairs_with_noop_and_unknown_drivers_are_refused(tmp_path: Path) -> None:
    def settings(**values: str) -> Settings:
        return load_settings(data_dir=tmp_path, **values)

    assert resolve_network_driver_name(settings(network_driver="auto", compute_driver="fake")) == "noop"
    assert resolve_network_driver_name(settings(network_driver="linuxbridge")) == "linuxbridge"
    assert isinstance(load_network_driver(settings(network_driver="noop"), "host-a"), NoopDriver)
    with pytest.raises(NetworkDriverError, match="Unknown network driver 'ovs'"):
        load_network_driver(settings(network_driver="ovs"), "host-a")


def test_the_first_host_with_a_vm_behind_a_router_serves_it_and_its_floating_ips(
    api: NetworkAPI, cloud: Cloud, agent: NetworkManager, driver: NoopDriver
) -> None:
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    other_host = NetworkManager(cloud, "host-b", driver=NoopDriver())
    vm = bound_port(api, network_id, "host-a")
    bound_port(api, network_id, "host-b")
    floating = api.floating_ips.create(ALICE, {"floating_network_id": public_id, "port_id": vm["id"]})
    assert floating["status"] == "DOWN"

    agent.sync()
    other_host.sync()

    assert set(driver.routers) == {router_id} and other_host.driver.inventory().routers == frozenset()
    assert [fip.fixed_ip_address for fip in driver.routers[router_id].floating_ips] == [
        vm["fixed_ips"][0]["ip_address"]
    ]
    assert set(driver.networks) == {network_id, public_id}
    router_ports = [api.ports.get(ADMIN, port_id) for port_id in router_port_ids(api, router_id)]
    assert len(router_ports) == 2 and {port["binding:host_id"] for port in router_ports} == {"host-a"}
    assert {port["status"] for port in router_ports} == {"ACTIVE"}
    assert api.floating_ips.get(ALICE, floating["id"])["status"] == "ACTIVE"

    # A second interface joins the router: the host serving it binds the new port too.
    second_network, second_subnet = network_with_subnet(api, cidr="10.1.0.0/24")
    api.routers.add_interface(ALICE, router_id, {"subnet_id": second_subnet})
    other_host.sync()
    agent.sync()
    assert {leg.network_id for leg in driver.routers[router_id].interfaces} == {network_id, second_network}

    api.floating_ips.update(ALICE, floating["id"], {"port_id": None})
    agent.sync()
    assert driver.routers[router_id].floating_ips == ()
    assert api.floating_ips.get(ALICE, floating["id"])["status"] == "DOWN"


def router_port_ids(api: NetworkAPI, router_id: str) -> list[str]:
    with api.db.reader() as session:
        return list(session.scalars(select(PortRow.id).where(PortRow.device_id == router_id)))


class BrokenDriver(NoopDriver):
    """A data plane that cannot wire a flat network (as linuxbridge without its physical interface)."""

    def ensure_network(self, network: Network, remote_vteps: frozenset[str] = frozenset()) -> None:
        if network.segmentation_type == "flat":
            raise NetworkDriverError(f"Physical network {network.physical_network} has no interface here.")
        super().ensure_network(network, remote_vteps)


def test_an_agent_whose_start_up_sync_fails_still_starts_and_wires(api: NetworkAPI, cloud: Cloud) -> None:
    public_id, _ = external_network(api)
    network_id, _, _ = routed_network(api, public_id)
    first = bound_port(api, network_id, "host-a")
    agent = NetworkManager(cloud, "host-a", driver=BrokenDriver())
    service = Service(cloud, agent)
    service.start()  # the sync fails on the router's flat public leg
    try:
        assert agent.driver.inventory().routers == frozenset()
        assert agent.wire_port(ALICE, first["id"])["port_id"] == first["id"]
        assert port_row(api, first["id"])["status"] == "ACTIVE"
    finally:
        service.stop()


def test_a_changed_group_is_applied_at_once_by_the_hosts_that_use_it(
    api: NetworkAPI, cloud: Cloud, agents: dict[str, NetworkManager]
) -> None:
    network_id, _ = network_with_subnet(api)
    port = bound_port(api, network_id, "host-a")
    client = NetworkAgentAPI(cloud.transport, timeout=WAIT_SECONDS)
    client.wire_port(ALICE, "host-a", port["id"])
    (group_id,) = port["security_groups"]
    ssh = {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}
    rule = api.security_groups.create_rule(ALICE, {"security_group_id": group_id, **ssh})

    client.security_groups_changed(ALICE, [group_id])

    used_here = agents["host-a"].driver
    assert isinstance(used_here, NoopDriver)
    wait_until(
        lambda: rule["id"] in {one.id for one in used_here.security_groups[group_id].rules}, timeout=60
    )
    unused = agents["host-b"].driver
    assert isinstance(unused, NoopDriver) and unused.security_groups == {}


def test_an_agent_leaves_a_host_alone_until_its_cloud_wires_something_there(
    api: NetworkAPI, agent: NetworkManager, driver: NoopDriver
) -> None:
    # Another cloud's network in the same namespace (a second all-in-one beside this one, as root).
    foreign = Network(id="0f0f0f0f-0000-4000-8000-000000000000", segmentation_type="vxlan", segmentation_id=7)
    driver.ensure_network(foreign)

    agent.init_host()
    agent.sync()
    assert set(driver.networks) == {foreign.id}

    network_id, _ = network_with_subnet(api)
    port = bound_port(api, network_id, "host-a")
    agent.wire_port(ALICE, port["id"])
    api.ports.delete(ADMIN, port["id"])
    api.networks.delete(ALICE, network_id)
    agent.sync()
    # Once it has wired here the host is its own: the sync converges it whole, to nothing.
    assert driver.networks == {}
