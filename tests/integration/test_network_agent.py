"""The network agent on the linuxbridge driver, in a namespace standing for its host (real kernel): ports
the Networking API binds to the host are wired (taps on the network's bridge, DHCP entries, a metadata
proxy in the DHCP namespace), two VM namespaces ping each other, the periodic sync restarts a killed
dnsmasq, a restarted agent cuts no established traffic, and once everything is deleted the host holds
nothing of Overcast's; a router the agent serves takes a VM out through SNAT to a lab "outside" and
brings its floating IP in; two hosts' agents join a network over VXLAN."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from overcast.cloud import Cloud
from overcast.db import Database
from overcast.db.models.network import Port as PortRow
from overcast.network.api.service import NetworkAPI
from overcast.network.defaults import Outside
from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import namespaces
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.model import FixedIP, Inventory, Port
from overcast.network.manager import NetworkManager
from overcast.network.rpcapi import NetworkAgentAPI
from overcast.service import Service
from tests.integration.network_hosts import VM, Lab, tools_available
from tests.support.waiting import WAIT_SECONDS, wait_until
from tests.unit.network.agent_setup import (
    ADMIN,
    ALICE,
    agent_cloud,
    bound_port,
    external_network,
    network_api,
    network_with_subnet,
    routed_network,
)

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
AGENT_HOST = "lab-host"
UNDERLAY_IP = "198.18.0.1"


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Cloud:
    return agent_cloud(db, tmp_path, network_sync_interval=0.5, network_underlay_ip=UNDERLAY_IP)


class Agent:
    """The agent of the lab's host as its own service: started, stopped and started again like a daemon."""

    def __init__(self, cloud: Cloud, lab: Lab, host_namespace: str) -> None:
        self.cloud = cloud
        self.lab = lab
        self.host_namespace = host_namespace
        self.service: Service | None = None

    @property
    def driver(self) -> LinuxBridgeDriver:
        assert self.service is not None
        driver = self.service.manager.driver  # type: ignore[attr-defined]
        assert isinstance(driver, LinuxBridgeDriver)
        return driver

    @property
    def manager(self) -> NetworkManager:
        assert self.service is not None and isinstance(self.service.manager, NetworkManager)
        return self.service.manager

    def start(self, physical_interfaces: dict[str, str] | None = None) -> None:
        driver = LinuxBridgeDriver(
            self.host_namespace,
            local_vtep_ip=UNDERLAY_IP,
            physical_interfaces=physical_interfaces,
            state_dir=self.lab.state_dir / self.host_namespace,
        )
        self.service = Service(self.cloud, NetworkManager(self.cloud, AGENT_HOST, driver=driver))
        self.service.start()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None


@pytest.fixture
def agent(cloud: Cloud, lab: Lab) -> Iterator[Agent]:
    running = Agent(cloud, lab, lab.namespace("host"))
    try:
        yield running
    finally:
        running.stop()


def port_record(port: dict[str, Any]) -> Port:
    """What the lab needs to make the port's VM: its device name, MAC and address."""
    (fixed,) = port["fixed_ips"]
    port_id = port["id"]
    return Port(
        id=port_id,
        network_id=port["network_id"],
        mac_address=port["mac_address"],
        device=names.tap(port_id),
        fixed_ips=(FixedIP(fixed["subnet_id"], fixed["ip_address"]),),
    )


def ip_json(namespace: str, *args: str) -> list[dict[str, Any]]:
    shown = subprocess.run(["ip", "-n", namespace, "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(shown.stdout or "[]")  # type: ignore[no-any-return]


def on_bridge(namespace: str, bridge: str) -> set[str]:
    return {str(link["ifname"]) for link in ip_json(namespace, "link", "show", "master", bridge)}


def overcast_links(namespace: str) -> list[str]:
    return [
        str(link["ifname"])
        for link in ip_json(namespace, "link", "show")
        if str(link["ifname"]).startswith("ov")
    ]


def nft_tables(namespace: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", namespace, "nft", "list", "tables"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def listening(namespace: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", namespace, "ss", "-ltnH"], capture_output=True, text=True, check=True
    ).stdout


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{pid}").exists() or "Z" in _state(pid), what=f"pid {pid} to die")


def _state(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return "Z"


def lost_packets(output: str) -> int:
    found = re.search(r"(\d+) packets transmitted, (\d+) packets received", output)
    assert found, output
    return int(found[1]) - int(found[2])


def test_the_agent_wires_repairs_restarts_and_cleans_up(cloud: Cloud, lab: Lab, agent: Agent) -> None:
    api: NetworkAPI = network_api(cloud)
    network_id, _ = network_with_subnet(api, cidr="10.0.0.0/24")
    ports = [bound_port(api, network_id, AGENT_HOST) for _ in range(2)]
    vms: list[VM] = [lab.vm(agent.host_namespace, port_record(port)) for port in ports]
    agent.start()
    host = agent.host_namespace
    bridge = names.bridge(network_id)

    # The agent's start-up sync wired both ports already; the compute host's wire_port is then a no-op
    # that returns the VIF and sets the port ACTIVE.
    for port in ports:
        vif = agent.manager.wire_port(ALICE, port["id"])
        assert vif["device"] == names.tap(port["id"]) and vif["mtu"] == 1450
        assert api.ports.get(ADMIN, port["id"])["status"] == "ACTIVE"
    assert on_bridge(host, bridge) == {names.tap(port["id"]) for port in ports} | {
        names.vxlan(network_id),
        names.dhcp_host_side(network_id),
    }
    hosts_file = agent.driver.dhcp.state_dir / network_id / "hosts"
    entries = hosts_file.read_text()
    assert all(str(port["mac_address"]) in entries for port in ports)
    address_of_second = ports[1]["fixed_ips"][0]["ip_address"]
    assert vms[0].ping(address_of_second)
    dhcp_namespace = agent.driver.dhcp.namespace(network_id)
    assert "169.254.169.254:80" in listening(dhcp_namespace)  # the network's metadata proxy
    # A guest reaches it through the DHCP port (the route DHCP's option 121 gives a guest): the proxy
    # knows the VM by its address and forwards, and with no API in this test the answer is a 502; an
    # address it did not know would be a 404 that reaches nothing.
    vms[0].run("ip", "route", "add", "169.254.169.254/32", "via", "10.0.0.2")
    answer = vms[0].run("busybox", "wget", "-q", "-O", "-", "http://169.254.169.254/openstack")
    assert "502" in answer.stderr, answer.stderr

    # A killed dnsmasq comes back with the next periodic sync.
    first_pid = agent.driver.dhcp.pid(network_id)
    assert first_pid is not None
    kill(first_pid)
    restarted = wait_until(lambda: agent.driver.dhcp.pid(network_id), timeout=60, what="dnsmasq to restart")
    assert restarted != first_pid

    # Restarting the agent cuts nothing established: a ping running across the restart loses ≤ 1 packet.
    pinging = lab.spawn(vms[0], "busybox", "ping", "-c", "40", "-i", "0.1", "-W", "1", address_of_second)
    agent.stop()
    agent.start()
    assert pinging.poll() is None, "the restart must happen while the ping runs"
    output, _ = pinging.communicate(timeout=30)
    assert lost_packets(output) <= 1, output
    assert agent.driver.dhcp.pid(network_id) == restarted  # the restart's sync kept the running dnsmasq
    assert "169.254.169.254:80" in listening(dhcp_namespace)  # the new agent's proxy

    # Delete everything: the sync leaves the host empty.
    for port in ports:
        agent.manager.unwire_port(ALICE, port["id"])
        api.ports.delete(ADMIN, port["id"])
    api.networks.delete(ALICE, network_id)
    agent.manager.sync()
    # The VMs' NICs were the test's veths, not taps the driver made: the driver only took them off the
    # bridge, and they go with the VMs.
    assert [link for link in ip_json(host, "link", "show") if "master" in link] == []
    for vm in vms:
        subprocess.run(["ip", "netns", "del", vm.namespace], check=True)
    wait_until(lambda: overcast_links(host) == [], timeout=60, what="the VMs' veths to go with them")
    assert "overcast" not in nft_tables(host)
    assert agent.driver.dhcp.pid(network_id) is None and agent.driver.dhcp.networks() == frozenset()
    agent.stop()


def test_a_router_the_agent_serves_takes_a_vm_outside_and_brings_its_floating_ip_in(
    cloud: Cloud, lab: Lab, agent: Agent
) -> None:
    host = agent.host_namespace
    uplink = lab.physical_interface(host)
    outside = lab.name("outside-phys")
    # The outside world's router on the public network: an address inside the lab's own namespace.
    subprocess.run(["ip", "-n", outside, "addr", "add", "203.0.113.1/24", "dev", "ovct-out"], check=True)
    api = network_api(cloud)
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    port = bound_port(api, network_id, AGENT_HOST)
    (group,) = port["security_groups"]
    api.security_groups.create_rule(
        ALICE, {"security_group_id": group, "direction": "ingress", "protocol": "icmp"}
    )
    floating = api.floating_ips.create(ALICE, {"floating_network_id": public_id, "port_id": port["id"]})
    vm = lab.vm(host, port_record(port))
    subprocess.run(["ip", "-n", vm.namespace, "route", "add", "default", "via", "10.0.0.1"], check=True)

    agent.start(physical_interfaces={"public": uplink})

    assert agent.driver.inventory().routers == {router_id}
    assert vm.ping("203.0.113.1")  # out through the router's SNAT
    from_outside = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            outside,
            "busybox",
            "ping",
            "-c",
            "2",
            "-W",
            "1",
            floating["floating_ip_address"],
        ],
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        check=False,
    )
    assert from_outside.returncode == 0, from_outside.stdout + from_outside.stderr
    assert api.floating_ips.get(ALICE, floating["id"])["status"] == "ACTIVE"

    api.floating_ips.delete(ALICE, floating["id"])
    api.routers.update(ALICE, router_id, {"external_gateway_info": {}})
    api.routers.remove_interface(ALICE, router_id, {"port_id": router_interface(api, router_id)})
    api.routers.delete(ALICE, router_id)
    api.ports.delete(ADMIN, port["id"])
    api.networks.delete(ALICE, network_id)
    api.networks.delete(ADMIN, public_id)
    agent.manager.sync()
    assert agent.driver.inventory() == Inventory()
    # The uplink is the host's, not the agent's: it stays, off any bridge.
    assert [str(link["ifname"]) for link in ip_json(host, "link", "show") if "master" in link] == []
    assert "overcast" not in nft_tables(host)


def router_interface(api: NetworkAPI, router_id: str) -> str:
    with api.db.reader() as session:
        return session.scalars(
            select(PortRow.id).where(
                PortRow.device_id == router_id, PortRow.device_owner == "network:router_interface"
            )
        ).one()


def test_the_all_in_ones_outside_is_made_once_and_repaired(lab: Lab) -> None:
    host = lab.namespace("host")
    outside = Outside(namespace=lab.name("outside"), host_side="ovct-pub", host_namespace=host)

    outside.ensure()
    outside.ensure()
    subprocess.run(["ip", "-n", host, "link", "del", "ovct-pub"], check=True)  # drift: the host end gone
    outside.ensure()

    (inside,) = [link for link in ip_json(outside.namespace, "addr", "show") if link["ifname"] == "eth0"]
    assert ipv4(inside) == [("172.24.4.1", 24)]
    assert "ovct-pub" in {str(link["ifname"]) for link in ip_json(host, "link", "show")}
    assert ipv4(ip_json(host, "addr", "show", "dev", "ovct-pub")[0]) == []  # the host gets no address
    outside.remove()
    assert outside.namespace not in namespaces()


def ipv4(link: dict[str, Any]) -> list[tuple[str, int]]:
    return [(found["local"], found["prefixlen"]) for found in link["addr_info"] if found["family"] == "inet"]


def test_two_hosts_agents_join_a_network_over_vxlan_without_waiting_for_a_sync(
    db: Database, tmp_path: Path, lab: Lab
) -> None:
    underlay = {lab.namespace("host1"): "198.18.0.1", lab.namespace("host2"): "198.18.0.2"}
    lab.underlay(underlay)
    # A sync every 5 minutes: what the second host's wiring changes on the first comes by the fanout.
    shared = agent_cloud(db, tmp_path, network_sync_interval=300)
    services = []
    for host, address in underlay.items():
        cloud = Cloud(
            settings=shared.settings.model_copy(update={"network_underlay_ip": address}),
            db=db,
            transport=shared.transport,
        )
        driver = LinuxBridgeDriver(host, local_vtep_ip=address, state_dir=lab.state_dir / host)
        services.append(Service(cloud, NetworkManager(cloud, host, driver=driver)))
    for service in services:
        service.start()
    try:
        api = network_api(shared)
        network_id, _ = network_with_subnet(api)
        first_host, second_host = underlay
        agents = NetworkAgentAPI(shared.transport, timeout=30)
        ports, vms = {}, {}
        # One after the other: the first host has wired its port (and serves DHCP) before the second
        # host's port exists, so only the second wiring's fanout can tell the first about it.
        for host in underlay:
            ports[host] = bound_port(api, network_id, host)
            vms[host] = lab.vm(host, port_record(ports[host]))
            agents.wire_port(ALICE, host, ports[host]["id"])

        first_driver = services[0].manager.driver  # type: ignore[attr-defined]
        wait_until(
            lambda: first_driver.inventory().vteps == {network_id: frozenset({"198.18.0.2"})}, what="the VTEP"
        )
        hosts_file = first_driver.dhcp.state_dir / network_id / "hosts"
        wait_until(lambda: ports[second_host]["mac_address"] in hosts_file.read_text(), what="the DHCP entry")
        second_driver = services[1].manager.driver  # type: ignore[attr-defined]
        assert second_driver.inventory().vteps == {network_id: frozenset({"198.18.0.1"})}
        assert second_driver.inventory().dhcp_servers == frozenset()  # the first host serves DHCP
        assert vms[second_host].ping(ports[first_host]["fixed_ips"][0]["ip_address"])
    finally:
        for service in services:
            service.stop()
