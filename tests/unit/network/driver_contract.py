"""The contract every network driver passes (noop in tests/unit/network, linuxbridge in tests/integration).

A test module subclasses `DriverContract` and provides two fixtures: `driver` (the driver under test,
on an empty host, with the physical network ``physnet1`` mapped to an interface) and `vtep_peers` (two
underlay addresses a VXLAN network may name as remote endpoints). What the driver holds is read back
through `inventory()`, so the same assertions hold for a driver that remembers and one that reads the
kernel.
"""

from __future__ import annotations

import uuid

import pytest

from overcast.network.drivers import names
from overcast.network.drivers.base import NetworkDriver, NetworkNotWired
from overcast.network.drivers.model import (
    DhcpHost,
    DhcpServer,
    ExternalGateway,
    FixedIP,
    FloatingIP,
    HostState,
    Inventory,
    Network,
    Port,
    Router,
    RouterInterface,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)


def vxlan_network(vni: int = 1001) -> Network:
    return Network(id=str(uuid.uuid4()), segmentation_type="vxlan", segmentation_id=vni, mtu=1450)


def flat_network() -> Network:
    return Network(id=str(uuid.uuid4()), segmentation_type="flat", physical_network="physnet1", mtu=1500)


def port_on(network: Network, last_octet: int = 10, groups: tuple[str, ...] = ()) -> Port:
    port_id = str(uuid.uuid4())
    return Port(
        id=port_id,
        network_id=network.id,
        mac_address=f"fa:16:3e:00:00:{last_octet:02x}",
        device=names.tap(port_id),
        fixed_ips=(FixedIP(subnet_id=str(uuid.uuid4()), ip_address=f"10.0.0.{last_octet}"),),
        security_group_ids=groups,
    )


def first_ip(port: Port) -> str:
    return port.fixed_ips[0].ip_address


def hostname(port: Port) -> str:
    return "host-" + first_ip(port).replace(".", "-")


def dhcp_for(network: Network, *ports: Port) -> DhcpServer:
    """The network's DHCP server on 10.0.0.2 of a 10.0.0.0/24 subnet, with an entry for each port."""
    subnet = Subnet(id=str(uuid.uuid4()), network_id=network.id, cidr="10.0.0.0/24", gateway_ip="10.0.0.1")
    return DhcpServer(
        network_id=network.id,
        mac_address="fa:16:3e:00:00:02",
        fixed_ips=(FixedIP(subnet.id, "10.0.0.2"),),
        subnets=(subnet,),
        hosts=tuple(DhcpHost(port.mac_address, first_ip(port), hostname(port)) for port in ports),
        mtu=network.mtu,
    )


def router_between(internal: Network, external: Network, floating_for: Port | None = None) -> Router:
    """A router with 10.0.0.1 on ``internal`` and its gateway 198.51.100.10 on ``external`` (whose
    outside is 198.51.100.1), SNAT on; a floating IP 198.51.100.20 for ``floating_for``, if given."""
    floating = (FloatingIP("198.51.100.20", first_ip(floating_for)),) if floating_for else ()
    inside = RouterInterface(str(uuid.uuid4()), internal.id, "fa:16:3e:00:01:01", "10.0.0.1", "10.0.0.0/24")
    gateway_port = str(uuid.uuid4())
    outside = ExternalGateway(
        gateway_port, external.id, "fa:16:3e:00:02:0a", "198.51.100.10", "198.51.100.0/24", "198.51.100.1"
    )
    return Router(id=str(uuid.uuid4()), interfaces=(inside,), gateway=outside, floating_ips=floating)


def ssh_group() -> SecurityGroup:
    rule = SecurityGroupRule(
        id=str(uuid.uuid4()), direction="ingress", protocol="tcp", port_range_min=22, port_range_max=22
    )
    return SecurityGroup(id=str(uuid.uuid4()), rules=(rule,))


class DriverContract:
    def test_a_new_host_holds_nothing(self, driver: NetworkDriver) -> None:
        assert driver.inventory() == Inventory()

    def test_ensuring_a_network_twice_wires_it_once(
        self, driver: NetworkDriver, vtep_peers: tuple[str, str]
    ) -> None:
        network = vxlan_network()
        driver.ensure_network(network, frozenset(vtep_peers))
        driver.ensure_network(network, frozenset(vtep_peers))
        found = driver.inventory()
        assert found.networks == {network.id}
        assert found.vteps == {network.id: frozenset(vtep_peers)}

    def test_remote_vteps_converge_on_what_is_asked(
        self, driver: NetworkDriver, vtep_peers: tuple[str, str]
    ) -> None:
        first, second = vtep_peers
        network = vxlan_network()
        driver.ensure_network(network, frozenset({first}))
        driver.ensure_network(network, frozenset({second}))
        assert driver.inventory().vteps == {network.id: frozenset({second})}

    def test_a_flat_network_is_wired_without_vteps(self, driver: NetworkDriver) -> None:
        network = flat_network()
        driver.ensure_network(network)
        found = driver.inventory()
        assert found.networks == {network.id}
        assert found.vteps == {}

    def test_removing_a_network_twice_is_fine(self, driver: NetworkDriver) -> None:
        network = vxlan_network()
        driver.ensure_network(network)
        driver.remove_network(network.id)
        driver.remove_network(network.id)
        assert driver.inventory() == Inventory()

    def test_a_port_needs_its_network(self, driver: NetworkDriver) -> None:
        with pytest.raises(NetworkNotWired):
            driver.ensure_port(port_on(vxlan_network()))
        assert driver.inventory().ports == {}

    def test_a_port_is_wired_once_and_removed(self, driver: NetworkDriver) -> None:
        network = vxlan_network()
        port = port_on(network)
        driver.ensure_network(network)
        driver.ensure_port(port)
        driver.ensure_port(port)
        assert driver.inventory().ports == {port.id: network.id}
        driver.remove_port(port.id)
        driver.remove_port(port.id)
        assert driver.inventory().ports == {}

    def test_a_port_moves_to_the_network_it_names(self, driver: NetworkDriver) -> None:
        first, second = vxlan_network(1001), vxlan_network(1002)
        port = port_on(first)
        driver.ensure_network(first)
        driver.ensure_network(second)
        driver.ensure_port(port)
        moved = Port(**{**port.__dict__, "network_id": second.id})
        driver.ensure_port(moved)
        assert driver.inventory().ports == {port.id: second.id}

    def test_removing_a_network_removes_its_ports(self, driver: NetworkDriver) -> None:
        kept, removed = vxlan_network(1001), vxlan_network(1002)
        driver.ensure_network(kept)
        driver.ensure_network(removed)
        kept_port, removed_port = port_on(kept, 10), port_on(removed, 11)
        driver.ensure_port(kept_port)
        driver.ensure_port(removed_port)
        driver.remove_network(removed.id)
        found = driver.inventory()
        assert found.networks == {kept.id}
        assert found.ports == {kept_port.id: kept.id}

    def test_security_groups_are_ensured_and_removed(self, driver: NetworkDriver) -> None:
        group = ssh_group()
        driver.ensure_security_group(group)
        driver.ensure_security_group(group)
        assert driver.inventory().security_groups == {group.id}
        driver.remove_security_group(group.id)
        driver.remove_security_group(group.id)
        assert driver.inventory().security_groups == frozenset()

    def test_a_dhcp_server_needs_its_network(self, driver: NetworkDriver) -> None:
        with pytest.raises(NetworkNotWired):
            driver.ensure_dhcp(dhcp_for(vxlan_network()))
        assert driver.inventory().dhcp_servers == frozenset()

    def test_a_dhcp_server_is_ensured_once_and_removed(self, driver: NetworkDriver) -> None:
        network = vxlan_network()
        port = port_on(network)
        driver.ensure_network(network)
        driver.ensure_dhcp(dhcp_for(network))
        driver.ensure_dhcp(dhcp_for(network, port))
        assert driver.inventory().dhcp_servers == {network.id}
        driver.remove_dhcp(network.id)
        driver.remove_dhcp(network.id)
        assert driver.inventory().dhcp_servers == frozenset()

    def test_removing_a_network_removes_its_dhcp_server(self, driver: NetworkDriver) -> None:
        network = vxlan_network()
        driver.ensure_network(network)
        driver.ensure_dhcp(dhcp_for(network))
        driver.remove_network(network.id)
        assert driver.inventory() == Inventory()

    def test_a_router_needs_its_networks(self, driver: NetworkDriver) -> None:
        internal = vxlan_network()
        driver.ensure_network(internal)
        with pytest.raises(NetworkNotWired):
            driver.ensure_router(router_between(internal, flat_network()))
        assert driver.inventory().routers == frozenset()

    def test_a_router_is_ensured_once_and_removed(self, driver: NetworkDriver) -> None:
        internal, external = vxlan_network(), flat_network()
        port = port_on(internal)
        driver.ensure_network(internal)
        driver.ensure_network(external)
        router = router_between(internal, external)
        driver.ensure_router(router)
        floating = router_between(internal, external, port).floating_ips
        driver.ensure_router(Router(**{**router.__dict__, "floating_ips": floating}))
        assert driver.inventory().routers == {router.id}
        driver.remove_router(router.id)
        driver.remove_router(router.id)
        assert driver.inventory().routers == frozenset()

    def test_sync_converges_from_whatever_the_host_holds(
        self, driver: NetworkDriver, vtep_peers: tuple[str, str]
    ) -> None:
        stale_network, kept_network = vxlan_network(1001), vxlan_network(1002)
        stale_group, kept_group = ssh_group(), ssh_group()
        driver.ensure_network(stale_network, frozenset(vtep_peers))
        driver.ensure_network(kept_network, frozenset(vtep_peers[:1]))
        driver.ensure_security_group(stale_group)
        stale_port = port_on(kept_network, 10, (stale_group.id,))
        driver.ensure_port(stale_port)
        driver.ensure_port(port_on(stale_network, 11))
        driver.ensure_dhcp(dhcp_for(stale_network))
        driver.ensure_dhcp(dhcp_for(kept_network))
        driver.ensure_router(router_between(stale_network, kept_network))

        flat = flat_network()
        wanted_port = port_on(kept_network, 12, (kept_group.id,))
        wanted_router = router_between(kept_network, flat, wanted_port)
        state = HostState(
            networks=(kept_network, flat),
            ports=(wanted_port, port_on(flat, 13)),
            security_groups=(kept_group,),
            dhcp_servers=(dhcp_for(kept_network, wanted_port),),
            routers=(wanted_router,),
            remote_vteps={kept_network.id: frozenset(vtep_peers[1:])},
        )
        driver.sync(state)
        driver.sync(state)

        found = driver.inventory()
        assert found.networks == {kept_network.id, flat.id}
        assert found.ports == {port.id: port.network_id for port in state.ports}
        assert found.security_groups == {kept_group.id}
        assert found.dhcp_servers == {kept_network.id}
        assert found.routers == {wanted_router.id}
        assert found.vteps == {kept_network.id: frozenset(vtep_peers[1:])}

    def test_sync_to_nothing_removes_everything(self, driver: NetworkDriver) -> None:
        network = vxlan_network()
        group = ssh_group()
        driver.ensure_network(network)
        driver.ensure_security_group(group)
        driver.ensure_port(port_on(network, 10, (group.id,)))
        driver.ensure_dhcp(dhcp_for(network))
        external = flat_network()
        driver.ensure_network(external)
        driver.ensure_router(router_between(network, external))
        driver.sync(HostState())
        assert driver.inventory() == Inventory()
