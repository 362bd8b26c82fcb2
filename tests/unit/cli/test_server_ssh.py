"""`overcast server ssh`: the way in it picks for each kind of server and the command it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast import errors
from overcast.cli.main import build_parser
from overcast.cli.server_ssh import ServerFacts, ServerPort, SshRoute, choose_route, default_key, ssh_argv

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
    assert ssh_argv(route, KEY, extra=("-v",)) == [
        "ip", "netns", "exec", "overcast-public", "ssh", "-i", str(KEY), "-v", "root@172.24.4.20",
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
