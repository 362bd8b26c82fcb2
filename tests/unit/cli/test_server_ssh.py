"""`overcast server ssh`: the way in it picks for each kind of server and the command it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overcast import errors
from overcast.cli.main import build_parser
from overcast.cli.server_ssh import (
    ServerFacts,
    ServerPort,
    SshRoute,
    choose_route,
    default_key,
    login,
    read_server,
    ssh_argv,
)
from overcast.cloud import Cloud
from overcast.compute import instance_extra
from overcast.db import Database
from overcast.db.models.compute import Instance
from tests.unit.network.agent_setup import (
    ALICE,
    agent_cloud,
    bound_port,
    external_network,
    network_api,
    network_with_subnet,
    routed_network,
)

SERVER = "5f0c3c52-6f0e-4c4e-9d3a-1c2b3d4e5f60"
NETWORK = "0b8a1c52-1111-4c4e-9d3a-1c2b3d4e5f60"
ROUTER = "7c9d2e63-2222-4c4e-9d3a-1c2b3d4e5f60"
ROUTER_NS = f"ovc-router-{ROUTER}"
DHCP_NS = f"ovc-dhcp-{NETWORK}"
ROUTED = ServerPort("p1", NETWORK, ("10.0.0.5",), router_ids=(ROUTER,))
FLOATING = ServerPort("p1", NETWORK, ("10.0.0.5",), floating_ips=("172.24.4.20",), router_ids=(ROUTER,))
KEY = Path("/home/op/.ssh/cloud")


def test_a_floating_ip_is_reached_from_the_outside_namespace() -> None:
    route = choose_route(ServerFacts(SERVER, (FLOATING,)), {"overcast-public", ROUTER_NS, DHCP_NS})
    assert route == SshRoute("172.24.4.20", "floating IP, from overcast-public", "overcast-public")
    assert ssh_argv(route, KEY, extra=("-v", "uptime")) == [
        "ip", "netns", "exec", "overcast-public", "ssh", "-i", str(KEY), "root@172.24.4.20", "-v", "uptime",
    ]  # fmt: skip


def test_the_outside_may_be_another_namespace() -> None:
    route = choose_route(ServerFacts(SERVER, (FLOATING,)), {"lab-outside"}, outside="lab-outside")
    assert route.namespace == "lab-outside" and route.address == "172.24.4.20"


def test_without_a_floating_ip_the_fixed_ip_is_reached_from_the_router_namespace() -> None:
    route = choose_route(ServerFacts(SERVER, (ROUTED,)), {"overcast-public", ROUTER_NS, DHCP_NS})
    assert (route.namespace, route.address) == (ROUTER_NS, "10.0.0.5")
    assert ssh_argv(route, None, user="cirros") == [
        "ip",
        "netns",
        "exec",
        ROUTER_NS,
        "ssh",
        "cirros@10.0.0.5",
    ]


def test_a_floating_ip_without_the_outside_here_falls_back_to_the_router() -> None:
    assert choose_route(ServerFacts(SERVER, (FLOATING,)), {ROUTER_NS}).namespace == ROUTER_NS


def test_an_isolated_network_is_reached_from_its_dhcp_namespace() -> None:
    isolated = ServerPort("p1", NETWORK, ("10.0.0.5",))
    route = choose_route(ServerFacts(SERVER, (ROUTED, isolated)), {DHCP_NS})
    assert (route.namespace, route.address) == (DHCP_NS, "10.0.0.5")


def test_a_server_without_ports_uses_the_forwarded_port() -> None:
    facts = ServerFacts(SERVER, (), {"guest_ip": "10.0.2.15", "ssh_port": 40022})
    route = choose_route(facts, set())
    assert (route.namespace, route.address, route.port) == (None, "127.0.0.1", 40022)
    assert ssh_argv(route, KEY) == ["ssh", "-p", "40022", "-i", str(KEY), "root@127.0.0.1"]


@pytest.mark.parametrize(
    ("facts", "present", "message"),
    [
        (ServerFacts(SERVER, (), {}), set(), "neither ports nor a forwarded SSH port"),
        (ServerFacts(SERVER, (FLOATING,)), set(), "No namespace on this host reaches"),
        (ServerFacts(SERVER, (ServerPort("p1", NETWORK, ()),)), {DHCP_NS}, "No namespace on this host"),
    ],
)
def test_a_server_this_host_cannot_reach_is_a_clear_error(
    facts: ServerFacts, present: set[str], message: str
) -> None:
    with pytest.raises(errors.Conflict, match=message):
        choose_route(facts, present)


def test_the_data_directorys_key_is_the_default_when_it_exists(tmp_path: Path) -> None:
    assert default_key(tmp_path) is None
    (tmp_path / "ssh").mkdir()
    (tmp_path / "ssh" / "id_ed25519").write_text("key")
    assert default_key(tmp_path) == tmp_path / "ssh" / "id_ed25519"


def test_everything_after_the_server_name_goes_to_ssh() -> None:
    args = build_parser().parse_args(["server", "ssh", "-i", "k", "--dry-run", "vm1", "--", "-v", "uptime"])
    assert (args.server, args.identity, args.dry_run, args.ssh_args) == (
        "vm1",
        "k",
        True,
        ["-v", "uptime"],
    )
    assert build_parser().parse_args(["server", "ssh", "vm1"]).ssh_args == []


# --- what the database says of a server ----------------------------------------------------------
@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Cloud:
    return agent_cloud(db, tmp_path)


def instance(db: Database, name: str, **system_metadata: Any) -> str:
    with db.writer() as session:
        row = Instance(display_name=name, project_id=ALICE.project_id, user_id="alice", flavor_id="1",
                       vcpus=1, memory_mb=512, root_gb=1, vm_state="active")  # fmt: skip
        session.add(row)
        session.flush()
        if system_metadata:
            instance_extra.update_system_metadata(session, row.uuid, **system_metadata)
        return row.uuid


def test_a_servers_ports_floating_ips_and_routers_come_from_the_database(cloud: Cloud) -> None:
    api = network_api(cloud)
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    isolated_id, _ = network_with_subnet(api, cidr="10.1.0.0/24")
    server = instance(cloud.db, "web")
    routed = bound_port(api, network_id, "host-1", device_id=server)
    bound_port(api, isolated_id, "host-1", device_id=server)
    floating = api.floating_ips.create(ALICE, {"floating_network_id": public_id, "port_id": routed["id"]})

    facts = read_server(cloud, "web")
    assert facts.uuid == server
    by_network = {port.network_id: port for port in facts.ports}
    assert by_network[network_id].fixed_ips == (routed["fixed_ips"][0]["ip_address"],)
    assert by_network[network_id].floating_ips == (floating["floating_ip_address"],)
    assert by_network[network_id].router_ids == (router_id,)
    assert by_network[isolated_id].router_ids == by_network[isolated_id].floating_ips == ()
    outside = choose_route(facts, {"overcast-public"})
    assert (outside.namespace, outside.address) == ("overcast-public", floating["floating_ip_address"])
    dhcp = choose_route(facts, {f"ovc-dhcp-{isolated_id}"})
    assert dhcp.address == by_network[isolated_id].fixed_ips[0]


def test_login_prints_the_forwarded_ssh_command_keeping_the_servers_host_key_apart(
    cloud: Cloud, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["server", "ssh", "--dry-run", "-i", "/keys/k", "vm1", "--", "-v"])
    server = instance(cloud.db, "vm1", network_info={"mode": "user", "ssh_port": 40022})
    assert login(cloud.settings.model_copy(update={"database_url": db_url}), args) == 0
    known = cloud.settings.data_dir / "ssh" / "known_hosts" / server
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"ssh -p 40022 -i /keys/k -o UserKnownHostsFile={known} -o StrictHostKeyChecking=accept-new "
        "root@127.0.0.1 -v"
    )
