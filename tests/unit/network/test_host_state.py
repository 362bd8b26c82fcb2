"""A host's desired data plane as the agent reads it from the database (rows made by the real
Networking API on SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from overcast.db import Database
from overcast.db.models.network import Port as PortRow
from overcast.network.api.service import NetworkAPI
from overcast.network.drivers import names
from overcast.network.drivers.model import DhcpHost, FixedIP, FloatingIP, HostState
from overcast.network.host_state import read_host_state
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

UNDERLAY = {"host-a": "192.0.2.1", "host-b": "192.0.2.2", "host-c": "127.0.0.1"}


@pytest.fixture
def api(db: Database, tmp_path: Path) -> NetworkAPI:
    return network_api(agent_cloud(db, tmp_path))


def state_of(db: Database, host: str, network_ids: list[str] | None = None) -> HostState:
    with db.reader() as session:
        return read_host_state(session, host, UNDERLAY, network_ids)


def serve_dhcp_on(db: Database, network_id: str, host: str) -> None:
    with db.writer() as session:
        session.execute(
            update(PortRow)
            .where(PortRow.network_id == network_id, PortRow.device_owner == "network:dhcp")
            .values(binding_host_id=host)
        )


def ips(*addresses: tuple[str, str]) -> tuple[FixedIP, ...]:
    return tuple(FixedIP(subnet_id, address) for subnet_id, address in addresses)


def test_a_host_without_bound_ports_holds_nothing(api: NetworkAPI, db: Database) -> None:
    network_id, _ = network_with_subnet(api)
    api.ports.create(ALICE, {"network_id": network_id})  # not bound to any host
    assert state_of(db, "host-a") == HostState()


def test_a_host_wires_its_ports_their_network_and_groups(api: NetworkAPI, db: Database) -> None:
    network_id, subnet_id = network_with_subnet(api)
    first = bound_port(api, network_id, "host-a")
    second = bound_port(api, network_id, "host-a", port_security_enabled=False)
    elsewhere = bound_port(api, network_id, "host-b")

    state = state_of(db, "host-a")

    (network,) = state.networks
    segment = api.networks.get(ADMIN, network_id)  # provider attributes are an admin's
    assert (network.id, network.segmentation_type, network.mtu) == (network_id, "vxlan", 1450)
    assert network.segmentation_id == segment["provider:segmentation_id"]
    assert [port.id for port in state.ports] == sorted([first["id"], second["id"]])
    wired = {port.id: port for port in state.ports}
    assert wired[first["id"]].device == names.tap(first["id"])
    assert wired[first["id"]].mac_address == first["mac_address"]
    assert wired[first["id"]].fixed_ips == ips((subnet_id, first["fixed_ips"][0]["ip_address"]))
    (default_group,) = first["security_groups"]
    assert wired[first["id"]].security_group_ids == (default_group,)
    assert wired[second["id"]].security_group_ids == () and not wired[second["id"]].port_security_enabled
    (group,) = state.security_groups
    assert group.id == default_group
    # The default group's rules: both egress rules and the ingress rule from its own members.
    assert {(rule.direction, rule.ethertype, rule.remote_group_id) for rule in group.rules} == {
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", default_group),
        ("ingress", "IPv6", default_group),
    }
    # Members are every port of the group wherever it is bound, not only this host's.
    member_ports = (first, elsewhere)
    assert group.member_ips == {port["fixed_ips"][0]["ip_address"] for port in member_ports}
    assert state.remote_vteps == {network_id: frozenset({"192.0.2.2"})}
    assert state.dhcp_servers == ()  # no agent serves the network's DHCP port yet


def test_the_host_serving_dhcp_has_every_port_of_the_network_as_an_entry(
    api: NetworkAPI, db: Database
) -> None:
    network_id, subnet_id = network_with_subnet(api, dns_nameservers=["192.0.2.53"])
    here = bound_port(api, network_id, "host-a")
    elsewhere = bound_port(api, network_id, "host-b")
    serve_dhcp_on(db, network_id, "host-b")

    assert state_of(db, "host-a").dhcp_servers == ()
    state = state_of(db, "host-b")

    (server,) = state.dhcp_servers
    assert server.network_id == network_id and server.mtu == 1450
    assert server.fixed_ips == ips((subnet_id, "10.0.0.2"))
    (subnet,) = server.subnets
    assert (subnet.id, subnet.cidr, subnet.gateway_ip, subnet.dns_nameservers) == (
        subnet_id,
        "10.0.0.0/24",
        "10.0.0.1",
        ("192.0.2.53",),
    )
    expected = {
        DhcpHost(port["mac_address"], port["fixed_ips"][0]["ip_address"], f"host-10-0-0-{suffix}")
        for port, suffix in ((here, 3), (elsewhere, 4))
    }
    assert set(server.hosts) == expected
    assert state.remote_vteps == {network_id: frozenset({"192.0.2.1"})}


def test_a_dhcp_host_without_vm_ports_still_wires_the_network(api: NetworkAPI, db: Database) -> None:
    network_id, _ = network_with_subnet(api)
    bound_port(api, network_id, "host-a")
    serve_dhcp_on(db, network_id, "host-c")

    state = state_of(db, "host-c")

    assert [network.id for network in state.networks] == [network_id]
    assert state.ports == () and state.security_groups == ()
    assert [server.network_id for server in state.dhcp_servers] == [network_id]
    # host-a's ports reach host-c's DHCP server through host-a's tunnel end.
    assert state.remote_vteps == {network_id: frozenset({"192.0.2.1"})}
    # host-c's underlay is loopback (a one-host cloud's): no other host sends tunnels to it.
    assert state_of(db, "host-a").remote_vteps == {network_id: frozenset()}


def test_groups_named_as_remote_come_with_their_members(api: NetworkAPI, db: Database) -> None:
    network_id, _ = network_with_subnet(api)
    web = api.security_groups.create(ALICE, {"name": "web"})
    database = api.security_groups.create(ALICE, {"name": "db"})
    api.security_groups.create_rule(
        ALICE,
        {
            "security_group_id": web["id"],
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": 80,
            "port_range_max": 80,
            "remote_group_id": database["id"],
        },
    )
    bound_port(api, network_id, "host-a", security_groups=[web["id"]])
    db_port = bound_port(api, network_id, "host-b", security_groups=[database["id"]])

    groups = {group.id: group for group in state_of(db, "host-a").security_groups}

    assert set(groups) == {web["id"], database["id"]}
    (http,) = [rule for rule in groups[web["id"]].rules if rule.protocol == "tcp"]
    assert (http.port_range_min, http.port_range_max, http.remote_group_id) == (80, 80, database["id"])
    assert groups[database["id"]].member_ips == {db_port["fixed_ips"][0]["ip_address"]}


def test_a_slice_holds_only_the_named_networks(api: NetworkAPI, db: Database) -> None:
    first_network, _ = network_with_subnet(api)
    second_network, _ = network_with_subnet(api, cidr="10.1.0.0/24")
    bound_port(api, first_network, "host-a")
    second = bound_port(api, second_network, "host-a")

    state = state_of(db, "host-a", [second_network])

    assert [network.id for network in state.networks] == [second_network]
    assert [port.id for port in state.ports] == [second["id"]]
    assert state_of(db, "host-a", []) == HostState()


def test_service_ports_bound_to_a_host_are_no_taps(api: NetworkAPI, db: Database) -> None:
    network_id, _ = network_with_subnet(api)
    bound_port(api, network_id, "host-a", device_owner="network:router_interface")
    assert state_of(db, "host-a") == HostState()


def test_a_router_served_here_comes_with_its_legs_networks_and_floating_ips(
    api: NetworkAPI, db: Database
) -> None:
    public_id, public_subnet = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    vm = bound_port(api, network_id, "host-a")
    floating = api.floating_ips.create(ALICE, {"floating_network_id": public_id, "port_id": vm["id"]})
    assert state_of(db, "host-a").routers == ()  # no host serves the router yet
    with db.writer() as session:
        session.execute(
            update(PortRow).where(PortRow.device_id == router_id).values(binding_host_id="host-a")
        )

    state = state_of(db, "host-a")

    assert {network.id for network in state.networks} == {network_id, public_id}
    public = next(network for network in state.networks if network.id == public_id)
    assert (public.segmentation_type, public.physical_network) == ("flat", "public")
    (router,) = state.routers
    (interface,) = router.interfaces
    assert (interface.network_id, interface.ip_address, interface.cidr) == (
        network_id,
        "10.0.0.1",
        "10.0.0.0/24",
    )
    assert router.gateway is not None
    gateway = api.routers.get(ALICE, router_id)["external_gateway_info"]["external_fixed_ips"][0]
    assert (router.gateway.network_id, router.gateway.ip_address, router.gateway.cidr) == (
        public_id,
        gateway["ip_address"],
        "203.0.113.0/24",
    )
    assert router.gateway.gateway_ip == "203.0.113.1" and router.gateway.enable_snat
    assert gateway["subnet_id"] == public_subnet
    assert router.floating_ips == (
        FloatingIP(floating["floating_ip_address"], vm["fixed_ips"][0]["ip_address"]),
    )
    # A wire's slice leaves routers to the full sync.
    assert state_of(db, "host-a", [network_id]).routers == ()


def test_a_gateway_without_an_address_gives_the_router_no_external_leg(api: NetworkAPI, db: Database) -> None:
    bare = api.networks.create(ADMIN, {"name": "bare-public", "router:external": True})
    network_id, _, router_id = routed_network(api, bare["id"])
    bound_port(api, network_id, "host-a")
    with db.writer() as session:
        session.execute(
            update(PortRow).where(PortRow.device_id == router_id).values(binding_host_id="host-a")
        )

    (router,) = state_of(db, "host-a").routers

    # Nothing to SNAT to nor route through: the router joins its interfaces only.
    assert router.gateway is None and router.floating_ips == ()
    assert [interface.network_id for interface in router.interfaces] == [network_id]
    api.subnets.create(
        ADMIN, {"network_id": bare["id"], "ip_version": 4, "cidr": "198.51.100.0/24", "enable_dhcp": False}
    )
    (router,) = state_of(db, "host-a").routers
    assert router.gateway is not None and router.gateway.enable_snat
    assert (router.gateway.ip_address, router.gateway.gateway_ip) == ("198.51.100.2", "198.51.100.1")
