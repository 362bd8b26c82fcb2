"""The tiny guest's DHCP script, run by busybox as udhcpc runs it, in a namespace standing for the guest:
classless static routes (option 121, how an isolated network's guests reach the metadata service through
its DHCP namespace) are installed, and without them the router option still gives the default route."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.guest.scripts import UDHCPC_SCRIPT
from overcast.network.drivers.linuxbridge.commands import run
from tests.integration.network_hosts import Lab

BUSYBOX = shutil.which("busybox")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or BUSYBOX is None or shutil.which("unshare") is None,
    reason="prerequisites: root, busybox and unshare",
)


@pytest.fixture
def guest(tmp_path: Path) -> Iterator[tuple[Lab, str]]:
    lab = Lab(state_dir=tmp_path / "network")
    try:
        namespace = lab.namespace("guest")
        run(["ip", "-n", namespace, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"])
        for device in ("eth0", "eth1"):
            run(["ip", "-n", namespace, "link", "set", device, "up"])
        yield lab, namespace
    finally:
        lab.cleanup()
    assert lab.leftovers() == []


def bound(namespace: str, folder: Path, **lease: str) -> str:
    """Run the script for a `bound` lease with the guest's busybox applets; returns its resolv.conf."""
    applets = folder / "bin"
    applets.mkdir(exist_ok=True)
    for applet in ("ifconfig", "route"):
        if not (applets / applet).exists():
            (applets / applet).symlink_to(str(BUSYBOX))
    script = folder / "udhcpc.script"
    script.write_text(UDHCPC_SCRIPT)
    resolv = folder / "resolv.conf"
    resolv.write_text("")
    env = {"PATH": f"{applets}:/usr/sbin:/usr/bin:/sbin:/bin", "interface": "eth0", "ip": "10.0.0.5",
           "subnet": "255.255.255.0", "dns": "192.0.2.53", **lease}  # fmt: skip
    # The script rewrites /etc/resolv.conf: a private mount namespace gives it a file of the test's.
    command = f'mount --bind "{resolv}" /etc/resolv.conf && exec "{BUSYBOX}" sh "{script}" bound'
    subprocess.run(["ip", "netns", "exec", namespace, "unshare", "--mount", "sh", "-c", command], env=env,
                   check=True, timeout=30, capture_output=True)  # fmt: skip
    return resolv.read_text()


def routes(namespace: str) -> set[str]:
    listed = subprocess.run(["ip", "-n", namespace, "route"], capture_output=True, text=True, check=True)
    return {" ".join(line.split()[:3]) for line in listed.stdout.splitlines()}


def test_classless_routes_give_the_metadata_route_and_the_default(
    guest: tuple[Lab, str], tmp_path: Path
) -> None:
    _, namespace = guest
    resolv = bound(
        namespace,
        tmp_path,
        router="10.0.0.1",
        staticroutes="169.254.169.254/32 10.0.0.2 198.51.100.0/24 10.0.0.254 0.0.0.0/0 10.0.0.1",
    )
    assert {
        "169.254.169.254 via 10.0.0.2",
        "198.51.100.0/24 via 10.0.0.254",
        "default via 10.0.0.1",
    } <= routes(namespace)
    assert resolv == "nameserver 192.0.2.53\n"


def test_without_them_the_router_option_is_the_default_route(guest: tuple[Lab, str], tmp_path: Path) -> None:
    _, namespace = guest
    bound(namespace, tmp_path, router="10.0.0.1 10.0.0.9")
    found = routes(namespace)
    assert "default via 10.0.0.1" in found
    assert not any(route.startswith(("169.254.169.254", "default via 10.0.0.9")) for route in found)
