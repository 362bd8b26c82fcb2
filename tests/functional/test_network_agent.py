"""The network agent in the whole in-process cloud (noop data plane): a port an admin binds to a host with
the `openstack` CLI turns ACTIVE when that host's agent wires it, as a compute host will ask; a router
and a floating IP made with the CLI turn ACTIVE once the agent with a port behind the router serves it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openstack.connection import Connection

from overcast.context import RequestContext
from overcast.network.drivers import names
from overcast.network.drivers.noop import NoopDriver
from overcast.network.manager import NetworkManager, PortNotBoundHere
from overcast.network.rpcapi import NetworkAgentAPI
from overcast.service import Service
from tests.support.cloud import InProcessCloud
from tests.support.waiting import WAIT_SECONDS

HOST = "compute-1"
COMPUTE_CONTEXT = RequestContext(user_id="compute", project_id="service", roles=("admin",), is_admin=True)


@pytest.fixture(scope="module")
def agent(cloud: InProcessCloud) -> Iterator[NetworkManager]:
    manager = NetworkManager(cloud.cloud, HOST, driver=NoopDriver())
    service = Service(cloud.cloud, manager)
    service.start()
    yield manager
    service.stop()


def test_a_port_bound_to_a_host_is_active_once_its_agent_wired_it(
    cloud: InProcessCloud, agent: NetworkManager, admin: Connection
) -> None:
    cloud.openstack("network", "create", "wired-net")
    subnet = cloud.openstack(
        "subnet", "create", "--network", "wired-net", "--subnet-range", "192.168.60.0/24", "wired-subnet",
        "-f", "json",
    )  # fmt: skip
    port = cloud.openstack(
        "port", "create", "--network", "wired-net", "--host", HOST, "vm-port", "-f", "json",
        user="overcast-admin",
    )  # fmt: skip
    assert port["status"] == "DOWN" and port["binding_host_id"] == HOST
    agents = NetworkAgentAPI(cloud.cloud.transport, timeout=WAIT_SECONDS)

    vif = agents.wire_port(COMPUTE_CONTEXT, HOST, port["id"])

    assert vif["device"] == names.tap(port["id"]) and vif["mac_address"] == port["mac_address"]
    assert vif["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "192.168.60.3"}]
    assert cloud.openstack("port", "show", "vm-port", "-f", "json")["status"] == "ACTIVE"
    assert admin.network.get_port(port["id"]).status == "ACTIVE"
    driver = agent.driver
    assert isinstance(driver, NoopDriver)
    assert set(driver.ports) == {port["id"]}
    # The agent serves the network's DHCP: every port of the network has its entry.
    (server,) = driver.dhcp_servers.values()
    assert {host.ip_address for host in server.hosts} == {"192.168.60.3"}
    dhcp = [
        entry
        for entry in admin.network.ports(network_id=port["network_id"])
        if entry.device_owner == "network:dhcp"
    ]
    assert [entry.binding_host_id for entry in dhcp] == [HOST]

    demo_port = cloud.openstack("port", "create", "--network", "wired-net", "unbound", "-f", "json")
    with pytest.raises(PortNotBoundHere):
        agents.wire_port(COMPUTE_CONTEXT, HOST, demo_port["id"])

    agents.unwire_port(COMPUTE_CONTEXT, HOST, port["id"])
    assert cloud.openstack("port", "show", "vm-port", "-f", "json")["status"] == "DOWN"
    assert driver.ports == {}
    cloud.openstack("port", "delete", "vm-port", "unbound", user="overcast-admin")
    cloud.openstack("network", "delete", "wired-net")


def test_a_router_and_floating_ip_made_with_the_cli_turn_active_on_the_host_that_serves_them(
    cloud: InProcessCloud, agent: NetworkManager
) -> None:
    admin = "overcast-admin"
    cloud.openstack(
        "network", "create", "--external", "--share", "--provider-network-type", "flat",
        "--provider-physical-network", "public", "ext-net", user=admin,
    )  # fmt: skip
    cloud.openstack(
        "subnet", "create", "--network", "ext-net", "--subnet-range", "203.0.113.0/24", "--no-dhcp",
        "ext-subnet", user=admin,
    )  # fmt: skip
    cloud.openstack("network", "create", "inner-net")
    cloud.openstack(
        "subnet", "create", "--network", "inner-net", "--subnet-range", "10.20.0.0/24", "inner-subnet"
    )
    cloud.openstack("router", "create", "edge")
    cloud.openstack("router", "set", "--external-gateway", "ext-net", "edge")
    cloud.openstack("router", "add", "subnet", "edge", "inner-subnet")
    # As the compute host makes a VM's port: bound to its host, in the VM's project.
    port = cloud.openstack(
        "port", "create", "--network", "inner-net", "--host", HOST, "--project", "demo", "inner-port",
        "-f", "json", user=admin,
    )  # fmt: skip
    floating = cloud.openstack("floating", "ip", "create", "--port", port["id"], "ext-net", "-f", "json")
    assert floating["status"] == "DOWN"

    NetworkAgentAPI(cloud.cloud.transport, timeout=WAIT_SECONDS).wire_port(COMPUTE_CONTEXT, HOST, port["id"])
    agent.sync()  # routers are the periodic sync's

    assert cloud.openstack("floating", "ip", "show", floating["id"], "-f", "json")["status"] == "ACTIVE"
    router_ports = cloud.openstack("port", "list", "--router", "edge", "-f", "json", "--long", user=admin)
    assert {entry["Status"] for entry in router_ports} == {"ACTIVE"} and len(router_ports) == 2
    driver = agent.driver
    assert isinstance(driver, NoopDriver)
    (router,) = driver.routers.values()
    assert [fip.floating_ip_address for fip in router.floating_ips] == [floating["floating_ip_address"]]

    cloud.openstack("floating", "ip", "delete", floating["id"])
    cloud.openstack("router", "remove", "subnet", "edge", "inner-subnet")
    cloud.openstack("router", "delete", "edge")
    cloud.openstack("port", "delete", "inner-port", user=admin)
    agent.sync()
    assert driver.routers == {}
