from __future__ import annotations

from overcast.dashboard.pages.networks import ROW_HEIGHT, SERVER_LEFT, SERVER_WIDTH, TOP, topology

NETWORKS = [
    {"id": "n-private", "name": "private"},
    {"id": "n-public", "name": "public", "router:external": True},
    {"id": "n-lonely", "name": "lonely"},
]
SUBNETS = [
    {"network_id": "n-private", "cidr": "10.0.0.0/26"},
    {"network_id": "n-public", "cidr": "172.24.4.0/24"},
]
ROUTERS = [{"id": "r1", "name": "router1", "external_gateway_info": {"network_id": "n-public"}}]
PORTS = [
    {
        "network_id": "n-private",
        "device_owner": "network:router_interface",
        "device_id": "r1",
        "fixed_ips": [],
    },
    {
        "network_id": "n-private",
        "device_owner": "compute:nova",
        "device_id": "s1",
        "fixed_ips": [{"ip_address": "10.0.0.5"}],
    },
    {"network_id": "n-private", "device_owner": "compute:az1", "device_id": "s-unknown", "fixed_ips": []},
    {"network_id": "n-private", "device_owner": "network:dhcp", "device_id": "dhcp", "fixed_ips": []},
    {"network_id": "n-elsewhere", "device_owner": "compute:nova", "device_id": "s2", "fixed_ips": []},
]


def test_external_networks_come_first_and_each_network_has_its_row() -> None:
    picture = topology(NETWORKS, SUBNETS, ROUTERS, PORTS, {"s1": "web-1"})
    assert [(row.name, row.y, row.external) for row in picture.networks] == [
        ("public", TOP, True),
        ("lonely", TOP + ROW_HEIGHT, False),
        ("private", TOP + 2 * ROW_HEIGHT, False),
    ]
    assert picture.networks[0].cidrs == ["172.24.4.0/24"]
    assert picture.height == TOP + 3 * ROW_HEIGHT


def test_instances_sit_along_their_network_and_routers_reach_each_network_they_join() -> None:
    picture = topology(NETWORKS, SUBNETS, ROUTERS, PORTS, {"s1": "web-1"})
    private = picture.networks[2]
    assert private.servers == [
        ("web-1", "10.0.0.5", SERVER_LEFT),
        ("s-unknow", "", SERVER_LEFT + SERVER_WIDTH),
    ]
    (router,) = picture.routers
    assert router.legs == [TOP, TOP + 2 * ROW_HEIGHT]
    assert router.y == (TOP + TOP + 2 * ROW_HEIGHT) // 2 + ROW_HEIGHT // 3


def test_an_empty_project_is_a_small_picture() -> None:
    picture = topology([], [], [], [], {})
    assert picture.networks == [] and picture.routers == [] and picture.width == 720
