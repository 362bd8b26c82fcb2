"""Metadata behind the real data plane: two "VM" namespaces on ports the linuxbridge driver wires
(anti-spoofing and a security group on), the metadata proxy in the network's DHCP namespace, the
in-process cloud behind it. Each VM configures itself by DHCP with the tiny guest's script, as the guest
boots, so its route to 169.254.169.254 and the address there are the driver's (option 121, the DHCP
leg), not the test's. Each VM reads its own instance's metadata; a VM sending from another instance's
address is dropped by anti-spoofing, so it never reads another's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import run
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.model import FixedIP, HostState, SecurityGroup, SecurityGroupRule
from overcast.network.metadata import METADATA_ADDRESS, MetadataProxy
from tests.integration.network_hosts import VM, Lab, tools_available
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.compute_api import settled
from tests.support.waiting import WAIT_SECONDS
from tests.unit.network.driver_contract import dhcp_for, port_on, vxlan_network

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
DHCP_ADDRESS = "10.0.0.2"
EGRESS_ONLY = SecurityGroup(
    id=str(uuid.uuid4()), rules=(SecurityGroupRule(id=str(uuid.uuid4()), direction="egress"),)
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("metadata-antispoofing"), compute_hosts=("compute-1",))
    yield running
    running.stop()


def curl(vm: VM, source: str | None = None, seconds: float = WAIT_SECONDS) -> tuple[int, str]:
    """The metadata's status and body; status 0 if no answer came within `seconds`."""
    args = ["curl", "-s", "-m", f"{seconds:g}", "-w", "\n%{http_code}"]
    if source:
        args += ["--interface", source]
    done = vm.run(*args, f"http://{METADATA_ADDRESS}/openstack/latest/meta_data.json", timeout=seconds + 10)
    body, _, status = done.stdout.rpartition("\n")
    return int(status or 0), body


def server_with_port(demo: Connection, admin: Connection, network_id: str, name: str, address: str) -> Any:
    server = demo.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    settled(demo, server.id, "ACTIVE")
    port = admin.network.create_port(network_id=network_id, project_id=demo.current_project_id,
                                     device_id=server.id, device_owner="compute:nova",
                                     fixed_ips=[{"ip_address": address}])  # fmt: skip
    return server, port


def test_each_vm_reads_only_its_own_metadata(cloud: InProcessCloud, lab: Lab, tmp_path: Path) -> None:
    demo, admin = cloud.connect("demo"), cloud.connect("admin")
    network = admin.network.create_network(name="antispoofing", project_id=demo.current_project_id)
    admin.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.0.0.0/24", enable_dhcp=False,
                                project_id=demo.current_project_id)  # fmt: skip
    server_a, port_a = server_with_port(demo, admin, network.id, "spoof-a", "10.0.0.10")
    server_b, port_b = server_with_port(demo, admin, network.id, "spoof-b", "10.0.0.11")
    # An instance whose port is on no VM here: only a spoofer could send from its address.
    server_c, _ = server_with_port(demo, admin, network.id, "spoof-c", "10.0.0.12")

    # The host's data plane for those ports, as the agent would build it from the database.
    host = lab.namespace("host")
    wired = replace(vxlan_network(), id=network.id)
    ports = [
        replace(port_on(wired, int(port.fixed_ips[0]["ip_address"].rsplit(".", 1)[1]), (EGRESS_ONLY.id,)),
                id=port.id, device=names.tap(port.id), mac_address=port.mac_address,
                fixed_ips=(FixedIP(port.fixed_ips[0]["subnet_id"], port.fixed_ips[0]["ip_address"]),))
        for port in (port_a, port_b)
    ]  # fmt: skip
    # Each VM's NIC is the peer of its port's device, which the driver then wires.
    vm_a, vm_b = lab.vm(host, ports[0], address=False), lab.vm(host, ports[1], address=False)
    driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=lab.state_dir / host)
    driver.sync(HostState(networks=(wired,), ports=tuple(ports), security_groups=(EGRESS_ONLY,),
                          dhcp_servers=(dhcp_for(wired, *ports),)))  # fmt: skip
    dhcp_namespace = driver.dhcp.namespace(network.id)
    for vm in (vm_a, vm_b):
        done = vm.configure_by_dhcp(tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"{METADATA_ADDRESS} via {DHCP_ADDRESS}" in vm.routes()

    proxy = MetadataProxy.for_cloud(cloud.cloud, [network.id], dhcp_namespace)
    proxy.start()
    try:
        for vm, server in ((vm_a, server_a), (vm_b, server_b)):
            status, body = curl(vm)
            assert status == 200, body
            assert json.loads(body)["uuid"] == server.id
        # VM a takes instance c's address as a second one and asks from it. Without anti-spoofing it would
        # answer ARP for it and read c's metadata; its port lets only its own address out.
        run(["ip", "-n", vm_a.namespace, "addr", "add", "10.0.0.12/24", "dev", "eth0"])
        status, body = curl(vm_a, source="10.0.0.12", seconds=3)  # nothing may answer: a short wait
        assert status == 0 and server_c.id not in body
        assert json.loads(curl(vm_a)[1])["uuid"] == server_a.id
    finally:
        proxy.stop()
