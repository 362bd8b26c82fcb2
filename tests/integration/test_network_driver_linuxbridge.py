"""The linuxbridge driver on real kernel networking: the driver contract, and traffic between "VMs"
(namespaces on veth ports) on one host and across two hosts over VXLAN. Each host is a namespace the
test makes; everything is removed after each test, and a test proves nothing is left behind."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from typing import Any

import pytest

from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import HostCommands, namespaces
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.model import HostState, Inventory, Port
from tests.integration.network_hosts import Lab, tools_available
from tests.unit.network.driver_contract import (
    DriverContract,
    dhcp_for,
    flat_network,
    port_on,
    router_between,
    ssh_group,
    vxlan_network,
)

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
HOST_1_VTEP, HOST_2_VTEP, SWITCH_VTEP = "198.18.0.1", "198.18.0.2", "198.18.0.3"


def host_driver(lab: Lab, host: str, vtep: str, physical: str | None = None) -> LinuxBridgeDriver:
    return LinuxBridgeDriver(
        host,
        local_vtep_ip=vtep,
        physical_interfaces={"physnet1": physical} if physical else {},
        state_dir=lab.state_dir / host,
    )


@pytest.fixture
def host(lab: Lab) -> str:
    return lab.namespace("host1")


@pytest.fixture
def driver(lab: Lab, host: str) -> LinuxBridgeDriver:
    lab.underlay({host: HOST_1_VTEP}, extra_peer_ips=(HOST_2_VTEP, SWITCH_VTEP))
    return host_driver(lab, host, HOST_1_VTEP, lab.physical_interface(host))


@pytest.fixture
def vtep_peers() -> tuple[str, str]:
    return (HOST_2_VTEP, SWITCH_VTEP)


class TestLinuxBridgeDriver(DriverContract):
    pass


def unfiltered(port: Port) -> Port:
    """The port without port security: these tests are about L2 only."""
    return replace(port, port_security_enabled=False)


def overcast_links(host: str) -> list[str]:
    return [
        entry["ifname"]
        for entry in HostCommands(host).ip_json("link", "show")
        if entry["ifname"].startswith(
            (names.BRIDGE, names.VXLAN, names.TAP, names.DHCP_HOST_SIDE, names.ROUTER_HOST_SIDE)
        )
    ]


def test_syncing_to_nothing_leaves_nothing_behind(lab: Lab, host: str, driver: LinuxBridgeDriver) -> None:
    network, flat, group = vxlan_network(), flat_network(), ssh_group()
    state = HostState(
        networks=(network, flat),
        ports=(port_on(network, 10, (group.id,)), port_on(flat, 11)),
        security_groups=(group,),
        dhcp_servers=(dhcp_for(network),),
        routers=(router_between(network, flat),),
        remote_vteps={network.id: frozenset({SWITCH_VTEP})},
    )
    driver.sync(state)
    # two bridges, a VXLAN device, two taps, the DHCP server's leg, the router's two legs
    assert len(overcast_links(host)) == 8
    assert driver.dhcp.pid(network.id) is not None
    driver.sync(HostState())
    assert overcast_links(host) == []
    assert driver.commands.inside("nft", "list", "tables") == ""
    made_by_driver = [name for name in namespaces() if name.startswith(names.NAMESPACE_PREFIX)]
    assert [name for name in made_by_driver if name.endswith(host)] == []
    assert driver.dhcp.pid(network.id) is None
    assert driver.inventory() == Inventory()
    # Casts that arrive after the sync (the network's deletion, a port's unwiring) find nothing to
    # remove and must not bring the tables back.
    driver.remove_network(network.id)
    driver.remove_port(state.ports[0].id)
    driver.remove_security_group(group.id)
    assert driver.commands.inside("nft", "list", "tables") == ""


def test_a_deleted_tap_and_a_downed_bridge_are_repaired(host: str, driver: LinuxBridgeDriver) -> None:
    network = vxlan_network()
    port = port_on(network)
    state = HostState(networks=(network,), ports=(port,))
    driver.sync(state)
    driver.commands.ip("link", "del", "dev", port.device)
    driver.commands.ip("link", "set", "dev", names.bridge(network.id), "down", "mtu", "1300")
    driver.sync(state)
    bridge = driver.links.find(names.bridge(network.id))
    tap = driver.links.find(port.device)
    assert bridge is not None and bridge.up and bridge.mtu == network.mtu
    assert tap is not None and tap.kind == "tun" and tap.master == bridge.name and tap.mtu == network.mtu


def spawns_of(driver: LinuxBridgeDriver, state: HostState, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many processes one sync of ``state`` starts (a spy on subprocess.run, which still runs)."""
    started: list[str] = []
    real_run = subprocess.run

    def counting(args: list[str], *rest: Any, **options: Any) -> Any:
        started.append(" ".join(args))
        return real_run(args, *rest, **options)

    with monkeypatch.context() as patch:
        patch.setattr(subprocess, "run", counting)
        driver.sync(state)
    return len(started)


def test_a_sync_that_changes_nothing_starts_no_process_per_port(
    driver: LinuxBridgeDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    network, group = vxlan_network(), ssh_group()
    ports = tuple(port_on(network, 10 + index, (group.id,)) for index in range(12))
    few = HostState(networks=(network,), ports=ports[:2], security_groups=(group,))
    many = HostState(networks=(network,), ports=ports, security_groups=(group,))
    driver.sync(few)
    reads_for_few = spawns_of(driver, few, monkeypatch)
    driver.sync(many)
    assert spawns_of(driver, many, monkeypatch) == reads_for_few
    assert driver.ports_in_place(ports) == {port.id for port in ports}


def test_a_sync_repairs_a_flushed_port_chain_a_device_off_its_bridge_and_a_ports_new_groups(
    driver: LinuxBridgeDriver,
) -> None:
    network, group, other = vxlan_network(), ssh_group(), ssh_group()
    flushed, unplugged, regrouped = (port_on(network, 10 + index, (group.id,)) for index in range(3))
    state = HostState(
        networks=(network,), ports=(flushed, unplugged, regrouped), security_groups=(group, other)
    )
    driver.sync(state)
    driver.commands.inside("nft", "flush", "chain", "inet", names.NFT_TABLE, f"port-{flushed.id}-ingress")
    driver.commands.ip("link", "set", "dev", unplugged.device, "nomaster")
    moved = replace(regrouped, security_group_ids=(other.id,))
    changed = replace(state, ports=(flushed, unplugged, moved))
    assert driver.ports_in_place(changed.ports) == set()
    driver.sync(changed)
    assert driver.ports_in_place(changed.ports) == {flushed.id, unplugged.id, moved.id}
    ingress = driver.commands.inside(
        "nft", "list", "chain", "inet", names.NFT_TABLE, f"port-{moved.id}-ingress"
    )
    assert f"sg-{other.id}-ingress" in ingress and f"sg-{group.id}-ingress" not in ingress


def test_two_vms_on_one_host_reach_each_other_and_not_another_network(
    lab: Lab, host: str, driver: LinuxBridgeDriver
) -> None:
    network, other = vxlan_network(1001), vxlan_network(1002)
    first, second = unfiltered(port_on(network, 10)), unfiltered(port_on(network, 11))
    elsewhere = unfiltered(port_on(other, 12))
    vms = [lab.vm(host, port) for port in (first, second, elsewhere)]
    driver.sync(HostState(networks=(network, other), ports=(first, second, elsewhere)))
    assert vms[0].ping("10.0.0.11")
    assert not vms[0].ping("10.0.0.12")


def test_vms_on_two_hosts_reach_each_other_over_vxlan(lab: Lab) -> None:
    host_1, host_2 = lab.namespace("host1"), lab.namespace("host2")
    lab.underlay({host_1: HOST_1_VTEP, host_2: HOST_2_VTEP})
    network = vxlan_network(4242)
    port_1, port_2 = unfiltered(port_on(network, 10)), unfiltered(port_on(network, 11))
    vm_1, vm_2 = lab.vm(host_1, port_1), lab.vm(host_2, port_2)
    host_driver(lab, host_1, HOST_1_VTEP).sync(
        HostState(networks=(network,), ports=(port_1,), remote_vteps={network.id: frozenset({HOST_2_VTEP})})
    )
    driver_2 = host_driver(lab, host_2, HOST_2_VTEP)
    driver_2.sync(
        HostState(networks=(network,), ports=(port_2,), remote_vteps={network.id: frozenset({HOST_1_VTEP})})
    )
    assert vm_1.ping("10.0.0.11", count=2)
    assert vm_2.ping("10.0.0.10")

    # host 2 forgets host 1 as a peer: broadcasts (ARP) no longer cross, so a new neighbour is unreachable
    driver_2.ensure_network(network, frozenset())
    vm_2.run("ip", "neigh", "flush", "dev", "eth0")
    assert not vm_2.ping("10.0.0.10")
