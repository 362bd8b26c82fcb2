"""Real QEMU VMs (TCG) on a network the linuxbridge agent wires: each guest gets its port's address by
DHCP, and one guest pings the other, as the guests' own serial consoles show.

The compute host and its agent share the machine's own namespace here (QEMU opens the taps where it
runs), so the bridges and taps are in it; they carry no address, and every address of the cloud's
network lives in the guests and in the network's DHCP namespace. The test removes all of it.
"""

from __future__ import annotations

import base64
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.model import HostState
from overcast.network.manager import NetworkManager
from overcast.service import Service
from tests.integration.network_hosts import tools_available
from tests.support import qemu
from tests.support.cloud import InProcessCloud

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (qemu.qemu_available() and tools_available()),
        reason="prerequisites: root, qemu-system-x86_64, iproute2, nftables and dnsmasq",
    ),
]
HOST = "qemu-net-1"
CIDR = "10.123.45.0/24"
BOOT_WAIT = 300.0


def _present(network_id: str, port_ids: list[str]) -> list[str]:
    """What of this network's data plane is in the machine's namespace (other tests' labs run beside it,
    in namespaces of their own, so only names derived from our objects count)."""
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True, check=True).stdout
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    present = {line.split()[0].split("@")[0] for line in links.splitlines() if line.strip()}
    present |= {line.split()[0] for line in netns.splitlines() if line.strip()}
    ours = [
        names.bridge(network_id), names.vxlan(network_id), names.dhcp_host_side(network_id),
        names.dhcp_namespace(network_id, None), *(names.tap(port_id) for port_id in port_ids),
    ]  # fmt: skip
    return [name for name in ours if name in present]


@pytest.fixture
def networked_qemu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[InProcessCloud, NetworkManager]]:
    # VXLAN ids far from the default range: a cloud another test runs beside this one in the machine's
    # namespace (an all-in-one) must not ask the kernel for the same one.
    first_id = random.randrange(9_000_000, 16_000_000)
    monkeypatch.setenv("OVERCAST_NETWORK_VXLAN_FIRST_ID", str(first_id))
    monkeypatch.setenv("OVERCAST_NETWORK_VXLAN_LAST_ID", str(first_id + 100))
    # A one-host cloud: its VXLAN end is loopback, which no other host ever tunnels to.
    driver = LinuxBridgeDriver(local_vtep_ip="127.0.0.1", state_dir=tmp_path / "network")
    with qemu.cloud_with_guest(tmp_path / "cloud", {HOST: qemu.make_driver()}) as cloud:
        manager = NetworkManager(cloud.cloud, HOST, driver=driver)
        agent = Service(cloud.cloud, manager)
        agent.start()
        try:
            yield cloud, manager
        finally:
            agent.stop()
            driver.sync(HostState())


def _console(conn: Connection, server: Any) -> str:
    output: str = conn.compute.get_server_console_output(server)["output"]
    return output


def _wait_console(conn: Connection, server: Any, marker: str) -> str:
    deadline = time.monotonic() + BOOT_WAIT
    while time.monotonic() < deadline:
        output = _console(conn, server)
        if marker in output:
            return output
        time.sleep(2)
    raise AssertionError(
        f"{marker!r} never showed on the console of {server.name}:\n{_console(conn, server)}"
    )


def _boot(conn: Connection, name: str, network_id: str, script: str) -> Any:
    user_data = base64.b64encode(f"#!/bin/sh\n{script}".encode()).decode()
    created = conn.compute.create_server(
        name=name, image_id=conn.image.find_image("overcast-tiny").id, flavor_id="1",
        networks=[{"uuid": network_id}], user_data=user_data,
    )  # fmt: skip
    return conn.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], wait=BOOT_WAIT)


def test_guests_get_their_ports_addresses_and_ping_each_other(
    networked_qemu: tuple[InProcessCloud, NetworkManager],
) -> None:
    cloud, agent = networked_qemu
    conn = cloud.connect("demo")
    network = conn.network.create_network(name="vm-net")
    subnet = conn.network.create_subnet(network_id=network.id, cidr=CIDR, ip_version=4)
    show_address = (
        "ifconfig eth0 | sed -n 's/.*inet addr:\\([0-9.]*\\).*/GUEST-ADDRESS \\1/p' > /dev/console\n"
    )
    target = _boot(conn, "target", network.id, show_address)
    [target_port] = conn.network.ports(device_id=target.id)
    target_ip = target_port.fixed_ips[0]["ip_address"]
    assert f"GUEST-ADDRESS {target_ip}" in _wait_console(conn, target, "GUEST-ADDRESS")

    pinger = _boot(
        conn, "pinger", network.id,
        show_address + f"ping -c 5 -W 2 {target_ip} > /dev/console 2>&1; echo PING-DONE > /dev/console\n",
    )  # fmt: skip
    [pinger_port] = conn.network.ports(device_id=pinger.id)
    output = _wait_console(conn, pinger, "PING-DONE")
    assert f"GUEST-ADDRESS {pinger_port.fixed_ips[0]['ip_address']}" in output
    # Any reply counts: busybox's exit status wants every one, and a new link may lose the first.
    assert f"bytes from {target_ip}" in output, output
    assert (
        conn.compute.get_server(pinger.id).addresses["vm-net"][0]["addr"]
        == pinger_port.fixed_ips[0]["ip_address"]
    )

    port_ids = [target_port.id, pinger_port.id]
    assert sorted(_present(network.id, port_ids)) == sorted(
        [names.bridge(network.id), names.vxlan(network.id), names.dhcp_host_side(network.id),
         names.dhcp_namespace(network.id, None), *(names.tap(port_id) for port_id in port_ids)]
    )  # fmt: skip
    for server in (pinger, target):
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
    conn.network.delete_subnet(subnet)
    conn.network.delete_network(network)
    # The taps went with the servers; the agent's next sync (run now) takes down the rest.
    assert _present(network.id, port_ids) == [
        names.bridge(network.id), names.vxlan(network.id), names.dhcp_host_side(network.id),
        names.dhcp_namespace(network.id, None),
    ]  # fmt: skip
    agent.sync()
    assert _present(network.id, port_ids) == []
