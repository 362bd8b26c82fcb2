"""network-vif-deleted through real HTTP: a port deleted in the network service is unplugged from its
server's guest and unwired on the host, the network service telling compute as Neutron's nova notifier
does; the event posted by hand (an operator, another notifier) is acted on too. The whole cloud
in-process (fake virt driver, a network agent beside the compute host)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openstack.connection import Connection

from overcast.network.drivers.noop import NoopDriver
from tests.functional.test_compute_networks import NetworkedCloud, boot, make_network, wait_gone
from tests.support.cloud import InProcessCloud
from tests.support.waiting import wait_until

HOST = "compute-1"


@pytest.fixture(scope="module")
def networked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkedCloud]:
    running = NetworkedCloud(tmp_path_factory.mktemp("vif-deleted"), {HOST: NoopDriver()})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cloud(networked: NetworkedCloud) -> InProcessCloud:
    return networked.cloud


def test_a_deleted_port_leaves_the_guest(networked: NetworkedCloud, demo: Connection) -> None:
    first, _ = make_network(demo, "vif-first", "10.92.0.0/24")
    second, _ = make_network(demo, "vif-second", "10.93.0.0/24")
    server = boot(demo, "two-nics", networks=[{"uuid": first.id}, {"uuid": second.id}])
    driver = networked.cloud.drivers[HOST]
    kept, gone = driver.interface_ids(server.id)
    try:
        demo.network.delete_port(gone)  # nothing else: the network service tells compute
        wait_until(lambda: driver.interface_ids(server.id) == [kept], timeout=60, what="the NIC unplugged")
        wait_until(lambda: gone not in networked.drivers[HOST].ports, timeout=60, what="the port unwired")
        assert set(demo.compute.get_server(server.id).addresses) == {"vif-first"}
        assert driver.interface_ids(server.id) == [kept]
    finally:
        wait_gone(demo, server)


def test_the_event_posted_by_hand_unplugs_the_nic(
    networked: NetworkedCloud, demo: Connection, admin: Connection
) -> None:
    network, _ = make_network(demo, "vif-posted", "10.94.0.0/24")
    server = boot(demo, "posted", networks=[{"uuid": network.id}])
    driver = networked.cloud.drivers[HOST]
    [port_id] = driver.interface_ids(server.id)
    try:
        event = {"name": "network-vif-deleted", "server_uuid": server.id, "tag": port_id}
        answer = admin.compute.post("/os-server-external-events", json={"events": [event]})
        assert answer.status_code == 200, answer.text
        wait_until(lambda: driver.interface_ids(server.id) == [], timeout=60, what="the NIC unplugged")
        # The network agent unwires the port on its own cast, after the compute host's unplug.
        wait_until(lambda: port_id not in networked.drivers[HOST].ports, timeout=60, what="the port unwired")
    finally:
        wait_gone(demo, server)
