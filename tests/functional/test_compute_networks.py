"""Servers on networks: the whole cloud in-process (fake virt driver, a network agent per compute host on
the noop data plane) driven by openstacksdk and the `openstack` CLI as users drive Nova and Neutron."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from overcast.compute.vif_settings import VifSettings
from overcast.network.drivers.model import Port
from overcast.network.drivers.noop import NoopDriver
from overcast.network.manager import NetworkManager
from overcast.service import Service
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud

WAIT = {"interval": 0.1, "wait": 30}


class NetworkedCloud:
    """An in-process cloud whose compute hosts each run the network agent beside them, as a real
    deployment does; `drivers` are the agents' data planes (the noop driver records what it is asked)."""

    def __init__(self, data_dir: Path, drivers: dict[str, NoopDriver], **settings: Any) -> None:
        self.cloud = InProcessCloud(data_dir, compute_hosts=tuple(drivers), **settings)
        self.drivers = drivers
        self.agents = [
            Service(self.cloud.cloud, NetworkManager(self.cloud.cloud, host, driver=driver))
            for host, driver in drivers.items()
        ]
        for agent in self.agents:
            agent.start()

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()
        self.cloud.stop()


@pytest.fixture(scope="module")
def networked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkedCloud]:
    running = NetworkedCloud(
        tmp_path_factory.mktemp("networks"), {"compute-1": NoopDriver(), "compute-2": NoopDriver()}
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cloud(networked: NetworkedCloud) -> InProcessCloud:
    return networked.cloud


def make_network(conn: Connection, name: str, cidr: str, **extra: Any) -> tuple[Any, Any]:
    network = conn.network.create_network(name=name, **extra)
    subnet = conn.network.create_subnet(network_id=network.id, cidr=cidr, ip_version=4, name=f"{name}-subnet")
    return network, subnet


def boot(conn: Connection, name: str, **extra: Any) -> Any:
    created = conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, **extra)
    return conn.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], **WAIT)


def ports_of(conn: Connection, server_id: str) -> list[Any]:
    return list(conn.network.ports(device_id=server_id))


def wait_gone(conn: Connection, server: Any) -> None:
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, **WAIT)


def test_one_network_is_the_default_and_the_server_shows_its_port(
    networked: NetworkedCloud, demo: Connection, admin: Connection
) -> None:
    network, subnet = make_network(demo, "only-net", "10.20.0.0/24")
    server = boot(demo, "on-the-one", networks="auto")
    [port] = ports_of(demo, server.id)
    assert port.network_id == network.id and port.status == "ACTIVE"
    host = admin.compute.get_server(server.id).compute_host
    assert port.device_owner == "compute:nova" and admin.network.get_port(port.id).binding_host_id == host
    address = port.fixed_ips[0]["ip_address"]
    assert port.fixed_ips[0]["subnet_id"] == subnet.id
    shown = demo.compute.get_server(server.id)
    assert shown.addresses == {
        "only-net": [
            {
                "version": 4,
                "addr": address,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
            }
        ]
    }
    listed = {item.id: item for item in demo.compute.servers()}
    assert listed[server.id].addresses["only-net"][0]["addr"] == address
    # The agent on the server's host wired the port with the project's default group.
    driver = networked.drivers[host]
    wired: Port = driver.ports[port.id]
    assert wired.mac_address == port.mac_address
    default = demo.network.find_security_group("default", project_id=server.project_id)
    assert port.security_group_ids == [default.id]

    wait_gone(demo, server)
    assert ports_of(demo, server.id) == []
    assert port.id not in driver.ports
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)


def test_nic_choices_through_the_cli(cloud: InProcessCloud, demo: Connection, admin: Connection) -> None:
    network, _ = make_network(demo, "cli-a", "10.30.0.0/24")
    other, _ = make_network(demo, "cli-b", "10.31.0.0/24")
    by_net = cloud.openstack("server", "create", "--image", IMAGE_ID, "--flavor", "m1.tiny", "--wait",
                             "--nic", f"net-id={network.id}", "by-net", "-f", "json")  # fmt: skip
    assert by_net["status"] == "ACTIVE"
    assert by_net["addresses"]["cli-a"][0].startswith("10.30.0.")
    fixed_nic = f"net-id={other.id},v4-fixed-ip=10.31.0.77"
    fixed = cloud.openstack("server", "create", "--image", IMAGE_ID, "--flavor", "m1.tiny", "--wait",
                            "--nic", fixed_nic, "fixed", "-f", "json")  # fmt: skip
    assert fixed["addresses"] == {"cli-b": ["10.31.0.77"]}

    user_port = demo.network.create_port(network_id=network.id, name="mine")
    by_port = cloud.openstack("server", "create", "--image", IMAGE_ID, "--flavor", "m1.tiny", "--wait",
                              "--nic", f"port-id={user_port.id}", "by-port", "-f", "json")  # fmt: skip
    address = user_port.fixed_ips[0]["ip_address"]
    assert by_port["addresses"] == {"cli-a": [address]}
    bound = demo.network.get_port(user_port.id)
    assert bound.device_id == by_port["id"] and bound.status == "ACTIVE"
    # A port in use cannot boot another server (Nova's 409).
    again = cloud.openstack("server", "create", "--image", IMAGE_ID, "--flavor", "m1.tiny",
                            "--nic", f"port-id={user_port.id}", "twice", check=False)  # fmt: skip
    assert again.returncode != 0 and f"Port {user_port.id} is still in use." in again.stderr

    none = cloud.openstack("server", "create", "--image", IMAGE_ID, "--flavor", "m1.tiny", "--wait",
                           "--nic", "none", "no-nic", "-f", "json")  # fmt: skip
    assert ports_of(demo, none["id"]) == []

    # Deleting keeps the user's port (unbound, DOWN) and removes the ports the host made.
    made = [port.id for port in ports_of(demo, by_net["id"])]
    for name in ("by-net", "fixed", "by-port", "no-nic"):
        cloud.openstack("server", "delete", "--wait", name)
    kept = admin.network.get_port(user_port.id)
    assert kept.device_id == "" and kept.device_owner == "" and kept.binding_host_id == ""
    assert kept.status == "DOWN"
    for port_id in made:
        with pytest.raises(sdk_exceptions.NotFoundException):
            demo.network.get_port(port_id)
    demo.network.delete_port(user_port)
    for net in (network, other):
        for sub in demo.network.subnets(network_id=net.id):
            demo.network.delete_subnet(sub)
        demo.network.delete_network(net)


def test_security_groups_on_create_and_added_or_removed_later(
    cloud: InProcessCloud, demo: Connection
) -> None:
    network, subnet = make_network(demo, "guarded", "10.50.0.0/24")
    web = demo.network.create_security_group(name="web")
    ssh = demo.network.create_security_group(name="ssh")
    server = boot(demo, "guarded-vm", networks=[{"uuid": network.id}],
                  security_groups=[{"name": "web"}, {"name": ssh.id}])  # fmt: skip
    [port] = ports_of(demo, server.id)
    assert sorted(port.security_group_ids) == sorted([web.id, ssh.id])
    # Named by id in the request, by name in the view.
    assert sorted(group["name"] for group in server.security_groups) == ["ssh", "web"]

    # The CLI sends the group's id in the action's name field.
    cloud.openstack("server", "remove", "security", "group", "guarded-vm", ssh.id)
    assert demo.network.get_port(port.id).security_group_ids == [web.id]
    assert [group["name"] for group in demo.compute.get_server(server.id).security_groups] == ["web"]
    cloud.openstack("server", "add", "security", "group", "guarded-vm", "default")
    default = demo.network.find_security_group("default", project_id=server.project_id)
    assert sorted(demo.network.get_port(port.id).security_group_ids) == sorted([web.id, default.id])
    names = {group["name"] for group in demo.compute.get_server(server.id).security_groups}
    assert names == {"web", "default"}

    def action(body: dict[str, Any]) -> Any:
        return demo.compute.post(f"/servers/{server.id}/action", json=body, microversion="2.62")

    twice = action({"addSecurityGroup": {"name": "web"}})
    assert twice.status_code == 400 and "is already associated with the instance" in twice.text
    absent = action({"removeSecurityGroup": {"name": "ssh"}})
    assert absent.status_code == 400 and "is not associated with the instance" in absent.text
    unknown = action({"addSecurityGroup": {"name": "nope"}})
    assert unknown.status_code == 404 and "Security group nope not found" in unknown.text
    assert action({"addSecurityGroup": {}}).status_code == 400

    wait_gone(demo, server)
    demo.network.delete_security_group(web)
    demo.network.delete_security_group(ssh)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)


def test_a_floating_ip_shows_in_the_server_view_at_once(demo: Connection, admin: Connection) -> None:
    public = admin.network.create_network(name="fip-public", is_router_external=True)
    public_subnet = admin.network.create_subnet(
        network_id=public.id, ip_version=4, cidr="198.51.100.0/24", is_dhcp_enabled=False
    )
    network, subnet = make_network(demo, "fip-private", "10.80.0.0/24")
    router = demo.network.create_router(name="fip-router", external_gateway_info={"network_id": public.id})
    demo.network.add_interface_to_router(router, subnet=subnet.id)
    server = boot(demo, "floating", networks=[{"uuid": network.id}])
    [port] = ports_of(demo, server.id)
    fip = demo.network.create_ip(floating_network_id=public.id, port_id=port.id)
    listed = demo.compute.get_server(server.id).addresses["fip-private"]
    assert [(entry["addr"], entry["OS-EXT-IPS:type"]) for entry in listed] == [
        (port.fixed_ips[0]["ip_address"], "fixed"),
        (fip.floating_ip_address, "floating"),
    ]
    demo.network.update_ip(fip, port_id=None)
    assert len(demo.compute.get_server(server.id).addresses["fip-private"]) == 1
    demo.network.delete_ip(fip)
    wait_gone(demo, server)
    demo.network.remove_interface_from_router(router, subnet=subnet.id)
    demo.network.delete_router(router)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)
    admin.network.delete_subnet(public_subnet)
    admin.network.delete_network(public)


def test_interfaces_attached_and_detached(
    networked: NetworkedCloud, cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    first, first_subnet = make_network(demo, "if-first", "10.90.0.0/24")
    second, second_subnet = make_network(demo, "if-second", "10.91.0.0/24")
    server = boot(demo, "plugged", networks=[{"uuid": first.id}])
    host = admin.compute.get_server(server.id).compute_host
    [boot_port] = ports_of(demo, server.id)

    attached = demo.compute.create_server_interface(server, net_id=second.id)
    assert attached.net_id == second.id and attached.port_state == "ACTIVE"
    assert attached.fixed_ips[0]["ip_address"].startswith("10.91.0.")
    listed = {interface.port_id for interface in demo.compute.server_interfaces(server)}
    assert listed == {boot_port.id, attached.port_id}
    shown = demo.compute.get_server_interface(attached.port_id, server)
    assert shown.mac_addr == demo.network.get_port(attached.port_id).mac_address
    driver = networked.cloud.drivers[host]
    assert driver.interface_ids(server.id) == [boot_port.id, attached.port_id]
    assert attached.port_id in networked.drivers[host].ports
    assert set(demo.compute.get_server(server.id).addresses) == {"if-first", "if-second"}

    # The CLI: a user's port in, then out again (kept, unbound); the host's own port out (deleted).
    mine = demo.network.create_port(network_id=second.id, name="mine")
    cloud.openstack("server", "add", "port", "plugged", mine.id)
    assert demo.network.get_port(mine.id).device_id == server.id
    cloud.openstack("server", "remove", "port", "plugged", mine.id)
    cloud.openstack("server", "remove", "port", "plugged", attached.port_id)

    def detached() -> bool:
        return {interface.port_id for interface in demo.compute.server_interfaces(server)} == {boot_port.id}

    deadline = time.monotonic() + 30
    while not detached() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert detached() and driver.interface_ids(server.id) == [boot_port.id]
    assert demo.network.get_port(mine.id).device_id == ""
    with pytest.raises(sdk_exceptions.NotFoundException):
        demo.network.get_port(attached.port_id)

    def attach(body: dict[str, Any]) -> Any:
        return demo.compute.post(f"/servers/{server.id}/os-interface", json=body, microversion="2.62")

    both = attach({"interfaceAttachment": {"net_id": first.id, "port_id": mine.id}})
    assert both.status_code == 400 and "Must not input both network_id and port_id" in both.text
    missing = attach({"interfaceAttachment": {"net_id": "3f1a4c9e-0000-4000-8000-000000000000"}})
    assert missing.status_code == 404
    ambiguous = attach({"interfaceAttachment": {}})
    assert ambiguous.status_code == 400 and "Multiple possible networks found" in ambiguous.text
    early_tag = demo.compute.post(
        f"/servers/{server.id}/os-interface",
        json={"interfaceAttachment": {"net_id": first.id, "tag": "nic"}},
        microversion="2.48",
    )
    assert early_tag.status_code == 400 and "'tag' was unexpected" in early_tag.text
    in_use = attach({"interfaceAttachment": {"port_id": boot_port.id}})
    assert in_use.status_code == 409
    not_attached = demo.compute.delete(f"/servers/{server.id}/os-interface/{mine.id}", microversion="2.62")
    assert not_attached.status_code == 404

    wait_gone(demo, server)
    demo.network.delete_port(mine)
    for subnet, network in ((first_subnet, first), (second_subnet, second)):
        demo.network.delete_subnet(subnet)
        demo.network.delete_network(network)


def test_a_server_deleted_while_its_host_is_down_gives_its_ports_back(
    demo: Connection, admin: Connection
) -> None:
    network, subnet = make_network(demo, "orphaned", "10.95.0.0/24")
    mine = demo.network.create_port(network_id=network.id, name="kept")
    server = boot(demo, "on-a-dead-host", networks=[{"uuid": network.id}, {"port": mine.id}])
    made = {port.id for port in ports_of(demo, server.id)} - {mine.id}
    host = admin.compute.get_server(server.id).compute_host

    def force_down(down: bool) -> None:
        body = {"host": host, "binary": "overcast-compute", "forced_down": down}
        response = admin.compute.put("/os-services/force-down", json=body, microversion="2.11")
        assert response.status_code == 200, response.text

    force_down(True)
    try:
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, **WAIT)
    finally:
        force_down(False)
    # Deleted by the API itself (the host is down): its own port is gone, the user's unbound.
    assert ports_of(demo, server.id) == []
    for port_id in made:
        with pytest.raises(sdk_exceptions.NotFoundException):
            demo.network.get_port(port_id)
    assert admin.network.get_port(mine.id).binding_host_id == ""
    demo.network.delete_port(mine)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)


def test_ports_follow_a_server_through_rebuild_migration_and_revert(
    networked: NetworkedCloud, demo: Connection, admin: Connection
) -> None:
    network, subnet = make_network(demo, "moving", "10.96.0.0/24")
    server = boot(demo, "mover", networks=[{"uuid": network.id}])
    [port] = ports_of(demo, server.id)
    source = admin.compute.get_server(server.id).compute_host
    dest = next(host for host in networked.drivers if host != source)

    def settled(status: str) -> Any:
        return admin.compute.wait_for_server(admin.compute.get_server(server.id), status=status, **WAIT)

    def where() -> tuple[str, list[str], bool, bool]:
        host = admin.network.get_port(port.id).binding_host_id
        nics = networked.cloud.drivers[host].interface_ids(server.id)
        return (
            host,
            nics,
            port.id in networked.drivers[source].ports,
            port.id in networked.drivers[dest].ports,
        )

    demo.compute.rebuild_server(server, image=IMAGE_ID)
    settled("ACTIVE")
    assert where() == (source, [port.id], True, False)

    admin.compute.migrate_server(server, host=dest)
    settled("VERIFY_RESIZE")
    assert where() == (dest, [port.id], False, True)
    demo.compute.revert_server_resize(server)
    settled("ACTIVE")
    assert where() == (source, [port.id], True, False)
    assert demo.network.get_port(port.id).status == "ACTIVE"

    wait_gone(demo, server)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)


class FailingWiring(NoopDriver):
    def ensure_port(self, port: Port) -> None:
        raise RuntimeError("the tap could not be created")


class StuckWiring(NoopDriver):
    def ensure_port(self, port: Port) -> None:
        time.sleep(3)
        super().ensure_port(port)


@pytest.mark.parametrize("driver", [FailingWiring(), StuckWiring()], ids=["failing", "stuck"])
def test_a_port_the_agent_cannot_wire_fails_the_build_with_a_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, driver: NoopDriver
) -> None:
    monkeypatch.setenv("OVERCAST_VIF_PLUGGING_TIMEOUT", "1")
    assert VifSettings().plugging_timeout == 1
    running = NetworkedCloud(tmp_path, {"compute-1": driver})
    try:
        conn = running.cloud.connect("demo")
        network, _ = make_network(conn, "broken", "10.60.0.0/24")
        created = conn.compute.create_server(name="unwired", image_id=IMAGE_ID, flavor_id=TINY,
                                             networks=[{"uuid": network.id}])  # fmt: skip
        server = conn.compute.wait_for_server(created, status="ERROR", failures=["ACTIVE"], **WAIT)
        assert "was not wired on compute-1 within 1 s" in server.fault["message"]
        # The failed build left no port behind.
        assert ports_of(conn, server.id) == []
        assert driver.ports == {}
    finally:
        running.stop()
