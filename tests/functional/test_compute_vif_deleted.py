"""network-vif-deleted acted on through real HTTP: a port deleted in the network service is unplugged
from its server's guest and unwired on the host when the event arrives (as Nova's manager detaches it).
The whole cloud in-process (fake virt driver, a network agent beside the compute host)."""

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


def test_a_deleted_port_leaves_the_guest(
    networked: NetworkedCloud, demo: Connection, admin: Connection
) -> None:
    first, _ = make_network(demo, "vif-first", "10.92.0.0/24")
    second, _ = make_network(demo, "vif-second", "10.93.0.0/24")
    server = boot(demo, "two-nics", networks=[{"uuid": first.id}, {"uuid": second.id}])
    driver = networked.cloud.drivers[HOST]
    kept, gone = driver.interface_ids(server.id)
    try:
        demo.network.delete_port(gone)  # Neutron's side: the port is gone, the guest still has its NIC
        assert driver.interface_ids(server.id) == [kept, gone] and gone in networked.drivers[HOST].ports
        event = {"name": "network-vif-deleted", "server_uuid": server.id, "tag": gone}
        answer = admin.compute.post("/os-server-external-events", json={"events": [event]})
        assert answer.status_code == 200, answer.text
        wait_until(lambda: driver.interface_ids(server.id) == [kept], timeout=20, what="the NIC unplugged")
        assert gone not in networked.drivers[HOST].ports  # unwired on the host too
        assert set(demo.compute.get_server(server.id).addresses) == {"vif-first"}
    finally:
        wait_gone(demo, server)
