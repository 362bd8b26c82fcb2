"""The first VM port wired behind a router brings the router up with it (found by the end-to-end test,
whose router came only with the agent's next periodic sync, up to 30 s after its first VM booted).

The agent's host is a lab namespace; its periodic sync is 5 minutes away, so only the wiring can do it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from overcast.cloud import Cloud
from overcast.db import Database
from overcast.db.models.network import Port as PortRow
from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import namespaces
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.manager import NetworkManager
from overcast.network.rpcapi import NetworkAgentAPI
from overcast.service import Service
from tests.integration.network_hosts import Lab, tools_available
from tests.unit.network.agent_setup import (
    ALICE,
    agent_cloud,
    bound_port,
    external_network,
    network_api,
    routed_network,
)

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
HOST = "lab-host"


@pytest.fixture
def cloud(db: Database, tmp_path: Path, lab: Lab) -> Iterator[tuple[Cloud, str]]:
    cloud = agent_cloud(db, tmp_path, network_sync_interval=300, network_underlay_ip="198.18.0.1")
    host_namespace = lab.namespace("host")
    uplink = lab.physical_interface(host_namespace)
    driver = LinuxBridgeDriver(
        host_namespace, local_vtep_ip="198.18.0.1", physical_interfaces={"public": uplink},
        state_dir=lab.state_dir / host_namespace,
    )  # fmt: skip
    agent = Service(cloud, NetworkManager(cloud, HOST, driver=driver))
    agent.start()
    try:
        yield cloud, host_namespace
    finally:
        agent.stop()


def test_wiring_the_first_vm_port_behind_a_router_serves_the_router_at_once(cloud: tuple[Cloud, str]) -> None:
    running, host_namespace = cloud
    api = network_api(running)
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    port = bound_port(api, network_id, HOST)
    assert names.router_namespace(router_id, host_namespace) not in namespaces()

    NetworkAgentAPI(running.transport, timeout=30).wire_port(ALICE, HOST, port["id"])

    assert names.router_namespace(router_id, host_namespace) in namespaces()
    with running.db.reader() as session:
        legs = session.execute(
            select(PortRow.binding_host_id, PortRow.status).where(PortRow.device_id == router_id)
        )
        assert set(legs) == {(HOST, "ACTIVE")}  # its interface and gateway, bound here and reported up
