"""The Networking API's fanouts on the linuxbridge data plane (real kernel, a lab namespace for the host,
no periodic sync within the test): removing an SSH-like TCP rule cuts new connections between two VM
namespaces at once after the API's answer, adding it back lets them through as fast, and a
connection established before the change keeps working throughout (conntrack's established state)."""

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
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.manager import NetworkManager
from overcast.network.rpcapi import NetworkAgentAPI
from overcast.service import Service
from tests.integration.network_hosts import VM, Lab, tools_available
from tests.integration.test_network_agent import port_record
from tests.support.waiting import WAIT_SECONDS, wait_until
from tests.unit.network.agent_setup import ADMIN, ALICE, agent_cloud, bound_port, network_with_subnet

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
AGENT_HOST = "lab-notices"
SSH_PORT = 22
# What the change may take at most, from the API's answer to the kernel's verdict (probes included): a sanity
# bound that holds on CI's loaded machine; bench/network.py measures the rule change itself (target < 1 s).
WITHIN = 10.0

ECHO_SERVER = """
import socket, sys, threading
def serve(conn):
    with conn:
        while data := conn.recv(64):
            conn.sendall(data)
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("0.0.0.0", int(sys.argv[1])))
listener.listen(16)
print("listening", flush=True)
while True:
    threading.Thread(target=serve, args=(listener.accept()[0],), daemon=True).start()
"""

# Holds one connection and echoes a byte through it each time the test writes a line on its stdin.
HELD_CLIENT = f"""
import socket, sys
conn = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout={WAIT_SECONDS:g})
print("connected", flush=True)
for line in sys.stdin:
    try:
        conn.sendall(b"x")
        print("ok" if conn.recv(1) == b"x" else "closed", flush=True)
    except OSError as error:
        print("failed", error, flush=True)
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
    # No periodic sync during the test: only the API's fanout can change the firewall.
    return agent_cloud(db, tmp_path, network_sync_interval=3600, network_underlay_ip="198.18.0.1")


@pytest.fixture
def agent(cloud: Cloud, lab: Lab) -> Iterator[NetworkManager]:
    host = lab.namespace("host")
    driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host)
    manager = NetworkManager(cloud, AGENT_HOST, driver=driver)
    service = Service(cloud, manager)
    service.start()
    try:
        yield manager
    finally:
        service.stop()


def connects(vm: VM, address: str) -> bool:
    return vm.run(sys.executable, "-c", CONNECT, address, str(SSH_PORT), timeout=5).returncode == 0


def seconds_until(predicate_holds: bool, vm: VM, address: str, limit: float = WAIT_SECONDS) -> float:
    """Seconds from now until a new connection's outcome is `predicate_holds`."""
    start = time.monotonic()
    while connects(vm, address) != predicate_holds:
        assert time.monotonic() - start < limit, f"connections never became {predicate_holds}"
    return time.monotonic() - start


def echoes(client: subprocess.Popen[str]) -> str:
    assert client.stdin is not None and client.stdout is not None
    client.stdin.write("\n")
    client.stdin.flush()
    return client.stdout.readline().strip()


def test_a_rule_removed_or_added_through_the_api_takes_effect_at_once_and_keeps_established_flows(
    cloud: Cloud, lab: Lab, agent: NetworkManager
) -> None:
    api = NetworkAPI(cloud, agents=NetworkAgentAPI(cloud.transport, timeout=WAIT_SECONDS))
    network_id, _ = network_with_subnet(api, cidr="10.0.0.0/24")
    group = api.security_groups.create(ALICE, {"name": "ssh"})
    rule_body = {
        "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4",
        "protocol": "tcp", "port_range_min": SSH_PORT, "port_range_max": SSH_PORT,
    }  # fmt: skip
    rule = api.security_groups.create_rule(ALICE, rule_body)
    ports = [bound_port(api, network_id, AGENT_HOST, security_groups=[group["id"]]) for _ in range(2)]
    client_vm, server_vm = (lab.vm(str(agent.driver.host_namespace), port_record(port)) for port in ports)
    for port in ports:
        agent.wire_port(ALICE, port["id"])
    server_address = ports[1]["fixed_ips"][0]["ip_address"]
    server = lab.spawn(server_vm, sys.executable, "-c", ECHO_SERVER, str(SSH_PORT))
    assert server.stdout is not None and server.stdout.readline().strip() == "listening"
    wait_until(lambda: connects(client_vm, server_address), 60, what="the first connection")
    held = lab.spawn(client_vm, sys.executable, "-c", HELD_CLIENT, server_address, str(SSH_PORT))
    assert held.stdout is not None and held.stdout.readline().strip() == "connected"
    assert echoes(held) == "ok"

    api.security_groups.delete_rule(ALICE, rule["id"])
    cut_after = seconds_until(False, client_vm, server_address)
    assert echoes(held) == "ok", "the established connection was cut with the rule"

    rule = api.security_groups.create_rule(ALICE, rule_body)
    restored_after = seconds_until(True, client_vm, server_address)
    assert echoes(held) == "ok"

    print(f"new connections cut {cut_after:.3f} s and restored {restored_after:.3f} s after the API answered")
    assert cut_after < WITHIN and restored_after < WITHIN

    for port in ports:
        agent.unwire_port(ALICE, port["id"])
        api.ports.delete(ADMIN, port["id"])
    api.networks.delete(ALICE, network_id)
    agent.sync()
