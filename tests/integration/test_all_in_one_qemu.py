"""The issue's flow on the README's all-in-one, run as root with QEMU (so with the linuxbridge data plane
and DevStack's networks, which it makes on start): it builds and uploads overcast-tiny, `openstack
server create ... --key-name mine vm1` lands on `private`, a floating IP from `public` is added with the
CLI, and `overcast server ssh vm1 -- <command>` logs in through it from the overcast-public namespace
with the key the user made in the data directory. Everything made is deleted through the API and the
agent's sync takes it off the host; the outside namespace goes at the end.

Only one such test may run on a machine at a time: the outside's and the data plane's names are
machine-wide."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overcast.network.defaults import OUTSIDE_NAMESPACE, Outside
from overcast.network.driver_choice import can_wire_vms
from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import namespaces
from tests.support import qemu
from tests.support.all_in_one import OVERCAST, RunningCloud, start_cloud, stop_cloud
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(
        not can_wire_vms(), reason="the all-in-one's networks need root, iproute2, nft, dnsmasq"
    ),
]
OPENSTACK = str(Path(OVERCAST[0]).with_name("openstack"))
SYNC_INTERVAL = "3"  # the agent's periodic sync, so the deletions at the end leave the host soon


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningCloud]:
    assert OUTSIDE_NAMESPACE not in namespaces(), "another all-in-one with networks runs on this machine"
    monkeypatch.setenv("OVERCAST_NETWORK_SYNC_INTERVAL", SYNC_INTERVAL)
    data_dir = tmp_path / "aio"
    cloud = start_cloud(data_dir, "--compute-driver", "qemu")
    try:
        yield cloud
    finally:
        try:
            remove_demo_layout(data_dir)
        finally:
            assert stop_cloud(cloud) == 0
        qemu.kill_leftover_vms(data_dir)
        Outside().remove()


def cli(data_dir: Path, *args: str, user: str = "overcast-demo", check: bool = True) -> Any:
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(data_dir / "clouds.yaml"), "OS_CLOUD": user}
    done = subprocess.run(
        [OPENSTACK, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert not check or done.returncode == 0, done.stderr
    if "json" in args:
        return json.loads(done.stdout) if done.returncode == 0 else []
    return done.stdout


def overcast_ssh(data_dir: Path, *command: str) -> subprocess.CompletedProcess[str]:
    options = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=5")
    return subprocess.run(
        [*OVERCAST, "server", "ssh", "--data-dir", str(data_dir), "vm1", "--", *options, *command],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False,
        env={**os.environ, "OVERCAST_CONFIG": "/nonexistent"},
    )  # fmt: skip


def test_a_server_on_private_is_reached_by_its_floating_ip_with_overcast_server_ssh(
    running: RunningCloud,
) -> None:
    data_dir = running.data_dir
    assert "Compute driver: qemu" in running.banner and "Networks: public" in running.banner
    assert "Uploading" in running.banner and "overcast-tiny" in running.banner
    key = data_dir / "ssh" / "id_ed25519"  # where `overcast server ssh` looks, as the README makes it
    key.parent.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    cli(data_dir, "keypair", "create", "--public-key", f"{key}.pub", "mine")

    cli(
        data_dir, "server", "create", "--image", "overcast-tiny", "--flavor", "m1.tiny", "--key-name", "mine",
        "vm1", "-f", "json",
    )  # fmt: skip
    server = wait_until(
        lambda: (
            (shown := cli(data_dir, "server", "show", "vm1", "-f", "json"))["status"] != "BUILD" and shown
        ),
        180,
        what="vm1 to leave BUILD",
    )
    assert server["status"] == "ACTIVE", server.get("fault")
    assert "private" in server["addresses"], server["addresses"]  # not QEMU's user-mode network
    floating = cli(data_dir, "floating", "ip", "create", "public", "-f", "json")["floating_ip_address"]
    cli(data_dir, "server", "add", "floating", "ip", "vm1", floating)
    shown = cli(data_dir, "server", "show", "vm1", "-f", "json")
    assert floating in json.dumps(shown["addresses"])

    started = time.monotonic()
    deadline = started + 180
    while (login := overcast_ssh(data_dir, "echo", "logged-in-as-$(id -un)")).returncode != 0:
        assert time.monotonic() < deadline, login.stdout + login.stderr
        time.sleep(2)
    assert login.stdout.strip() == "logged-in-as-root"
    print(f"overcast server ssh logged in {time.monotonic() - started:.1f} s after the floating IP was added")

    remove_demo_layout(data_dir)


def remove_demo_layout(data_dir: Path) -> None:
    """Delete the server, floating IPs, router1, private and public through the API and wait for the
    agent's sync to take their bridges and namespaces off the host (the test's end, and its teardown
    after a failure: a VXLAN device left behind would hold the next run's VNI)."""
    made: set[str] = set()
    networks = {net["Name"]: net["ID"] for net in cli(data_dir, "network", "list", "-f", "json", check=False)}
    routers = {one["Name"]: one["ID"] for one in cli(data_dir, "router", "list", "-f", "json", check=False)}
    if "router1" in routers:
        made.add(names.router_namespace(routers["router1"], None))
    if "private" in networks:
        made.add(names.dhcp_namespace(networks["private"], None))
    bridges = {names.bridge(network_id) for network_id in networks.values()}
    cli(data_dir, "server", "delete", "--wait", "vm1", check=False)
    for floating in cli(data_dir, "floating", "ip", "list", "-f", "json", check=False):
        cli(data_dir, "floating", "ip", "delete", floating["ID"], check=False)
    cli(data_dir, "router", "remove", "subnet", "router1", "private-subnet", check=False)
    cli(data_dir, "router", "delete", "router1", check=False)
    cli(data_dir, "network", "delete", "private", check=False)
    cli(data_dir, "network", "delete", "public", user="overcast-admin", check=False)
    wait_until(lambda: not made & namespaces(), 30, what="the agent to remove the router and DHCP namespaces")
    wait_until(lambda: not bridges & host_links(), 30, what="the agent to remove the bridges")


def host_links() -> set[str]:
    shown = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True)
    return {str(link["ifname"]) for link in json.loads(shown.stdout)}
