"""The metadata proxy in a DHCP namespace, as the agent runs it: a "VM" namespace on a port the linuxbridge
driver wires (port security off, so it may send from any address) configures itself by DHCP with the tiny
guest's script, curls http://169.254.169.254 over the route and to the address the driver set up, and
reads its own instance's metadata from the in-process cloud; a source address that is another port's is
that port's instance, one that is no port's gets a 404. Everything lives in namespaces the test makes
(`Lab`); the proxy reaches the API on loopback from this process, so the host gets no route into them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.model import DhcpHost, DhcpServer, FixedIP, HostState, Port, Subnet
from overcast.network.metadata import METADATA_ADDRESS, MetadataProxy
from tests.integration.network_hosts import Lab, tools_available
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.compute_api import settled
from tests.support.waiting import WAIT_SECONDS
from tests.unit.network.driver_contract import vxlan_network

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
PROXY_ADDRESS = "10.77.0.2"
VM_A, VM_B, SPOOFED = "10.77.0.10", "10.77.0.12", "10.77.0.11"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("metadata-netns"), compute_hosts=("compute-1",))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def demo(cloud: InProcessCloud) -> Connection:
    return cloud.connect("demo")


@pytest.fixture(scope="module")
def admin(cloud: InProcessCloud) -> Connection:
    return cloud.connect("admin")


def boot_with_port(
    demo: Connection, admin: Connection, network_id: str, name: str, address: str
) -> tuple[str, Any]:
    """A server and the port the compute host would give it (made here through the Networking API)."""
    server = demo.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    settled(demo, server.id, "ACTIVE")
    port = admin.network.create_port(network_id=network_id, project_id=demo.current_project_id,
                                     device_id=server.id, device_owner="compute:nova",
                                     fixed_ips=[{"ip_address": address}])  # fmt: skip
    return str(server.id), port


def curl(
    namespace: str, path: str, source: str | None = None, seconds: float = WAIT_SECONDS
) -> tuple[int, str]:
    """The metadata's status and body; status 0 if no answer came within `seconds`."""
    args = ["ip", "netns", "exec", namespace, "curl", "-s", "-m", f"{seconds:g}", "-w", "\n%{http_code}"]
    if source:
        args += ["--interface", source]
    done = subprocess.run([*args, f"http://{METADATA_ADDRESS}/{path}"], capture_output=True, text=True,
                          timeout=seconds + 20, check=False)  # fmt: skip
    body, _, status = done.stdout.rpartition("\n")
    return int(status or 0), body


def test_a_vm_reads_its_own_metadata_and_a_spoofed_source_nothing(
    cloud: InProcessCloud, demo: Connection, admin: Connection, lab: Lab, tmp_path: Path
) -> None:
    network = admin.network.create_network(name="metadata-netns", project_id=demo.current_project_id)
    created = admin.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.77.0.0/24",
                                          enable_dhcp=False, project_id=demo.current_project_id)  # fmt: skip
    vm_a, port_a = boot_with_port(demo, admin, network.id, "netns-a", VM_A)
    vm_b, _ = boot_with_port(demo, admin, network.id, "netns-b", VM_B)

    # The host's data plane for port a, as the agent would build it from the database.
    host = lab.namespace("host")
    wired = replace(vxlan_network(), id=network.id)
    subnet = Subnet(id=created.id, network_id=network.id, cidr="10.77.0.0/24", gateway_ip="10.77.0.1")
    port = Port(id=port_a.id, network_id=network.id, mac_address=port_a.mac_address,
                device=names.tap(port_a.id), fixed_ips=(FixedIP(subnet.id, VM_A),),
                port_security_enabled=False)  # fmt: skip
    dhcp = DhcpServer(network_id=network.id, mac_address="fa:16:3e:77:00:02",
                      fixed_ips=(FixedIP(subnet.id, PROXY_ADDRESS),), subnets=(subnet,),
                      hosts=(DhcpHost(port.mac_address, VM_A, "netns-a"),), mtu=wired.mtu)  # fmt: skip
    vm = lab.vm(host, port, address=False)
    driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host)
    driver.sync(HostState(networks=(wired,), ports=(port,), dhcp_servers=(dhcp,)))
    done = vm.configure_by_dhcp(tmp_path)
    assert done.returncode == 0, done.stderr
    for address in (SPOOFED, VM_B):  # port security is off: the VM may send from these too
        vm.run("ip", "addr", "add", f"{address}/24", "dev", "eth0")
    vm_ns = vm.namespace

    proxy = MetadataProxy.for_cloud(cloud.cloud, [network.id], driver.dhcp.namespace(network.id))
    proxy.start()
    try:
        status, body = curl(vm_ns, "openstack/latest/meta_data.json")
        assert status == 200, body
        meta: dict[str, Any] = json.loads(body)
        assert (meta["uuid"], meta["name"], meta["project_id"]) == (vm_a, "netns-a", demo.current_project_id)
        assert curl(vm_ns, "latest/meta-data/local-ipv4") == (200, VM_A)
        # Another port's address is that port's instance; an address no port holds is nobody's.
        status, body = curl(vm_ns, "openstack/latest/meta_data.json", source=VM_B)
        assert status == 200 and json.loads(body)["uuid"] == vm_b
        status, body = curl(vm_ns, "openstack/latest/meta_data.json", source=SPOOFED)
        assert status == 404 and vm_a not in body and vm_b not in body
        assert curl(vm_ns, "openstack/latest/user_data")[0] == 404
    finally:
        proxy.stop()
    assert curl(vm_ns, "openstack/latest/meta_data.json", seconds=10)[0] == 0  # nothing listens any more
