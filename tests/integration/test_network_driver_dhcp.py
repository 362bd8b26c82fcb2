"""DHCP from the linuxbridge driver's dnsmasq: a "VM" namespace runs busybox's udhcpc through its port
(anti-spoofing and security groups on) and gets the port's address, gateway, DNS servers, host
routes (with the metadata service's, via the DHCP port), MTU and host name; the tiny guest's own
script installs those routes; the DHCP namespace holds the metadata address, put back if taken;
entries reload without a restart, and a killed dnsmasq is started again."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import HostCommands
from overcast.network.drivers.linuxbridge.dhcp import METADATA_ADDRESS
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.model import (
    DhcpServer,
    HostRoute,
    HostState,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)
from tests.integration.network_hosts import VM, Lab, tools_available
from tests.support.waiting import WAIT_SECONDS
from tests.unit.network.driver_contract import dhcp_for, port_on, vxlan_network

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
UDHCPC_SCRIPT = """#!/bin/sh
[ "$1" = bound ] || exit 0
for name in ip subnet router dns mtu hostname staticroutes; do
    eval "echo $name=\\$$name"
done > "$0.lease"
"""
EGRESS_ONLY = SecurityGroup(
    id=str(uuid.uuid4()), rules=(SecurityGroupRule(id=str(uuid.uuid4()), direction="egress"),)
)
NO_RULES = SecurityGroup(id=str(uuid.uuid4()))


def lease(vm: VM, folder: Path) -> dict[str, str]:
    """Run udhcpc in the VM until it is bound (or gives up) and return what it was offered."""
    script = folder / f"udhcpc-{vm.port.id}"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o700)
    vm.run(
        "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", str(script),
        "-O", "mtu", "-O", "staticroutes", "-O", "hostname",
        timeout=30,
    )  # fmt: skip
    written = script.with_name(script.name + ".lease")
    if not written.exists():
        return {}
    offered = dict(line.split("=", 1) for line in written.read_text().splitlines())
    written.unlink()
    return offered


def test_a_vm_gets_its_ports_address_and_options(lab: Lab, tmp_path: Path) -> None:
    host = lab.namespace("host1")
    network = vxlan_network()
    port = port_on(network, 10, (EGRESS_ONLY.id,))
    vm = lab.vm(host, port, address=False)
    server = dhcp_for(network, port)
    subnet = replace(
        server.subnets[0],
        dns_nameservers=("10.0.0.53",),
        host_routes=(HostRoute("10.9.0.0/16", "10.0.0.254"),),
    )
    server_ip = replace(server.fixed_ips[0], subnet_id=subnet.id)
    server = replace(server, subnets=(subnet,), fixed_ips=(server_ip,))
    driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host)
    groups = (EGRESS_ONLY,)
    state = HostState(networks=(network,), ports=(port,), security_groups=groups, dhcp_servers=(server,))
    driver.sync(state)

    offered = lease(vm, tmp_path)
    assert offered["ip"] == "10.0.0.10"
    assert offered["subnet"] == "255.255.255.0"
    assert offered["router"] == "10.0.0.1"
    assert offered["dns"] == "10.0.0.53"
    assert offered["mtu"] == "1450"
    assert offered["hostname"] == "host-10-0-0-10"
    assert offered["staticroutes"].split() == [
        "169.254.169.254/32", "10.0.0.2", "10.9.0.0/16", "10.0.0.254", "0.0.0.0/0", "10.0.0.1",
    ]  # fmt: skip


def metadata_address_held(driver: LinuxBridgeDriver, network_id: str) -> bool:
    inner = names.dhcp_namespace_side(network_id)
    listed = HostCommands(driver.dhcp.namespace(network_id)).ip_json("addr", "show", "dev", inner)
    return any(
        (address["local"], address["prefixlen"]) == (METADATA_ADDRESS, 32)
        for link in listed
        for address in link.get("addr_info", [])
    )


def test_the_guests_script_routes_the_metadata_address_to_the_dhcp_namespace(
    lab: Lab, tmp_path: Path
) -> None:
    host = lab.namespace("host1")
    network = vxlan_network()
    port = port_on(network, 10, (EGRESS_ONLY.id,))
    vm = lab.vm(host, port, address=False)
    driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host)
    server = dhcp_for(network, port)
    driver.sync(HostState(networks=(network,), ports=(port,), security_groups=(EGRESS_ONLY,),
                          dhcp_servers=(server,)))  # fmt: skip
    assert metadata_address_held(driver, network.id)

    done = vm.configure_by_dhcp(tmp_path)
    assert done.returncode == 0, done.stderr
    assert {"10.0.0.0/24 dev eth0", "169.254.169.254 via 10.0.0.2", "default via 10.0.0.1"} <= vm.routes()
    assert vm.ping(METADATA_ADDRESS)  # answered by the DHCP namespace, through the port's firewall

    # Taken off by hand, the address comes back with the next ensure, and the VM reaches it again.
    inner = names.dhcp_namespace_side(network.id)
    HostCommands(driver.dhcp.namespace(network.id)).ip("addr", "del", f"{METADATA_ADDRESS}/32", "dev", inner)
    assert not vm.ping(METADATA_ADDRESS, count=1)
    driver.ensure_dhcp(server)
    assert metadata_address_held(driver, network.id)
    assert vm.ping(METADATA_ADDRESS)


def test_a_subnets_own_route_to_the_metadata_address_or_default_wins(lab: Lab, tmp_path: Path) -> None:
    host = lab.namespace("host1")
    network = vxlan_network()
    port = port_on(network, 10, (EGRESS_ONLY.id,))
    vm = lab.vm(host, port, address=False)
    server = dhcp_for(network, port)
    own_routes = (HostRoute("169.254.169.254/32", "10.0.0.1"), HostRoute("0.0.0.0/0", "10.0.0.254"))
    server = replace(server, subnets=(replace(server.subnets[0], host_routes=own_routes),))
    driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host)
    driver.sync(HostState(networks=(network,), ports=(port,), security_groups=(EGRESS_ONLY,),
                          dhcp_servers=(server,)))  # fmt: skip
    offered = lease(vm, tmp_path)["staticroutes"].split()
    assert offered == ["169.254.169.254/32", "10.0.0.1", "0.0.0.0/0", "10.0.0.254"]


def test_dhcp_passes_a_group_with_no_rules(lab: Lab, tmp_path: Path) -> None:
    host = lab.namespace("host1")
    network = vxlan_network()
    port = port_on(network, 10, (NO_RULES.id,))
    vm = lab.vm(host, port, address=False)
    driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host)
    state = HostState(networks=(network,), ports=(port,), security_groups=(NO_RULES,))
    driver.sync(replace(state, dhcp_servers=(dhcp_for(network, port),)))
    assert lease(vm, tmp_path)["ip"] == "10.0.0.10"


def test_new_entries_reload_and_a_killed_dnsmasq_comes_back(lab: Lab, tmp_path: Path) -> None:
    host = lab.namespace("host1")
    network = vxlan_network()
    first, second = port_on(network, 10, (EGRESS_ONLY.id,)), port_on(network, 11, (EGRESS_ONLY.id,))
    vm_first, vm_second = lab.vm(host, first, address=False), lab.vm(host, second, address=False)
    driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host)
    both = dhcp_for(network, first, second)
    only_first = replace(both, hosts=both.hosts[:1])
    state = HostState(networks=(network,), ports=(first, second), security_groups=(EGRESS_ONLY,))
    driver.sync(replace(state, dhcp_servers=(only_first,)))
    pid = driver.dhcp.pid(network.id)
    assert pid is not None
    assert lease(vm_first, tmp_path)["ip"] == "10.0.0.10"
    assert lease(vm_second, tmp_path) == {}  # no entry: static ranges give nobody else an address

    driver.ensure_dhcp(both)
    assert driver.dhcp.pid(network.id) == pid  # SIGHUP, not a restart
    assert lease(vm_second, tmp_path)["ip"] == "10.0.0.11"

    kill(pid)
    assert driver.dhcp.pid(network.id) is None
    driver.commands.ip("link", "set", "dev", names.dhcp_host_side(network.id), "nomaster")  # more drift
    driver.ensure_dhcp(both)
    restarted = driver.dhcp.pid(network.id)
    assert restarted is not None and restarted != pid
    assert lease(vm_first, tmp_path)["ip"] == "10.0.0.10"

    another = Subnet(id=str(uuid.uuid4()), network_id=network.id, cidr="10.1.0.0/24", gateway_ip="10.1.0.1")
    driver.ensure_dhcp(replace(both, subnets=(*both.subnets, another)))
    assert driver.dhcp.pid(network.id) not in (None, restarted)  # a new range: a restart
    assert lease(vm_second, tmp_path)["ip"] == "10.0.0.11"


def reused_address(network_first: Port) -> Port:
    """A new port (another MAC) holding the address a deleted port had: sequential IPAM does this."""
    return replace(port_on(vxlan_network(), 10, (EGRESS_ONLY.id,)), network_id=network_first.network_id,
                   mac_address="fa:16:3e:00:01:10", fixed_ips=network_first.fixed_ips)  # fmt: skip


def with_hosts_of(server: DhcpServer, *ports: Port) -> DhcpServer:
    """The same DHCP server (subnets unchanged: no restart) with entries for these ports only."""
    return replace(server, hosts=dhcp_for(vxlan_network(), *ports).hosts)


@pytest.mark.parametrize("killed_meanwhile", [False, True], ids=["released-live", "dropped-at-restart"])
def test_an_address_leased_to_a_deleted_port_is_offered_to_its_next_holder(
    lab: Lab, tmp_path: Path, killed_meanwhile: bool
) -> None:
    """The running dnsmasq releases the old MAC's lease; one killed while the entry changed starts again
    from a lease file without it."""
    host = lab.namespace("host1")
    network = vxlan_network()
    first = port_on(network, 10, (EGRESS_ONLY.id,))
    vm_first = lab.vm(host, first, address=False)
    driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host)
    state = HostState(networks=(network,), ports=(first,), security_groups=(EGRESS_ONLY,))
    server = dhcp_for(network, first)
    driver.sync(replace(state, dhcp_servers=(server,)))
    assert lease(vm_first, tmp_path)["ip"] == "10.0.0.10"
    pid = driver.dhcp.pid(network.id)
    assert pid is not None
    if killed_meanwhile:
        kill(pid)

    second = reused_address(first)
    vm_second = lab.vm(host, second, address=False)
    driver.sync(replace(state, ports=(second,), dhcp_servers=(with_hosts_of(server, second),)))
    restarted = driver.dhcp.pid(network.id) != pid
    assert restarted == killed_meanwhile  # a live dnsmasq is released to, not restarted
    assert lease(vm_second, tmp_path)["ip"] == "10.0.0.10"


def kill(pid: int) -> None:
    """SIGKILL, then wait until the process has died (a zombie has an empty command line)."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes():
                time.sleep(0.05)
                continue
        return


def test_a_vm_on_another_host_leases_over_vxlan_and_pings_through_both_firewalls(
    lab: Lab, tmp_path: Path
) -> None:
    host_1, host_2 = lab.namespace("host1"), lab.namespace("host2")
    lab.underlay({host_1: "198.18.0.1", host_2: "198.18.0.2"})
    network = vxlan_network(4243)
    icmp_in = SecurityGroupRule(id=str(uuid.uuid4()), direction="ingress", protocol="icmp")
    group = replace(EGRESS_ONLY, rules=(*EGRESS_ONLY.rules, icmp_in))
    local, remote = port_on(network, 10, (group.id,)), port_on(network, 11, (group.id,))
    vm_local, vm_remote = lab.vm(host_1, local), lab.vm(host_2, remote, address=False)
    network_host = LinuxBridgeDriver(host_1, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host_1)
    network_host.sync(
        HostState(
            networks=(network,), ports=(local,), security_groups=(group,),
            dhcp_servers=(dhcp_for(network, local, remote),),
            remote_vteps={network.id: frozenset({"198.18.0.2"})},
        )
    )  # fmt: skip
    LinuxBridgeDriver(host_2, local_vtep_ip="198.18.0.2", state_dir=lab.state_dir / host_2).sync(
        HostState(
            networks=(network,), ports=(remote,), security_groups=(group,),
            remote_vteps={network.id: frozenset({"198.18.0.1"})},
        )
    )  # fmt: skip
    offered = lease(vm_remote, tmp_path)
    assert offered["ip"] == "10.0.0.11"
    vm_remote.run("ip", "addr", "add", f"{offered['ip']}/24", "dev", "eth0")
    assert vm_remote.ping("10.0.0.10")
    assert vm_local.ping("10.0.0.11")
