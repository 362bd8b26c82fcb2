"""What a server create's `networks` may ask for, as the API checks it against the network service
before anything is written (Nova's messages and codes), through openstacksdk and the `openstack` CLI."""

from __future__ import annotations

from typing import Any

from openstack.connection import Connection

from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud


def make_network(conn: Connection, name: str, cidr: str) -> tuple[Any, Any]:
    network = conn.network.create_network(name=name)
    subnet = conn.network.create_subnet(network_id=network.id, cidr=cidr, ip_version=4, name=f"{name}-subnet")
    return network, subnet


def test_several_networks_make_auto_ambiguous(cloud: InProcessCloud, demo: Connection) -> None:
    first, first_subnet = make_network(demo, "amb-a", "10.70.0.0/24")
    second, second_subnet = make_network(demo, "amb-b", "10.71.0.0/24")
    # Without --nic the CLI sends "auto" (from 2.37): with two networks Nova cannot choose.
    ambiguous = cloud.openstack("server", "create", "--image", IMAGE_ID, "--flavor", "m1.tiny", "amb",
                                check=False)  # fmt: skip
    assert ambiguous.returncode != 0 and "409" in ambiguous.stderr
    assert "Multiple possible networks found, use a Network ID to be more specific." in ambiguous.stderr
    assert [server.name for server in demo.compute.servers()] == []
    for subnet, network in ((first_subnet, first), (second_subnet, second)):
        demo.network.delete_subnet(subnet)
        demo.network.delete_network(network)


def test_requests_the_network_service_refuses(demo: Connection, admin: Connection) -> None:
    network, subnet = make_network(demo, "refusing", "10.40.0.0/24")
    outside = admin.network.create_network(name="outside", is_router_external=True)
    outside_subnet = admin.network.create_subnet(network_id=outside.id, cidr="198.51.100.0/24", ip_version=4)
    bare = demo.network.create_network(name="no-subnet")

    def refused(networks: Any, status: int, message: str, **extra: Any) -> None:
        body = {
            "server": {"name": "x", "imageRef": IMAGE_ID, "flavorRef": TINY, "networks": networks, **extra}
        }
        response = demo.compute.post("/servers", json=body, microversion="2.62")
        assert response.status_code == status, response.text
        assert message in response.text

    missing = "3f1a4c9e-0000-4000-8000-000000000000"
    refused([{"uuid": missing}], 400, f"Network {missing} could not be found.")
    refused([{"port": missing}], 400, f"Port id {missing} could not be found.")
    refused([{"uuid": bare.id}], 400, f"Network {bare.id} requires a subnet in order to boot instances on.")
    refused([{"uuid": network.id, "fixed_ip": "192.0.2.9"}], 400, "is not a valid ip address for network")
    refused([{"uuid": network.id, "fixed_ip": "10.40.0.9"}], 400, "max_count cannot be greater than 1",
            max_count=2)  # fmt: skip
    refused([{"uuid": network.id}], 400, "Security group nope not found", security_groups=[{"name": "nope"}])
    taken = demo.network.create_port(network_id=network.id, fixed_ips=[{"ip_address": "10.40.0.50"}])
    refused(
        [{"uuid": network.id, "fixed_ip": "10.40.0.50"}], 400, "Fixed IP address 10.40.0.50 is already in use"
    )
    refused([{"port": taken.id, "fixed_ip": "10.40.0.50"}], 400, "the two cannot be specified together")
    bound = demo.network.create_port(
        network_id=network.id, device_id="someone-else", device_owner="compute:nova"
    )
    refused([{"port": bound.id}], 409, f"Port {bound.id} is still in use.")
    refused(
        [{"uuid": outside.id}],
        403,
        f"It is not allowed to create an interface on external network {outside.id}",
    )
    # No room for the server's port in the project's port quota: Nova's 403 before anything is made.
    used = demo.network.get_quota(demo.current_project_id, details=True).ports["used"]
    admin.network.update_quota(demo.current_project_id, ports=used)
    try:
        refused([{"uuid": network.id}], 403, "Maximum number of ports exceeded")
    finally:
        admin.network.delete_quota(demo.current_project_id)
    # Nothing was half-created: no server, no port beyond the DHCP port and ours.
    assert [server.name for server in demo.compute.servers()] == []
    assert {port.id for port in demo.network.ports(network_id=network.id, device_owner="")} == {taken.id}
    demo.network.delete_port(taken)
    demo.network.delete_port(bound)
    admin.network.delete_subnet(outside_subnet)
    admin.network.delete_network(outside)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)
    demo.network.delete_network(bare)
