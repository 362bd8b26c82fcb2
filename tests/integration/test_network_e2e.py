"""End to end with real VMs: the tiny guest under QEMU (TCG) on two compute hosts whose network agents run
the linuxbridge driver, driven through the `openstack` CLI and openstacksdk.

Each compute host is a lab namespace (its bridges, taps, VXLAN end, router and DHCP namespaces, and its
QEMU, started through a wrapper that enters it, so the VMs' taps are there); a veth underlay joins the two,
and the first host's "physical" NIC leads to an outside namespace on the flat `public` network. The API,
conductor, scheduler, compute services and agents run in this process on loopback over the in-process
bus. An availability zone per host (an aggregate, as an operator makes one) says where each VM boots.

Three VMs, booted once for the module: ``a`` (host 1) and ``b`` (host 2) on ``net1``, ``c`` (host 1) on
``net2``; a router joins both networks and has its gateway on ``public``. The tests reach the guests over
SSH (dropbear, the key from the config drive) from the router's namespace, and a floating IP from outside.
Timings it prints: how long a deleted or re-added SSH rule takes to reach new connections.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.cloud import Cloud
from overcast.guest.publish import DEFAULT_IMAGE_ID
from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import namespaces
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.manager import NetworkManager
from overcast.service import Service
from tests.integration.network_hosts import Lab, tools_available
from tests.support import qemu
from tests.support.cloud import TINY, InProcessCloud
from tests.support.guests import WAIT, wait_status
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (qemu.qemu_available() and tools_available() and Path("/dev/net/tun").exists()),
        reason="prerequisites: qemu-system-x86_64, /dev/net/tun, root and iproute2, nftables, dnsmasq",
    ),
]
HOSTS = ("e2e-host-1", "e2e-host-2")
UNDERLAY = ("198.18.0.1", "198.18.0.2")
OUTSIDE_IP = "203.0.113.1"
READY = "OVERCAST-GUEST-READY"
UPLINK = "ovct-phys"
ADMIN = "overcast-admin"


@dataclass
class Site:
    cloud: InProcessCloud
    lab: Lab
    hosts: tuple[str, str]  # the hosts' namespaces
    agents: tuple[NetworkManager, NetworkManager]
    outside: str
    router_id: str
    networks: dict[str, str]  # name -> id
    servers: dict[str, Any]  # name -> server
    ssh_group_id: str

    @property
    def demo(self) -> Connection:
        return self.cloud.connect("demo")

    def fixed_ip(self, server: str, network: str = "net1") -> str:
        ports = self.demo.network.ports(device_id=self.servers[server].id, network_id=self.networks[network])
        (port,) = list(ports)
        return str(port.fixed_ips[0]["ip_address"])

    def router_namespace(self) -> str:
        return names.router_namespace(self.router_id, self.hosts[0])

    def ssh(self, server: str, command: str, network: str = "net1") -> str:
        """`command`'s output in the guest, over SSH from the router's namespace (retried while its sshd
        starts)."""
        address = self.fixed_ip(server, network)
        result = wait_until(lambda: succeeded(guest_ssh(self.router_namespace(), address, command)),
                            90, what=f"ssh {server} {command!r}", interval=1)  # fmt: skip
        assert result is not None
        return result.stdout


def guest_ssh(
    namespace: str, address: str, command: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    key, _ = qemu.ssh_key()
    return subprocess.run(
        ["ip", "netns", "exec", namespace, "dbclient", "-y", "-y", "-i", str(key), f"root@{address}",
         command],
        capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(qemu.workdir())},
    )  # fmt: skip


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str] | None:
    return result if result.returncode == 0 else None


def ssh_banner(namespace: str, address: str) -> str:
    """What a new TCP connection to port 22 reads first ("" if it cannot connect within 3 s)."""
    result = subprocess.run(
        ["ip", "netns", "exec", namespace, "timeout", "4", "busybox", "nc", "-w", "3", address, "22"],
        capture_output=True, timeout=10, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return result.stdout.decode(errors="replace")  # the server's binary key exchange follows the banner


def qemu_entering(namespace: str, folder: Path) -> str:
    """A QEMU binary that runs in ``namespace`` (``exec`` all the way, so its pid is QEMU's own)."""
    wrapper = folder / f"qemu-in-{namespace}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {shutil.which(qemu.QEMU)} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def _boot(conn: Connection, name: str, network_id: str, zone: str, group: str) -> Any:
    return conn.compute.create_server(
        name=name, image_id=DEFAULT_IMAGE_ID, flavor_id=TINY, networks=[{"uuid": network_id}],
        availability_zone=zone, key_name="e2e-key", security_groups=[{"name": "default"}, {"name": group}],
    )  # fmt: skip


def _wait_ready(conn: Connection, server: Any) -> Any:
    server = wait_status(conn, server, "ACTIVE")
    marker = f"{READY} {server.id}"
    wait_until(lambda: marker in conn.compute.get_server_console_output(server)["output"], 300,
               what=f"{server.name}'s READY line", interval=1)  # fmt: skip
    return server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("e2e")
    lab = Lab(state_dir=folder / "network")
    data_dir = qemu.new_data_dir()
    try:
        hosts = (lab.namespace("h1"), lab.namespace("h2"))
        lab.underlay(dict(zip(hosts, UNDERLAY, strict=True)))
        lab.physical_interface(hosts[0], UPLINK)
        outside = lab.name("outside-phys")
        subprocess.run(
            ["ip", "-n", outside, "addr", "add", f"{OUTSIDE_IP}/24", "dev", "ovct-out"], check=True
        )
        drivers = {
            host: qemu.make_driver(data_dir / host, qemu_binary=qemu_entering(namespace, folder))
            for host, namespace in zip(HOSTS, hosts, strict=True)
        }
        with qemu.cloud_with_guest(data_dir, drivers) as cloud:
            agents = []
            for index, (host, namespace) in enumerate(zip(HOSTS, hosts, strict=True)):
                driver = LinuxBridgeDriver(
                    namespace, local_vtep_ip=UNDERLAY[index], state_dir=lab.state_dir / namespace,
                    physical_interfaces={"public": UPLINK} if index == 0 else {},
                )  # fmt: skip
                # Each host's own settings name its underlay address, which its agent records for the
                # other hosts' tunnels.
                host_settings = cloud.settings.model_copy(update={"network_underlay_ip": UNDERLAY[index]})
                host_cloud = Cloud(settings=host_settings, db=cloud.cloud.db, transport=cloud.cloud.transport)
                manager = NetworkManager(host_cloud, host, driver=driver)
                agent = Service(host_cloud, manager)
                agent.start()
                cloud.services.append(agent)  # stopped first, with the cloud
                agents.append(manager)
            yield _build(cloud, lab, hosts, (agents[0], agents[1]), outside)
    finally:
        qemu.kill_leftover_vms(data_dir)
        lab.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)
    assert lab.leftovers() == []


def _build(
    cloud: InProcessCloud, lab: Lab, hosts: tuple[str, str], agents: tuple[NetworkManager, NetworkManager],
    outside: str,
) -> Site:  # fmt: skip
    for index, host in enumerate(HOSTS, start=1):
        cloud.openstack("aggregate", "create", "--zone", f"e2e-az{index}", f"e2e-agg{index}", user=ADMIN)
        cloud.openstack("aggregate", "add", "host", f"e2e-agg{index}", host, user=ADMIN)
    cloud.openstack("network", "create", "--external", "--share", "--provider-network-type", "flat",
                    "--provider-physical-network", "public", "public", user=ADMIN)  # fmt: skip
    cloud.openstack("subnet", "create", "--network", "public", "--subnet-range", "203.0.113.0/24",
                    "--gateway", OUTSIDE_IP, "--allocation-pool", "start=203.0.113.10,end=203.0.113.50",
                    "--no-dhcp", "public-subnet", user=ADMIN)  # fmt: skip
    networks = {}
    for name, cidr in (("net1", "10.61.1.0/24"), ("net2", "10.61.2.0/24")):
        networks[name] = cloud.openstack("network", "create", name, "-f", "json")["id"]
        cloud.openstack("subnet", "create", "--network", name, "--subnet-range", cidr, f"{name}-subnet")
    router_id = cloud.openstack("router", "create", "e2e-router", "-f", "json")["id"]
    cloud.openstack("router", "set", "--external-gateway", "public", "e2e-router")
    for name in networks:
        cloud.openstack("router", "add", "subnet", "e2e-router", f"{name}-subnet")
    group_id = cloud.openstack("security", "group", "create", "e2e-ssh", "-f", "json")["id"]
    cloud.openstack("security", "group", "rule", "create", "--ingress", "--protocol", "tcp",
                    "--dst-port", "22", "e2e-ssh")  # fmt: skip
    demo = cloud.connect("demo")
    _, public_key = qemu.ssh_key()
    demo.compute.create_keypair(name="e2e-key", public_key=public_key)

    # a first, alone: the first host with a port behind the router serves it (and net1's DHCP server).
    servers = {"a": wait_status(demo, _boot(demo, "a", networks["net1"], "e2e-az1", "e2e-ssh"), "ACTIVE")}
    # Wiring a's port brought the router up on its host (not the agent's next sync, 30 s away).
    assert names.router_namespace(router_id, hosts[0]) in namespaces()
    servers["a"] = _wait_ready(demo, servers["a"])
    booting = {
        "b": _boot(demo, "b", networks["net1"], "e2e-az2", "e2e-ssh"),
        "c": _boot(demo, "c", networks["net2"], "e2e-az1", "e2e-ssh"),
    }
    servers |= {name: _wait_ready(demo, server) for name, server in booting.items()}
    return Site(cloud, lab, hosts, agents, outside, router_id, networks, servers, group_id)


def _links(namespace: str) -> set[str]:
    listed = subprocess.run(
        ["ip", "-n", namespace, "-br", "link"], capture_output=True, text=True, check=True
    )
    return {line.split()[0].split("@")[0] for line in listed.stdout.splitlines() if line.strip()}


def test_each_vm_runs_on_its_zones_host_with_its_tap_in_that_hosts_namespace(site: Site) -> None:
    admin = site.cloud.connect("admin")
    for name, host_index in (("a", 0), ("b", 1), ("c", 0)):
        server = admin.compute.get_server(site.servers[name].id)
        assert server.compute_host == HOSTS[host_index]
        (port,) = admin.network.ports(device_id=server.id)
        assert port.binding_host_id == HOSTS[host_index]
        assert port.status == "ACTIVE"
        assert names.tap(port.id) in _links(site.hosts[host_index])
    assert names.vxlan(site.networks["net1"]) in _links(site.hosts[1])
    assert site.router_namespace() in namespaces()


def test_dhcp_gave_each_vm_its_ports_address(site: Site) -> None:
    for name, network in (("a", "net1"), ("b", "net1"), ("c", "net2")):
        address = site.fixed_ip(name, network)
        shown = site.ssh(name, "ifconfig eth0", network)
        assert f"inet addr:{address} " in shown, shown
        server = site.demo.compute.get_server(site.servers[name].id)
        assert [entry["addr"] for entry in server.addresses[network]] == [address]


def test_each_guest_reads_its_own_metadata_from_either_host(site: Site) -> None:
    # net1's DHCP namespace (and its metadata proxy) is on the first host: b reaches it over VXLAN.
    for name in ("a", "b"):
        fetched = site.ssh(
            name, "timeout 10 wget -q -O - http://169.254.169.254/openstack/latest/meta_data.json"
        )
        meta = json.loads(fetched)
        assert (meta["uuid"], meta["name"]) == (site.servers[name].id, name)


def test_vms_on_one_network_ping_each_other_across_the_two_hosts_over_vxlan(site: Site) -> None:
    pinged = site.ssh("a", f"ping -c 3 -W 2 {site.fixed_ip('b')}")
    assert " 0% packet loss" in pinged and "ttl=64" in pinged, pinged  # same segment: no hop
    pinged = site.ssh("b", f"ping -c 3 -W 2 {site.fixed_ip('a')}")
    assert " 0% packet loss" in pinged, pinged


def test_a_vm_on_the_second_network_reaches_the_first_only_through_the_router(site: Site) -> None:
    router_ports = site.demo.network.ports(device_id=site.router_id, network_id=site.networks["net2"])
    (gateway,) = [ip["ip_address"] for port in router_ports for ip in port.fixed_ips]
    routes = site.ssh("c", "route -n", "net2")
    assert any(line.split()[:2] == ["0.0.0.0", gateway] for line in routes.splitlines()), routes
    pinged = site.ssh("c", f"ping -c 3 -W 2 {site.fixed_ip('a')}", "net2")
    assert " 0% packet loss" in pinged and "ttl=63" in pinged, pinged  # one routed hop
    # Not on a's segment: ARP for a's address from c's link gets no answer, while the gateway answers.
    arp = "arping -c 2 -w 3 -I eth0"
    arped = site.ssh(
        "c", f"{arp} {gateway} && echo GATEWAY-ANSWERS; {arp} {site.fixed_ip('a')} || echo NO-ANSWER", "net2"
    )
    assert "GATEWAY-ANSWERS" in arped and "NO-ANSWER" in arped, arped


def test_a_floating_ip_reaches_the_vm_by_ssh_from_outside_while_its_group_allows_ssh(site: Site) -> None:
    floating = site.cloud.openstack("floating", "ip", "create", "public", "-f", "json")["floating_ip_address"]
    site.cloud.openstack("server", "add", "floating", "ip", "a", floating)
    result = wait_until(
        lambda: succeeded(guest_ssh(site.outside, floating, "hostname")), 60,
        what="ssh to the floating IP from outside", interval=1,
    )  # fmt: skip
    assert result is not None and result.stdout.strip() == "a"
    assert ssh_banner(site.outside, floating).startswith("SSH-2.0-dropbear")

    (rule,) = site.demo.network.security_group_rules(security_group_id=site.ssh_group_id, direction="ingress")
    site.cloud.openstack("security", "group", "rule", "delete", rule.id)
    started = time.monotonic()
    try:
        wait_until(lambda: ssh_banner(site.outside, floating) == "", 60, what="SSH cut", interval=1)
        print(f"rule deleted -> new SSH connections cut: {time.monotonic() - started:.1f}s")
    finally:
        site.cloud.openstack("security", "group", "rule", "create", "--ingress", "--protocol", "tcp",
                             "--dst-port", "22", "e2e-ssh")  # fmt: skip
    started = time.monotonic()
    wait_until(lambda: ssh_banner(site.outside, floating).startswith("SSH-2.0-dropbear"), 60,
               what="SSH restored", interval=1)  # fmt: skip
    print(f"rule added back -> SSH restored: {time.monotonic() - started:.1f}s")


def test_an_attached_interface_gets_its_address_by_dhcp_in_the_guest(site: Site) -> None:
    site.cloud.openstack("server", "add", "network", "b", "net2")
    address = site.fixed_ip("b", "net2")
    wait_until(lambda: "eth1" in site.ssh("b", "ls /sys/class/net"), 60, what="eth1 in b", interval=1)
    leased = site.ssh("b", "ifconfig eth1 up; udhcpc -i eth1 -q -n -t 10 -T 1 -s /bin/true 2>&1")
    assert f"lease of {address} obtained" in leased, leased


def test_deleting_everything_leaves_nothing_on_either_host(site: Site) -> None:
    demo = site.demo
    for server in site.servers.values():
        demo.compute.delete_server(server)
    for server in site.servers.values():
        demo.compute.wait_for_delete(server, wait=WAIT)
    for floating in demo.network.ips():
        demo.network.delete_ip(floating)
    for name in site.networks:
        site.cloud.openstack("router", "remove", "subnet", "e2e-router", f"{name}-subnet")
    site.cloud.openstack("router", "delete", "e2e-router")
    for name in site.networks:
        site.cloud.openstack("network", "delete", name)
    site.cloud.openstack("network", "delete", "public", user="overcast-admin")
    for agent in site.agents:
        agent.sync()
    for host in site.hosts:
        assert _links(host) <= {"lo", "ovct-uplink", UPLINK}, _links(host)
        tables = subprocess.run(["ip", "netns", "exec", host, "nft", "list", "tables"],
                                capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert tables.strip() == "", tables
    assert sorted(name for name in namespaces() if site.lab.tag in name) == sorted(
        [*site.hosts, site.lab.name("underlay"), site.outside]
    )
    assert [process for process in site.lab.leftovers() if process.startswith("dnsmasq")] == []
