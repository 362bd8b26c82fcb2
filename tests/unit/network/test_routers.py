"""Routers and floating IPs through the network service: gateways, interfaces, routes, associations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overcast.db import Database
from overcast.errors import OvercastError
from overcast.network.api.errors import (
    BadRequest,
    ExternalGatewayForFloatingIPNotFound,
    FloatingIPPortAlreadyAssociated,
    InvalidRoutes,
    L3PortInUse,
    NetworkInUse,
    PolicyNotAuthorized,
    PortInUse,
    RouterExternalGatewayInUseByFloatingIp,
    RouterInterfaceInUseByFloatingIP,
    RouterInterfaceNotFound,
    RouterInUse,
    SubnetInUse,
)
from overcast.network.api.queries import ListQuery
from overcast.network.api.service import NetworkAPI
from tests.unit.network.test_ports import ADMIN, ALICE, BOB, make_subnet, network_api


@pytest.fixture
def api(db: Database, tmp_path: Path) -> NetworkAPI:
    return network_api(db, tmp_path)


@pytest.fixture
def public(api: NetworkAPI) -> str:
    network = api.networks.create(
        ADMIN,
        {
            "name": "public",
            "router:external": True,
            "shared": False,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
        },
    )
    api.subnets.create(
        ADMIN, {"network_id": network["id"], "ip_version": 4, "cidr": "203.0.113.0/24", "enable_dhcp": False}
    )
    return str(network["id"])


def router_with_interface(api: NetworkAPI, public: str) -> tuple[dict[str, Any], str, str]:
    network_id, subnet_id = make_subnet(api, ALICE, "10.0.0.0/24")
    router = api.routers.create(ALICE, {"name": "r1", "external_gateway_info": {"network_id": public}})
    api.routers.add_interface(ALICE, router["id"], {"subnet_id": subnet_id})
    return router, network_id, subnet_id


def test_gateway_and_interfaces(api: NetworkAPI, public: str) -> None:
    router, _network_id, subnet_id = router_with_interface(api, public)
    gateway = router["external_gateway_info"]
    assert gateway["network_id"] == public and gateway["enable_snat"] is True
    assert gateway["external_fixed_ips"][0]["ip_address"] == "203.0.113.2"  # .1 is the gateway
    (interface,) = api.ports.list(ALICE, ListQuery(filters={"device_id": [router["id"]]}))
    assert interface["device_owner"] == "network:router_interface"
    assert interface["fixed_ips"] == [{"subnet_id": subnet_id, "ip_address": "10.0.0.1"}]
    with pytest.raises(BadRequest, match="already has a port on subnet"):
        api.routers.add_interface(ALICE, router["id"], {"subnet_id": subnet_id})
    with pytest.raises(L3PortInUse):
        api.ports.delete(ALICE, interface["id"])
    with pytest.raises(RouterInUse):
        api.routers.delete(ALICE, router["id"])
    with pytest.raises(SubnetInUse):
        api.subnets.delete(ALICE, subnet_id)
    with pytest.raises(NetworkInUse):
        api.networks.delete(ADMIN, public)
    removed = api.routers.remove_interface(ALICE, router["id"], {"subnet_id": subnet_id})
    assert removed["port_id"] == interface["id"]
    with pytest.raises(RouterInterfaceNotFound):
        api.routers.remove_interface(ALICE, router["id"], {"subnet_id": subnet_id})
    api.routers.delete(ALICE, router["id"])
    api.networks.delete(ADMIN, public)  # the gateway port went with the router


def test_gateway_rules(api: NetworkAPI, public: str) -> None:
    network_id, _ = make_subnet(api, ALICE)
    with pytest.raises(BadRequest, match="not an external network"):
        api.routers.create(ALICE, {"external_gateway_info": {"network_id": network_id}})
    with pytest.raises(PolicyNotAuthorized):
        api.routers.create(ALICE, {"external_gateway_info": {"network_id": public, "enable_snat": False}})
    plain = api.routers.create(
        ADMIN,
        {
            "project_id": ALICE.project_id,
            "external_gateway_info": {"network_id": public, "enable_snat": False},
        },
    )
    assert plain["external_gateway_info"]["enable_snat"] is False
    cleared = api.routers.update(ALICE, plain["id"], {"external_gateway_info": None})
    assert cleared["external_gateway_info"] is None


def test_interface_by_port_and_routes(api: NetworkAPI, public: str) -> None:
    network_id, subnet_id = make_subnet(api, ALICE, "10.1.0.0/24")
    router = api.routers.create(ALICE, {"name": "r2"})
    port = api.ports.create(ALICE, {"network_id": network_id, "fixed_ips": [{"ip_address": "10.1.0.254"}]})
    added = api.routers.add_interface(ALICE, router["id"], {"port_id": port["id"]})
    assert added["subnet_ids"] == [subnet_id]
    bound = api.ports.create(ALICE, {"network_id": network_id, "device_id": "vm-1"})
    with pytest.raises(PortInUse):
        api.routers.add_interface(ALICE, router["id"], {"port_id": bound["id"]})
    route = {"destination": "192.168.0.0/16", "nexthop": "10.1.0.10"}
    assert api.routers.update(ALICE, router["id"], {"routes": [route]})["routes"] == [route]
    with pytest.raises(InvalidRoutes):
        api.routers.update(
            ALICE, router["id"], {"routes": [{"destination": "192.168.0.0/16", "nexthop": "10.9.0.1"}]}
        )
    with pytest.raises(BadRequest, match="routes"):
        api.routers.remove_interface(ALICE, router["id"], {"port_id": port["id"]})
    api.routers.update(ALICE, router["id"], {"routes": []})
    api.routers.remove_interface(ALICE, router["id"], {"port_id": port["id"]})
    with pytest.raises(BadRequest):
        api.routers.add_interface(ALICE, router["id"], {"port_id": port["id"], "subnet_id": subnet_id})
    with pytest.raises(OvercastError) as hidden:
        api.routers.get(BOB, router["id"])
    assert hidden.value.status == 404


def test_a_route_may_go_through_the_gateway_subnet(api: NetworkAPI, public: str) -> None:
    router = api.routers.create(ADMIN, {"name": "edge", "external_gateway_info": {"network_id": public}})
    route = {"destination": "198.51.100.0/24", "nexthop": "203.0.113.99"}
    assert api.routers.update(ADMIN, router["id"], {"routes": [route]})["routes"] == [route]
    with pytest.raises(InvalidRoutes):
        api.routers.update(
            ADMIN, router["id"], {"routes": [{"destination": "198.51.100.0/24", "nexthop": "192.0.2.1"}]}
        )


def test_floating_ips(api: NetworkAPI, public: str) -> None:
    router, network_id, subnet_id = router_with_interface(api, public)
    port = api.ports.create(ALICE, {"network_id": network_id})
    fip = api.floating_ips.create(ALICE, {"floating_network_id": public})
    assert fip["status"] == "DOWN" and fip["port_id"] is None and fip["floating_ip_address"] == "203.0.113.3"
    assert fip["port_details"] is None
    associated = api.floating_ips.update(ALICE, fip["id"], {"port_id": port["id"]})
    assert associated["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert associated["port_details"] == {
        key: port[key]
        for key in (
            "name",
            "network_id",
            "mac_address",
            "admin_state_up",
            "status",
            "device_id",
            "device_owner",
        )
    }
    listed = api.floating_ips.list(ALICE, ListQuery(filters={"port_id": [port["id"]]}))
    assert [found["port_details"] for found in listed] == [associated["port_details"]]
    assert associated["router_id"] == router["id"]
    second = api.floating_ips.create(ALICE, {"floating_network_id": public})
    with pytest.raises(FloatingIPPortAlreadyAssociated):
        api.floating_ips.update(ALICE, second["id"], {"port_id": port["id"]})
    with pytest.raises(RouterInterfaceInUseByFloatingIP):
        api.routers.remove_interface(ALICE, router["id"], {"subnet_id": subnet_id})
    with pytest.raises(RouterExternalGatewayInUseByFloatingIp):
        api.routers.update(ALICE, router["id"], {"external_gateway_info": None})
    # Deleting the port leaves the floating IP the project's, mapped to nothing.
    api.ports.delete(ALICE, port["id"])
    orphaned = api.floating_ips.get(ALICE, fip["id"])
    assert orphaned["port_id"] is None and orphaned["port_details"] is None
    unreachable_net, _ = make_subnet(api, ALICE, "10.5.0.0/24")
    lonely = api.ports.create(ALICE, {"network_id": unreachable_net})
    with pytest.raises(ExternalGatewayForFloatingIPNotFound):
        api.floating_ips.update(ALICE, fip["id"], {"port_id": lonely["id"]})
    with pytest.raises(PolicyNotAuthorized):
        api.floating_ips.create(ALICE, {"floating_network_id": public, "floating_ip_address": "203.0.113.50"})
    chosen = api.floating_ips.create(
        ADMIN,
        {
            "floating_network_id": public,
            "floating_ip_address": "203.0.113.50",
            "project_id": ALICE.project_id,
        },
    )
    assert chosen["floating_ip_address"] == "203.0.113.50"
    with pytest.raises(BadRequest, match="not a valid external network"):
        api.floating_ips.create(ALICE, {"floating_network_id": network_id})
    for floating_ip in api.floating_ips.list(ALICE, ListQuery()):
        api.floating_ips.delete(ALICE, floating_ip["id"])
    assert [
        p for p in api.ports.list(ADMIN, ListQuery(filters={"device_owner": ["network:floatingip"]}))
    ] == []


def test_a_gateway_on_an_external_network_without_a_subnet_holds_no_address(api: NetworkAPI) -> None:
    bare = api.networks.create(ADMIN, {"name": "bare-public", "router:external": True})
    router = api.routers.create(ALICE, {"name": "edge", "external_gateway_info": {"network_id": bare["id"]}})
    gateway = router["external_gateway_info"]
    assert (gateway["network_id"], gateway["external_fixed_ips"], gateway["enable_snat"]) == (
        bare["id"],
        [],
        True,
    )
    (port,) = api.ports.list(ADMIN, ListQuery(filters={"device_id": [router["id"]]}))
    assert (port["device_owner"], port["fixed_ips"]) == ("network:router_gateway", [])
    cleared = api.routers.update(ALICE, router["id"], {"external_gateway_info": None})
    assert cleared["external_gateway_info"] is None
    assert api.ports.list(ADMIN, ListQuery(filters={"device_id": [router["id"]]})) == []
    api.networks.delete(ADMIN, bare["id"])


def test_gateways_without_an_address_take_one_from_the_first_subnet_of_their_network(api: NetworkAPI) -> None:
    bare = api.networks.create(ADMIN, {"name": "bare-public", "router:external": True})
    edges = [
        api.routers.create(ALICE, {"name": name, "external_gateway_info": {"network_id": bare["id"]}})
        for name in ("edge-1", "edge-2")
    ]
    subnet = api.subnets.create(
        ADMIN,
        {
            "network_id": bare["id"],
            "ip_version": 4,
            "cidr": "198.51.100.0/24",
            "allocation_pools": [{"start": "198.51.100.10", "end": "198.51.100.10"}],
            "enable_dhcp": False,
        },
    )

    def addresses() -> list[list[dict[str, str]]]:
        return [
            api.routers.get(ALICE, edge["id"])["external_gateway_info"]["external_fixed_ips"]
            for edge in edges
        ]

    # One address in the pool: one gateway takes it, the other stays without.
    taken = [{"subnet_id": subnet["id"], "ip_address": "198.51.100.10"}]
    assert sorted(addresses(), key=len) == [[], taken]
    wider = api.subnets.create(
        ADMIN, {"network_id": bare["id"], "ip_version": 4, "cidr": "198.51.101.0/24", "enable_dhcp": False}
    )
    # The one with an address gains no other.
    second = [{"subnet_id": wider["id"], "ip_address": "198.51.101.2"}]
    assert sorted(addresses(), key=lambda fixed: fixed[0]["ip_address"]) == [taken, second]
