"""Routers from the linuxbridge driver with real traffic: a "VM" on a private VXLAN network reaches the
"outside" (a namespace at the far end of the flat external network) through its router's SNAT, a
floating IP makes the VM reachable from outside and becomes its source address, and taking the
floating IP away cuts new connections while a router change keeps established ones."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import HostCommands, namespaces, run
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.model import (
    FloatingIP,
    HostRoute,
    HostState,
    Router,
    SecurityGroup,
    SecurityGroupRule,
)
from tests.integration.network_hosts import VM, Lab, tools_available
from tests.support.waiting import WAIT_SECONDS
from tests.unit.network.driver_contract import flat_network, port_on, router_between, vxlan_network

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
OUTSIDE_IP, GATEWAY_IP, FLOATING_IP, VM_IP = "198.51.100.1", "198.51.100.10", "198.51.100.20", "10.0.0.10"
# Answers each connection with the address it came from, then keeps echoing.
PEER_SERVER = """
import socket, sys, threading
server = socket.create_server(("0.0.0.0", int(sys.argv[1])), reuse_port=True)
print("listening", flush=True)
def serve(connection, peer):
    connection.sendall(peer[0].encode() + b"\\n")
    while data := connection.recv(1024):
        connection.sendall(data)
while True:
    threading.Thread(target=serve, args=server.accept(), daemon=True).start()
"""
WHO_AM_I = """
import socket, sys
connection = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
print(connection.recv(100).decode().strip())
"""
HELD_CLIENT = f"""
import socket, sys
connection = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout={WAIT_SECONDS:g})
print(connection.recv(100).decode().strip(), flush=True)
for line in sys.stdin:
    connection.sendall(line.encode())
    print(connection.recv(1024).decode().strip(), flush=True)
"""


def rule(direction: str, **fields: object) -> SecurityGroupRule:
    return SecurityGroupRule(id=str(uuid.uuid4()), direction=direction, **fields)  # type: ignore[arg-type]


@dataclass
class Site:
    lab: Lab
    driver: LinuxBridgeDriver
    state: HostState
    router: Router
    vm: VM
    outside: str

    def seen_from(self, namespace: str, address: str, port: int, seconds: float = WAIT_SECONDS) -> str:
        """The address a server at ``address`` saw this connection come from ("" if none came within
        ``seconds``: the checks that expect none pass a short wait)."""
        who_am_i = [sys.executable, "-c", WHO_AM_I, address, str(port), str(seconds)]
        reply = subprocess.run(
            ["ip", "netns", "exec", namespace, *who_am_i],
            capture_output=True,
            text=True,
            timeout=seconds + 20,
            check=False,
        )
        return reply.stdout.strip()

    def serve(self, namespace: str, port: int) -> None:
        server = self.lab.spawn(namespace, sys.executable, "-c", PEER_SERVER, str(port))
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    lab = Lab(state_dir=tmp_path / "network")
    try:
        host = lab.namespace("host1")
        outside = lab.name("outside-phys")
        driver = LinuxBridgeDriver(
            host, local_vtep_ip="198.18.0.1", physical_interfaces={"physnet1": lab.physical_interface(host)},
            state_dir=lab.state_dir / host,
        )  # fmt: skip
        run(["ip", "-n", outside, "addr", "add", f"{OUTSIDE_IP}/24", "dev", "ovct-out"])
        private, public = vxlan_network(), flat_network()
        group = SecurityGroup(
            id=str(uuid.uuid4()),
            rules=(rule("egress"), rule("ingress", protocol="tcp", port_range_min=22, port_range_max=22)),
        )
        port = port_on(private, 10, (group.id,))
        vm = lab.vm(host, port)
        vm.run("ip", "route", "add", "default", "via", "10.0.0.1")
        router = router_between(private, public)
        state = HostState(networks=(private, public), ports=(port,), security_groups=(group,))
        state = replace(state, routers=(router,))
        driver.sync(state)
        site = Site(lab, driver, state, router, vm, outside)
        site.serve(outside, 8080)
        site.serve(vm.namespace, 22)
        yield site
    finally:
        lab.cleanup()
    assert lab.leftovers() == []


def test_a_vm_reaches_the_outside_through_the_routers_snat(site: Site) -> None:
    assert site.seen_from(site.vm.namespace, OUTSIDE_IP, 8080) == GATEWAY_IP
    assert site.seen_from(site.outside, VM_IP, 22, seconds=3) == ""  # no route in, nor NAT


def test_a_floating_ip_reaches_the_vm_and_is_its_source_address(site: Site) -> None:
    with_floating = replace(site.router, floating_ips=(FloatingIP(FLOATING_IP, VM_IP),))
    site.driver.ensure_router(with_floating)
    assert site.seen_from(site.outside, FLOATING_IP, 22) == OUTSIDE_IP
    assert site.seen_from(site.vm.namespace, OUTSIDE_IP, 8080) == FLOATING_IP

    held = site.lab.spawn(site.outside, sys.executable, "-c", HELD_CLIENT, FLOATING_IP, "22")
    assert held.stdin is not None and held.stdout is not None
    assert held.stdout.readline().strip() == OUTSIDE_IP
    # Changing the router (its NAT table replaced whole) and a restarted driver keep the connection.
    assert with_floating.gateway is not None
    without_snat = replace(with_floating.gateway, enable_snat=False)
    site.driver.ensure_router(replace(with_floating, gateway=without_snat))
    LinuxBridgeDriver(
        site.driver.host_namespace, local_vtep_ip="198.18.0.1",
        physical_interfaces={"physnet1": "ovct-phys"}, state_dir=site.lab.state_dir / "restarted",
    ).sync(replace(site.state, routers=(with_floating,)))  # fmt: skip
    held.stdin.write("still there\n")
    held.stdin.flush()
    assert held.stdout.readline().strip() == "still there"

    site.driver.ensure_router(site.router)  # the floating IP taken away
    assert site.seen_from(site.outside, FLOATING_IP, 22, seconds=3) == ""
    assert site.seen_from(site.vm.namespace, OUTSIDE_IP, 8080) == GATEWAY_IP


def test_removing_the_router_removes_its_namespace_and_legs(site: Site) -> None:
    namespace = site.driver.routers.namespace(site.router.id)
    assert namespace in namespaces()
    site.driver.remove_router(site.router.id)
    assert namespace not in namespaces()
    assert [link for link in site.driver.links.all() if link.startswith("ovr-")] == []
    assert site.seen_from(site.vm.namespace, OUTSIDE_IP, 8080, seconds=3) == ""



def test_extra_routes_and_interfaces_converge_on_what_is_asked(site: Site) -> None:
    namespace = HostCommands(site.driver.routers.namespace(site.router.id))
    routes = (HostRoute("10.9.0.0/16", OUTSIDE_IP), HostRoute("10.8.0.5/32", OUTSIDE_IP))
    site.driver.ensure_router(replace(site.router, routes=routes))
    site.driver.ensure_router(replace(site.router, routes=routes[1:]))
    static = namespace.ip_json("route", "show", "proto", "static")
    assert [(entry["dst"], entry["gateway"]) for entry in static] == [("10.8.0.5", OUTSIDE_IP)]

    site.driver.ensure_router(replace(site.router, interfaces=()))  # the subnet detached
    assert [link["ifname"] for link in namespace.ip_json("link", "show") if link["ifname"] != "lo"] == [
        names.router_namespace_side(site.router.gateway.port_id)  # type: ignore[union-attr]
    ]
    assert site.seen_from(site.vm.namespace, OUTSIDE_IP, 8080, seconds=3) == ""
