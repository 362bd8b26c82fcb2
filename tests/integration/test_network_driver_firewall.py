"""The linuxbridge driver's nftables firewall with real traffic: two "VMs" on one host's bridge ping
and connect over TCP while their security group changes, established connections survive rule
changes and an agent restart, and anti-spoofing drops forged addresses and DHCP server replies."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.model import AddressPair, HostState, Port, SecurityGroup, SecurityGroupRule
from tests.integration.network_hosts import VM, Lab, tools_available
from tests.support.waiting import WAIT_SECONDS
from tests.unit.network.driver_contract import port_on, vxlan_network

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
A_IP, B_IP = "10.0.0.10", "10.0.0.11"
ECHO_SERVER = """
import socket, sys, threading
server = socket.create_server(("0.0.0.0", int(sys.argv[1])), reuse_port=True)
print("listening", flush=True)
def echo(connection):
    while data := connection.recv(1024):
        connection.sendall(data)
while True:
    threading.Thread(target=echo, args=(server.accept()[0],), daemon=True).start()
"""
HELD_CLIENT = f"""
import socket, sys
connection = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout={WAIT_SECONDS:g})
print("connected", flush=True)
for line in sys.stdin:
    connection.sendall(line.encode())
    print(connection.recv(1024).decode().strip(), flush=True)
"""
CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)"
SEND_UDP = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", int(sys.argv[1])))
sock.sendto(b"offer", (sys.argv[2], 68))
"""
RECEIVE_UDP = """
import socket
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", 68))
sock.settimeout(3)
print("ready", flush=True)
try:
    print(sock.recv(100).decode(), flush=True)
except TimeoutError:
    print("nothing", flush=True)
"""


def rule(
    direction: str, protocol: str | None = None, port: int | None = None, **extra: str
) -> SecurityGroupRule:
    return SecurityGroupRule(
        id=str(uuid.uuid4()),
        direction=direction,  # type: ignore[arg-type]
        protocol=protocol,
        port_range_min=port,
        port_range_max=port,
        **extra,  # type: ignore[arg-type]
    )


@dataclass
class Pair:
    """Two VMs on one bridge, both in group ``web`` (ICMP in from anywhere, SSH in from members)."""

    lab: Lab
    driver: LinuxBridgeDriver
    state: HostState
    a: VM
    b: VM

    @property
    def web(self) -> SecurityGroup:
        return self.state.security_groups[0]

    def connects(self, source: VM, address: str, port: int) -> bool:
        return source.run(sys.executable, "-c", CONNECT, address, str(port)).returncode == 0

    def serve(self, vm: VM, port: int) -> None:
        server = self.lab.spawn(vm, sys.executable, "-c", ECHO_SERVER, str(port))
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    lab = Lab(state_dir=tmp_path / "network")
    try:
        host = lab.namespace("host1")
        network = vxlan_network()
        web_id = str(uuid.uuid4())
        web = SecurityGroup(
            id=web_id,
            rules=(
                rule("ingress", "icmp"),
                rule("ingress", "tcp", 22, remote_group_id=web_id),
                rule("egress"),
            ),
            member_ips=frozenset({A_IP, B_IP}),
        )
        port_a, port_b = port_on(network, 10, (web.id,)), port_on(network, 11, (web.id,))
        vm_a, vm_b = lab.vm(host, port_a), lab.vm(host, port_b)
        driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir)
        state = HostState(networks=(network,), ports=(port_a, port_b), security_groups=(web,))
        driver.sync(state)
        pair = Pair(lab, driver, state, vm_a, vm_b)
        pair.serve(vm_b, 22)
        pair.serve(vm_b, 80)
        yield pair
    finally:
        lab.cleanup()
    assert lab.leftovers() == []


def test_group_rules_decide_new_connections(pair: Pair) -> None:
    assert pair.a.ping(B_IP)
    assert pair.connects(pair.a, B_IP, 22)
    assert not pair.connects(pair.a, B_IP, 80)  # no rule lets it in
    assert not pair.b.ping("10.0.0.12")  # nothing else on the bridge


def test_changing_a_group_cuts_new_connections_but_not_established_ones(pair: Pair) -> None:
    held = pair.lab.spawn(pair.a, sys.executable, "-c", HELD_CLIENT, B_IP, "22")
    assert held.stdin is not None and held.stdout is not None
    assert held.stdout.readline().strip() == "connected"

    without_ssh = replace(pair.web, rules=tuple(r for r in pair.web.rules if r.protocol != "tcp"))
    pair.driver.ensure_security_group(without_ssh)
    assert not pair.connects(pair.a, B_IP, 22)
    assert pair.a.ping(B_IP)
    held.stdin.write("still there\n")
    held.stdin.flush()
    assert held.stdout.readline().strip() == "still there"

    # An agent restart (a new driver reading the kernel) converges without cutting it either.
    restarted = LinuxBridgeDriver(
        pair.driver.host_namespace, local_vtep_ip="198.18.0.1", state_dir=pair.lab.state_dir
    )
    restarted.sync(replace(pair.state, security_groups=(without_ssh,)))
    held.stdin.write("after restart\n")
    held.stdin.flush()
    assert held.stdout.readline().strip() == "after restart"

    pair.driver.ensure_security_group(pair.web)
    assert pair.connects(pair.a, B_IP, 22)


def test_a_remote_group_rule_matches_only_its_members(pair: Pair) -> None:
    pair.driver.ensure_security_group(replace(pair.web, member_ips=frozenset({B_IP})))
    assert not pair.connects(pair.a, B_IP, 22)
    assert pair.a.ping(B_IP)


def test_a_port_in_no_group_gets_nothing_in_or_out(pair: Pair) -> None:
    port_b = replace(pair.b.port, security_group_ids=())
    pair.driver.ensure_port(port_b)
    assert not pair.a.ping(B_IP)
    assert not pair.b.ping(A_IP)
    pair.driver.ensure_port(replace(port_b, port_security_enabled=False))
    assert pair.a.ping(B_IP)


def test_forged_source_addresses_are_dropped(pair: Pair) -> None:
    pair.a.run("ip", "addr", "add", "10.0.0.99/24", "dev", "eth0")
    assert not pair.a.ping(B_IP, count=3, source="10.0.0.99")
    pair.driver.ensure_port(replace(pair.a.port, allowed_address_pairs=(AddressPair("10.0.0.96/29"),)))
    # Three tries: B's neighbour entry for the new address may need its ARP retry once allowed.
    assert pair.a.ping(B_IP, count=3, source="10.0.0.99")

    pair.a.run("ip", "link", "set", "dev", "eth0", "address", "fa:16:3e:00:00:99")
    pair.a.run("ip", "neigh", "flush", "dev", "eth0")
    assert not pair.a.ping(B_IP)


def test_a_vm_cannot_answer_as_a_dhcp_server(pair: Pair) -> None:
    def offer_arrives(port: Port) -> bool:
        pair.driver.ensure_port(port)
        receiver = pair.lab.spawn(pair.b, sys.executable, "-c", RECEIVE_UDP)
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
        pair.a.run(sys.executable, "-c", SEND_UDP, "67", B_IP)
        return receiver.stdout.readline().strip() == "offer"

    assert not offer_arrives(pair.a.port)
    assert offer_arrives(replace(pair.a.port, port_security_enabled=False))  # what the check stops


def test_a_restarted_driver_converging_the_host_loses_no_ping(pair: Pair) -> None:
    loop = pair.lab.spawn(pair.a, "busybox", "ping", "-c", "25", "-i", "0.2", "-W", "1", B_IP)
    time.sleep(1)
    for _ in range(3):  # three agent restarts, each converging the whole host from the kernel
        restarted = LinuxBridgeDriver(
            pair.driver.host_namespace, local_vtep_ip="198.18.0.1", state_dir=pair.lab.state_dir
        )
        restarted.sync(pair.state)
    output, _ = loop.communicate(timeout=WAIT_SECONDS)
    assert "25 packets transmitted, 25 packets received" in output


def test_a_bridge_that_stopped_calling_the_firewall_is_repaired(pair: Pair) -> None:
    # The namespace-wide switch (on by default) is off here, so only the bridge's own flag counts.
    pair.driver.commands.inside("busybox", "sysctl", "-w", "net.bridge.bridge-nf-call-iptables=0")
    bridge = names.bridge(pair.state.networks[0].id)
    pair.driver.commands.ip("link", "set", "dev", bridge, "type", "bridge", "nf_call_iptables", "0")
    assert pair.connects(pair.a, B_IP, 80)  # drift: the inet table no longer sees the bridge
    pair.driver.sync(pair.state)
    assert not pair.connects(pair.a, B_IP, 80)


def test_a_deleted_table_is_rebuilt_by_the_next_call(pair: Pair) -> None:
    pair.driver.commands.inside("nft", "delete", "table", "inet", "overcast")
    pair.driver.commands.inside("nft", "delete", "table", "bridge", "overcast")
    assert pair.connects(pair.a, B_IP, 80)  # drift: nothing filters any more
    pair.driver.sync(pair.state)  # the same driver, whose cached marks are now wrong
    assert not pair.connects(pair.a, B_IP, 80)
    assert pair.connects(pair.a, B_IP, 22)
