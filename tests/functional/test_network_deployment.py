"""Where the network agents run (availability zones), the kind of router made (service providers), and a
floating IP's port_details, through real HTTP with openstacksdk and the `openstack` CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from openstack.connection import Connection

from overcast.network.drivers.noop import NoopDriver
from overcast.network.manager import NetworkManager
from overcast.service import Service
from tests.support.cloud import InProcessCloud


@pytest.fixture(scope="module")
def agents(cloud: InProcessCloud) -> Iterator[list[NetworkManager]]:
    """An agent on each compute host; an aggregate puts compute-2 in zone az-east."""
    cloud.openstack("aggregate", "create", "--zone", "az-east", "east", user="overcast-admin")
    cloud.openstack("aggregate", "add", "host", "east", "compute-2", user="overcast-admin")
    managers = [NetworkManager(cloud.cloud, host, driver=NoopDriver()) for host in ("compute-1", "compute-2")]
    services = [Service(cloud.cloud, manager) for manager in managers]
    for service in services:
        service.start()
    yield managers
    for service in services:
        service.stop()


def test_availability_zones_are_where_the_agents_run(demo: Connection, agents: list[NetworkManager]) -> None:
    zones = {(zone.name, zone.resource, zone.state) for zone in demo.network.availability_zones()}
    assert zones == {
        ("az-east", "network", "available"),
        ("az-east", "router", "available"),
        ("nova", "network", "available"),
        ("nova", "router", "available"),
    }
    url = str(demo.network.get_endpoint()).rstrip("/") + "/availability_zones"
    headers = {"X-Auth-Token": demo.auth_token}
    for params in (
        {"name": "az-east", "resource": "router"},
        {"availability_zone": "az-east", "agent_type": "L3 agent"},
    ):
        # The second is how openstacksdk's AvailabilityZone resource spells the same filters.
        found = requests.get(url, params=params, headers=headers, timeout=30)
        assert found.json() == {
            "availability_zones": [{"name": "az-east", "resource": "router", "state": "available"}]
        }
    by_state = requests.get(url, params={"state": "unavailable"}, headers=headers, timeout=30)
    assert by_state.status_code == 200 and by_state.json() == {"availability_zones": []}
    bad = requests.get(url, params={"zone": "nova"}, headers=headers, timeout=30)
    assert bad.status_code == 400 and bad.json()["NeutronError"]["type"] == "InvalidInput"


def test_availability_zone_list_with_the_cli(cloud: InProcessCloud, agents: list[NetworkManager]) -> None:
    listed = cloud.openstack("availability", "zone", "list", "--network", "--long", "-f", "json")
    assert {(row["Zone Name"], row["Zone Resource"], row["Zone Status"]) for row in listed} == {
        ("az-east", "network", "available"),
        ("az-east", "router", "available"),
        ("nova", "network", "available"),
        ("nova", "router", "available"),
    }
    # Without --network the CLI asks compute, volume and network alike (network: the extension is listed).
    every = cloud.openstack("availability", "zone", "list", "--long", "-f", "json", user="overcast-admin")
    assert ("az-east", "router") in {(row["Zone Name"], row["Zone Resource"]) for row in every}


def test_service_providers(cloud: InProcessCloud, demo: Connection) -> None:
    providers = [(p.service_type, p.name, p.is_default) for p in demo.network.service_providers()]
    assert providers == [("L3_ROUTER_NAT", "single_node", True)]
    assert list(demo.network.service_providers(service_type="LOADBALANCERV2")) == []
    listed = cloud.openstack("network", "service", "provider", "list", "-f", "json")
    assert listed == [{"Service Type": "L3_ROUTER_NAT", "Name": "single_node", "Default": True}]
    aliases = {extension.alias for extension in demo.network.extensions()}
    assert {"availability_zone", "service-type", "fip-port-details"} <= aliases


def test_floating_ip_port_details(admin: Connection, demo: Connection) -> None:
    public = admin.network.create_network(name="details-public", is_router_external=True)
    admin.network.create_subnet(network_id=public.id, ip_version=4, cidr="198.51.100.0/24")
    private = demo.network.create_network(name="details-private")
    subnet = demo.network.create_subnet(network_id=private.id, ip_version=4, cidr="10.61.0.0/24")
    router = demo.network.create_router(external_gateway_info={"network_id": public.id})
    demo.network.add_interface_to_router(router, subnet=subnet.id)
    port = demo.network.create_port(network_id=private.id, name="details-port", device_id="vm-1")
    fip = demo.network.create_ip(floating_network_id=public.id)
    assert fip.port_details is None
    associated = demo.network.update_ip(fip, port_id=port.id)
    assert associated.port_details == {
        "name": "details-port",
        "network_id": private.id,
        "mac_address": port.mac_address,
        "admin_state_up": True,
        "status": port.status,
        "device_id": "vm-1",
        "device_owner": "",
    }
    assert demo.network.get_ip(fip.id).port_details == associated.port_details
    demo.network.update_port(port, name="renamed")
    assert demo.network.get_ip(fip.id).port_details["name"] == "renamed"
    assert demo.network.update_ip(fip, port_id=None).port_details is None
    demo.network.delete_ip(fip)
    demo.network.delete_port(port)
    demo.network.remove_interface_from_router(router, subnet=subnet.id)
    demo.network.delete_router(router)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(private)
    admin.network.delete_network(public)
