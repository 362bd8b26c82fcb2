"""A floating IP's association and a port's group change reach the linuxbridge data plane at the API's
cast (real kernel, the agent's host a lab namespace, its periodic sync an hour away): associating makes
the VM reachable from the lab's outside namespace within seconds of the API's answer (about one on a
quiet machine, most of it the probe's own process start; the bound is loose for CI's load, and still
hundreds of times shorter than the sync), disassociating cuts it as fast, and so do the port's groups
swapped away from and back to the one letting TCP 22 in."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.cloud import Cloud
from overcast.db import Database
from overcast.network.api.service import NetworkAPI
from overcast.network.drivers.linuxbridge.commands import run
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.manager import NetworkManager
from overcast.network.rpcapi import NetworkAgentAPI
from overcast.service import Service
from tests.integration.network_hosts import Lab, tools_available
from tests.integration.test_network_agent import port_record
from tests.support.waiting import WAIT_SECONDS
from tests.unit.network.agent_setup import ALICE, agent_cloud, bound_port, external_network, routed_network

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
HOST = "lab-changes"
SERVICE_PORT = 22
# The public subnet's gateway, held by the lab's outside namespace (the "upstream router").
OUTSIDE_ADDRESS = "203.0.113.1"
WITHIN = 10.0

LISTENER = """
import socket, sys
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("0.0.0.0", int(sys.argv[1])))
listener.listen(16)
print("listening", flush=True)
while True:
    listener.accept()[0].close()
"""

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.3).close()
except OSError:
    sys.exit(1)
"""


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Cloud:
    # No periodic sync during the test: only the API's casts can change the data plane.
    return agent_cloud(db, tmp_path, network_sync_interval=3600, network_underlay_ip="198.18.0.1")


@pytest.fixture
def agent(cloud: Cloud, lab: Lab) -> Iterator[NetworkManager]:
    host = lab.namespace("host")
    uplink = lab.physical_interface(host)
    outside = lab.name("outside-phys")
    run(["ip", "-n", outside, "addr", "add", f"{OUTSIDE_ADDRESS}/24", "dev", "ovct-out"])
    driver = LinuxBridgeDriver(
        host, local_vtep_ip="198.18.0.1", physical_interfaces={"public": uplink},
        state_dir=lab.state_dir / host,
    )  # fmt: skip
    manager = NetworkManager(cloud, HOST, driver=driver)
    service = Service(cloud, manager)
    service.start()
    try:
        yield manager
    finally:
        service.stop()


def connects_from(namespace: str, address: str) -> bool:
    probe = ["ip", "netns", "exec", namespace, sys.executable, "-c", CONNECT, address, str(SERVICE_PORT)]
    return subprocess.run(probe, capture_output=True, timeout=5, check=False).returncode == 0


def seconds_until(reachable: bool, lab: Lab, address: str, limit: float = 30.0) -> float:
    """Seconds from now until a new connection from outside to `address` succeeds (or fails)."""
    start = time.monotonic()
    while connects_from(lab.name("outside-phys"), address) != reachable:
        assert time.monotonic() - start < limit, f"{address} never became reachable={reachable}"
    return time.monotonic() - start


def test_a_floating_ip_and_a_ports_groups_reach_the_data_plane_at_the_apis_cast(
    cloud: Cloud, lab: Lab, agent: NetworkManager
) -> None:
    api = NetworkAPI(cloud, agents=NetworkAgentAPI(cloud.transport, timeout=WAIT_SECONDS))
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    open_group = api.security_groups.create(ALICE, {"name": "service"})
    api.security_groups.create_rule(
        ALICE,
        {
            "security_group_id": open_group["id"], "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": SERVICE_PORT, "port_range_max": SERVICE_PORT,
        },
    )  # fmt: skip
    closed_group = api.security_groups.create(ALICE, {"name": "closed"})
    port = bound_port(api, network_id, HOST, security_groups=[open_group["id"]])
    vm = lab.vm(str(agent.driver.host_namespace), port_record(port))
    agent.wire_port(ALICE, port["id"])  # brings the router up with it
    run(["ip", "-n", vm.namespace, "route", "add", "default", "via", "10.0.0.1"])
    listener = lab.spawn(vm, sys.executable, "-c", LISTENER, str(SERVICE_PORT))
    assert listener.stdout is not None and listener.stdout.readline().strip() == "listening"
    floating = api.floating_ips.create(ALICE, {"floating_network_id": public_id})
    address = floating["floating_ip_address"]
    assert not connects_from(lab.name("outside-phys"), address)

    api.floating_ips.update(ALICE, floating["id"], {"port_id": port["id"]})
    reachable_after = seconds_until(True, lab, address)
    api.floating_ips.update(ALICE, floating["id"], {"port_id": None})
    cut_after = seconds_until(False, lab, address)

    api.floating_ips.update(ALICE, floating["id"], {"port_id": port["id"]})
    seconds_until(True, lab, address)
    api.ports.update(ALICE, port["id"], {"security_groups": [closed_group["id"]]})
    closed_after = seconds_until(False, lab, address)
    api.ports.update(ALICE, port["id"], {"security_groups": [open_group["id"]]})
    opened_after = seconds_until(True, lab, address)

    print(
        f"floating IP reachable {reachable_after:.3f} s, cut {cut_after:.3f} s; group swap closed "
        f"{closed_after:.3f} s, opened {opened_after:.3f} s after the API answered (router {router_id})"
    )
    assert max(reachable_after, cut_after, closed_after, opened_after) < WITHIN
