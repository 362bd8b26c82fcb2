"""A real guest on a tenant network reads the metadata service: the tiny image under QEMU (TCG), with no
config drive, on the compute host, whose network agent runs the linuxbridge driver. The compute host makes
the server's port and has the agent wire it (tap, anti-spoofing, security groups, DHCP entry, the metadata
proxy in the network's DHCP namespace); the guest's udhcpc gets the port's address and, by option 121,
the route to 169.254.169.254 via the DHCP port; at boot it reads its meta_data.json (its uuid is in the
READY line) and user_data from there, and that user data fetches both again and prints them on the serial
console. Sending from an address that is not its port's gets nothing: anti-spoofing drops it before the
proxy could answer.

The lab host's namespace stands for the compute host's root namespace: the agent wires there and QEMU
runs there (through a wrapper that enters it), since a VM's tap must be in its QEMU's namespace. The API
and the rest of the cloud run in this process; the proxy reaches the API on loopback from the agent's
thread, so the host gets no route into the lab.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.guest.publish import DEFAULT_IMAGE_ID
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.manager import NetworkManager
from overcast.service import Service
from overcast.virt.qemu.driver import QemuDriver
from tests.integration.network_hosts import Lab, tools_available
from tests.support import qemu
from tests.support.cloud import TINY, InProcessCloud
from tests.support.guests import WAIT, wait_status
from tests.support.waiting import WAIT_SECONDS, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (qemu.qemu_available() and tools_available() and Path("/dev/net/tun").exists()),
        reason="prerequisites: qemu-system-x86_64, /dev/net/tun, root and iproute2, nftables, dnsmasq",
    ),
]
HOST = "qemu-1"
READY = "OVERCAST-GUEST-READY"
CIDR = "10.40.0.0/24"
SPOOFED = "10.40.0.250"  # an address of the subnet no port holds
USER_DATA = f"""#!/bin/sh
# Runs once the guest has booted: what the metadata service tells it, on the serial console. (timeout,
# not wget -T: Debian's busybox wget crashes on -T.)
say() {{ echo "$*" > /dev/ttyS0; }}
fetch() {{ timeout {WAIT_SECONDS:g} wget -q -O - "http://169.254.169.254/openstack/latest/$1"; }}
mine=$(ifconfig eth0 | sed -n 's/.*inet addr:\\([0-9.]*\\).*/\\1/p')
via=$(route -n | grep '^169\\.254\\.169\\.254 ' | tr -s ' ' | cut -d ' ' -f 2)
say "MD-ADDR $mine"
say "MD-ROUTE $via"
say "MD-META $(fetch meta_data.json | tr -d '\\n')"
say "MD-USER $(fetch user_data | md5sum | cut -d ' ' -f 1)"
ifconfig eth0 {SPOOFED} netmask 255.255.255.0
route add -host 169.254.169.254 gw "$via" dev eth0
spoofed=$(timeout 5 wget -O - http://169.254.169.254/openstack/latest/meta_data.json 2>&1; echo "exit=$?")
say "MD-SPOOF $(echo "$spoofed" | tr '\\n' ' ')"
ifconfig eth0 "$mine" netmask 255.255.255.0
route add -host 169.254.169.254 gw "$via" dev eth0
say "MD-AGAIN $(fetch meta_data.json | tr -d '\\n')"
"""


def qemu_entering(namespace: str, folder: Path) -> str:
    """A QEMU binary that runs in ``namespace`` (``exec`` all the way, so its pid is QEMU's own)."""
    wrapper = folder / "qemu-in-host-namespace"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {shutil.which(qemu.QEMU)} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture
def cloud(lab: Lab, tmp_path: Path) -> Iterator[InProcessCloud]:
    host_namespace = lab.namespace("host")
    data_dir = qemu.new_data_dir()
    driver = QemuDriver(data_dir, qemu_binary=qemu_entering(host_namespace, tmp_path), accelerator="tcg",
                        force_config_drive=False)  # fmt: skip
    try:
        with qemu.cloud_with_guest(data_dir, {HOST: driver}) as running:
            network_driver = LinuxBridgeDriver(
                host_namespace, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host_namespace
            )
            agent = Service(running.cloud, NetworkManager(running.cloud, HOST, driver=network_driver))
            agent.start()
            running.services.append(agent)  # stopped first, with the cloud
            yield running
    finally:
        qemu.kill_leftover_vms(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def console_lines(conn: Connection, server: Any) -> dict[str, str]:
    output: str = conn.compute.get_server_console_output(server)["output"]
    found = re.findall(r"^(MD-[A-Z]+) ?(.*?)\r?$", output, flags=re.MULTILINE)
    return dict(found)


def test_a_guest_leases_its_address_and_reads_its_metadata_from_169_254_169_254(
    cloud: InProcessCloud,
) -> None:
    demo, admin = cloud.connect("demo"), cloud.connect("admin")
    network = demo.network.create_network(name="metadata-guests")
    demo.network.create_subnet(network_id=network.id, ip_version=4, cidr=CIDR)
    started = time.monotonic()
    server = demo.compute.create_server(
        name="md-guest", image_id=DEFAULT_IMAGE_ID, flavor_id=TINY, networks=[{"uuid": network.id}],
        user_data=base64.b64encode(USER_DATA.encode()).decode(),
    )  # fmt: skip
    server = wait_status(demo, server, "ACTIVE")
    marker = f"{READY} {server.id}"
    wait_until(lambda: marker in demo.compute.get_server_console_output(server)["output"], WAIT,
               what="the guest's READY line", interval=0.5)  # fmt: skip
    print(f"API request to READY on the console: {time.monotonic() - started:.1f}s")

    output = demo.compute.get_server_console_output(server)["output"]
    assert "overcast-guest: metadata service" in output and "config drive" not in output
    (port,) = admin.network.ports(device_id=server.id)
    (dhcp_port,) = admin.network.ports(network_id=network.id, device_owner="network:dhcp")
    seen = console_lines(demo, server)
    assert seen["MD-ADDR"] == port.fixed_ips[0]["ip_address"], seen
    assert seen["MD-ROUTE"] == dhcp_port.fixed_ips[0]["ip_address"], seen
    meta = json.loads(seen["MD-META"])
    assert (meta["uuid"], meta["project_id"]) == (server.id, demo.current_project_id)
    assert seen["MD-USER"] == hashlib.md5(USER_DATA.encode()).hexdigest()
    # From an address not its port's: no answer at all (not even the proxy's 404, which wget would
    # print as "HTTP/1.1 404"), then from its own again.
    spoofed = seen["MD-SPOOF"]
    print(f"The guest's request from {SPOOFED}: {spoofed}")
    assert "exit=0" not in spoofed and "HTTP" not in spoofed and server.id not in spoofed, spoofed
    assert json.loads(seen["MD-AGAIN"])["uuid"] == server.id

    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=WAIT)
