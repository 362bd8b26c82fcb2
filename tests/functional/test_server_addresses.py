"""Servers always have addresses: openstacksdk's cloud layer (`create_server(wait=True)`, what Ansible's
server module calls), configured from the clouds.yaml the cloud writes, gets back an ACTIVE server with an
address on the fake driver, on user-mode networking as on a routed network, where it adds a floating IP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack.config
import pytest
from openstack.connection import Connection

from overcast.identity.bootstrap import write_clouds_yaml
from overcast.network.drivers.noop import NoopDriver
from tests.functional.test_compute_networks import NetworkedCloud
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud

TIMEOUT = 60
NETWORKS = (
    {"name": "public", "routes_externally": True, "nat_source": True},
    {"name": "private", "nat_destination": True},
)
# openstacksdk's cloud layer itself reads servers by the dict keys its resources deprecate (accessIPv4...)
# and looks floating IPs up with its own deprecated search_* helpers.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Access to .* is deprecated:openstack.warnings.LegacyAPIWarning"),
    pytest.mark.filterwarnings("ignore:search_.* is deprecated:openstack.warnings.RemovedInSDK50Warning"),
]


@pytest.fixture(scope="module")
def networked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkedCloud]:
    running = NetworkedCloud(tmp_path_factory.mktemp("addresses"), {"compute-1": NoopDriver()})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cloud(networked: NetworkedCloud) -> InProcessCloud:
    return networked.cloud


def from_clouds_yaml(cloud: InProcessCloud, name: str) -> Connection:
    config = openstack.config.OpenStackConfig(config_files=[str(cloud.credentials.clouds_yaml)])
    return Connection(config=config.get_one(name))


def test_clouds_yaml_says_floating_ips_come_from_the_network_service(cloud: InProcessCloud) -> None:
    conn = from_clouds_yaml(cloud, "overcast-demo")
    assert conn.config.config["floating_ip_source"] == "neutron"
    assert conn._has_floating_ips()


def test_create_server_wait_returns_a_user_mode_server_with_its_address(cloud: InProcessCloud) -> None:
    conn = from_clouds_yaml(cloud, "overcast-demo")
    server = conn.create_server("addressed", image=IMAGE_ID, flavor=TINY, wait=True, timeout=TIMEOUT)
    try:
        assert server.status == "ACTIVE"
        assert server.addresses == {
            "user": [{"version": 4, "addr": "10.0.2.15", "OS-EXT-IPS:type": "fixed",
                      "OS-EXT-IPS-MAC:mac_addr": server.addresses["user"][0]["OS-EXT-IPS-MAC:mac_addr"]}],
        }  # fmt: skip
        # No port to NAT to: the cloud layer adds no floating IP and keeps the server.
        assert conn.get_server(server.id).status == "ACTIVE"
        assert not list(conn.network.ips(project_id=server.location.project.id))
    finally:
        conn.delete_server(server.id, wait=True, timeout=TIMEOUT)


def routed_network(admin: Connection, conn: Connection) -> Any:
    external = admin.network.create_network(name="outside", is_router_external=True)
    admin.network.create_subnet(
        network_id=external.id, cidr="198.51.100.0/24", ip_version=4, enable_dhcp=False
    )
    network = conn.network.create_network(name="inside")
    subnet = conn.network.create_subnet(network_id=network.id, cidr="10.77.0.0/24", ip_version=4)
    router = conn.network.create_router(name="edge", external_gateway_info={"network_id": external.id})
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    return network


def test_create_server_wait_on_a_routed_network_adds_a_floating_ip(cloud: InProcessCloud) -> None:
    admin = from_clouds_yaml(cloud, "overcast-admin")
    conn = from_clouds_yaml(cloud, "overcast-demo")
    network = routed_network(admin, conn)
    server = conn.create_server(
        "floating", image=IMAGE_ID, flavor=TINY, network=network.id, wait=True, timeout=TIMEOUT
    )
    try:
        kinds = {entry["OS-EXT-IPS:type"]: entry["addr"] for entry in server.addresses["inside"]}
        assert kinds["fixed"].startswith("10.77.0.")
        assert kinds["floating"].startswith("198.51.100.")
        # The cloud layer's view of it (what Ansible's server module reports) names both and reaches it
        # by the floating one.
        shown = conn.get_server(server.id)
        assert (shown.private_v4, shown.public_v4, shown.interface_ip) == (
            kinds["fixed"],
            kinds["floating"],
            kinds["floating"],
        )
    finally:
        conn.delete_server(server.id, wait=True, timeout=TIMEOUT, delete_ips=True)


def test_nat_destination_picks_the_port_a_server_on_two_networks_gets_its_floating_ip_on(
    cloud: InProcessCloud, tmp_path: Path
) -> None:
    # The clouds.yaml the all-in-one writes with its networks (public -> private), read by openstacksdk.
    clouds_yaml = tmp_path / "clouds.yaml"
    write_clouds_yaml(clouds_yaml, cloud.settings, cloud.password("admin"), cloud.password("demo"), NETWORKS)
    config = openstack.config.OpenStackConfig(config_files=[str(clouds_yaml)])
    admin, conn = (Connection(config=config.get_one(name)) for name in ("overcast-admin", "overcast-demo"))
    public = admin.network.create_network(name="public", is_router_external=True)
    admin.network.create_subnet(network_id=public.id, cidr="203.0.113.0/24", ip_version=4, enable_dhcp=False)
    router = conn.network.create_router(name="router1", external_gateway_info={"network_id": public.id})
    nets = {}
    for name, cidr in (("private", "10.0.0.0/26"), ("backend", "10.88.0.0/24")):
        nets[name] = conn.network.create_network(name=name)
        subnet = conn.network.create_subnet(network_id=nets[name].id, cidr=cidr, ip_version=4)
        conn.network.add_interface_to_router(router, subnet=subnet.id)
    server = conn.create_server(
        "two-legs", image=IMAGE_ID, flavor=TINY, network=[nets["backend"].id, nets["private"].id], wait=True,
        timeout=TIMEOUT,
    )  # fmt: skip
    try:
        shown = conn.get_server(server.id)
        floating = {name: [a["addr"] for a in entries if a["OS-EXT-IPS:type"] == "floating"]
                    for name, entries in shown.addresses.items()}  # fmt: skip
        assert floating["backend"] == [] and floating["private"][0].startswith("203.0.113.")
        assert shown.public_v4 == floating["private"][0]
    finally:
        conn.delete_server(server.id, wait=True, timeout=TIMEOUT, delete_ips=True)
