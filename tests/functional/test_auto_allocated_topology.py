"""Get-me-a-network through real HTTP: `openstack server create` without --nic (the CLI's "auto") on a
project with no network lands on the project's auto-allocated network once the cloud has a default
external network, and keeps user-mode networking before; the topology through openstacksdk and the
`openstack network auto allocated topology` commands."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from openstack.connection import Connection

from overcast.network.api.settings import NetworkSettings
from overcast.network.drivers.noop import NoopDriver
from tests.functional.test_compute_networks import NetworkedCloud, ports_of
from tests.support.cloud import IMAGE_ID, InProcessCloud

ADMIN_CLI = "overcast-admin"


@pytest.fixture(scope="module")
def networked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkedCloud]:
    running = NetworkedCloud(tmp_path_factory.mktemp("auto-topology"), {"compute-1": NoopDriver()})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cloud(networked: NetworkedCloud) -> InProcessCloud:
    return networked.cloud


def create_server(cloud: InProcessCloud, name: str) -> dict[str, object]:
    server: dict[str, object] = cloud.openstack(
        "server", "create", "--image", IMAGE_ID, "--flavor", "m1.tiny", "--wait", name, "-f", "json"
    )
    assert server["status"] == "ACTIVE"
    return server


def test_without_a_default_external_network_auto_keeps_user_mode_networking(
    cloud: InProcessCloud, demo: Connection
) -> None:
    check = cloud.openstack("network", "auto", "allocated", "topology", "create", "--check-resources",
                            check=False)  # fmt: skip
    assert check.returncode != 0 and "No default router:external network" in check.stderr

    server = create_server(cloud, "before")

    assert ports_of(demo, str(server["id"])) == []
    assert list(demo.network.networks(project_id=demo.current_project_id)) == []
    cloud.openstack("server", "delete", "--wait", "before")


def test_auto_lands_on_the_projects_auto_allocated_network(cloud: InProcessCloud, demo: Connection) -> None:
    assert demo.network.find_extension("auto-allocated-topology") is not None
    public = cloud.openstack("network", "create", "--external", "--default", "--provider-network-type",
                             "flat", "--provider-physical-network", "public", "public", "-f", "json",
                             user=ADMIN_CLI)  # fmt: skip
    assert public["is_default"] is True
    cloud.openstack("subnet", "create", "--network", "public", "--subnet-range", "203.0.113.0/24",
                    "--no-dhcp", "public-subnet", user=ADMIN_CLI)  # fmt: skip
    cloud.openstack("network", "auto", "allocated", "topology", "create", "--check-resources")
    # Neutron answers a dry run with the id "dry-run=pass" (the CLI's dry_run column stays empty).
    assert demo.network.validate_auto_allocated_topology().id == "dry-run=pass"

    server = create_server(cloud, "first")

    (network,) = demo.network.networks(project_id=demo.current_project_id)
    assert network.name == "auto_allocated_network"
    (address,) = server["addresses"]["auto_allocated_network"]  # type: ignore[index]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(NetworkSettings().auto_allocated_cidr)
    (router,) = demo.network.routers(project_id=demo.current_project_id)
    assert router.external_gateway_info["network_id"] == public["id"]
    topology = demo.network.get_auto_allocated_topology()
    assert topology.id == network.id
    shown = cloud.openstack("network", "auto", "allocated", "topology", "create", "-f", "json")
    assert shown["id"] == network.id

    second = create_server(cloud, "second")
    assert list(second["addresses"]) == ["auto_allocated_network"]  # type: ignore[arg-type]
    for name in ("first", "second"):
        cloud.openstack("server", "delete", "--wait", name)

    cloud.openstack("network", "auto", "allocated", "topology", "delete")

    assert list(demo.network.networks(project_id=demo.current_project_id)) == []
    assert list(demo.network.routers(project_id=demo.current_project_id)) == []
