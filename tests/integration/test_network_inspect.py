"""`overcast manage network` against a real kernel: the network agent wires two ports on the linuxbridge
driver in a lab host namespace; the port report calls them healthy and the host report finds no drift;
a tap deleted by hand is reported by both; the trace names the rule that accepts ICMP and the default
drop for TCP 22 while no rule allows it, then the SSH rule once one does, and each time the kernel
agrees (the VMs ping; a TCP connection fails, then succeeds). The CLI runs as an operator runs it, and
a router's legs and floating IP are checked, and found missing once taken off by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from overcast.cloud import Cloud
from overcast.db import Database
from overcast.network import inspect
from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.model import FixedIP, HostState, Port
from overcast.network.kernel_view import KernelView
from overcast.network.manager import NetworkManager
from overcast.network.trace import Packet
from overcast.service import Service
from tests.integration.network_hosts import Lab, tools_available
from tests.support.waiting import WAIT_SECONDS, wait_until
from tests.unit.network.agent_setup import (
    ADMIN,
    ALICE,
    agent_cloud,
    bound_port,
    external_network,
    network_api,
    network_with_subnet,
    routed_network,
)

pytestmark = pytest.mark.skipif(
    not tools_available(), reason="prerequisites: root and iproute2, nftables, dnsmasq are not installed"
)
AGENT_HOST = "lab-host"
UNDERLAY_IP = "198.18.0.1"


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Cloud:
    # No periodic sync during the test: it would repair the drift the test makes on purpose.
    return agent_cloud(db, tmp_path, network_sync_interval=3600, network_underlay_ip=UNDERLAY_IP)


def port_record(port: dict[str, object]) -> Port:
    (fixed,) = port["fixed_ips"]  # type: ignore[misc]
    return Port(
        id=str(port["id"]),
        network_id=str(port["network_id"]),
        mac_address=str(port["mac_address"]),
        device=names.tap(str(port["id"])),
        fixed_ips=(FixedIP(fixed["subnet_id"], fixed["ip_address"]),),
    )


def reports(cloud: Cloud, view: KernelView, port_ids: list[str]) -> list[inspect.PortReport]:
    with cloud.db.reader() as session:
        desired = inspect.desired_state(session, AGENT_HOST)
        inspector = inspect.PortInspector(session, view, AGENT_HOST, desired)
        return [inspector.report(port_id) for port_id in port_ids]


def host_items(cloud: Cloud, view: KernelView) -> list[inspect.Item]:
    with cloud.db.reader() as session:
        desired = inspect.desired_state(session, AGENT_HOST)
        servers = inspect.servers_of_ports(session, [port.id for port in desired.ports])
    return inspect.host_items(view, desired, servers)


def trace(cloud: Cloud, port_id: str, packet: Packet) -> inspect.Decision:
    with cloud.db.reader() as session:
        return inspect.trace_port(session, port_id, packet)


def listens(namespace: str, port: int) -> bool:
    shown = subprocess.run(
        ["ip", "netns", "exec", namespace, "ss", "-ltnH"], capture_output=True, text=True, check=True
    ).stdout
    return f":{port} " in shown


def connects(namespace: str, address: str, port: int) -> bool:
    """Whether a TCP connection from ``namespace`` reaches ``address:port`` (and says hello)."""
    done = subprocess.run(
        ["ip", "netns", "exec", namespace, "busybox", "nc", "-w", "2", address, str(port)],
        input="hello\n", capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    return done.returncode == 0


def overcast(data_dir: Path, db_url: str, *args: str) -> tuple[int, Any]:
    """`overcast manage network ...` as an operator runs it, its JSON output parsed."""
    done = subprocess.run(
        [sys.executable, "-m", "overcast.cli.main", "manage", "network", *args, "--format", "json",
         "--data-dir", str(data_dir), "--database-url", db_url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_reports_healthy_ports_the_drift_of_a_deleted_tap_and_traces_rules(
    cloud: Cloud, lab: Lab, db_url: str, tmp_path: Path
) -> None:
    api = network_api(cloud)
    network_id, _ = network_with_subnet(api, cidr="10.0.0.0/24")
    group = api.security_groups.create(ALICE, {"name": "ping-only"})
    icmp_rule = api.security_groups.create_rule(
        ALICE, {"security_group_id": group["id"], "direction": "ingress", "protocol": "icmp"}
    )
    ports = [bound_port(api, network_id, AGENT_HOST, security_groups=[group["id"]]) for _ in range(2)]
    host = lab.namespace("host")
    vms = [lab.vm(host, port_record(port)) for port in ports]
    # Where the CLI finds the agent's dnsmasq files for the host: <data dir>/network/<host>.
    driver = LinuxBridgeDriver(host, local_vtep_ip=UNDERLAY_IP, state_dir=tmp_path / "network" / AGENT_HOST)
    lab_host = ("--host", AGENT_HOST, "--host-namespace", host)
    service = Service(cloud, NetworkManager(cloud, AGENT_HOST, driver=driver))
    port_ids = [str(port["id"]) for port in ports]
    service.start()  # its start-up sync wires both ports and the network's DHCP server
    try:
        view = KernelView(driver)
        found = reports(cloud, view, port_ids)
        assert [report.healthy for report in found] == [True, True], [report.checks for report in found]
        checked = {check.name for check in found[0].checks}
        assert {
            "binding",
            "bridge",
            "tap",
            "anti-spoofing",
            "ingress-chain",
            "egress-chain",
            "dhcp",
        } <= checked
        assert f"security-group {group['id']} ingress" in checked
        held = {rule["rule_id"]: rule["nft"] for rule in found[0].rules}
        assert "icmp" in held[icmp_rule["id"]] and held[icmp_rule["id"]].endswith("accept"), held
        items = host_items(cloud, view)
        assert not [item for item in items if item.drift], items
        assert {item.kind for item in items} >= {
            "bridge",
            "vxlan",
            "tap",
            "dhcp-namespace",
            "dnsmasq",
            "nft-table",
        }

        # The trace's verdicts are the kernel's: the ICMP rule lets the ping through.
        first, second = (str(port["fixed_ips"][0]["ip_address"]) for port in ports)
        accepted = trace(cloud, port_ids[1], Packet(first, second, "icmp"))
        assert (accepted.verdict, accepted.rule_id, accepted.security_group_id) == (
            "accept", icmp_rule["id"], group["id"],
        )  # fmt: skip
        assert vms[0].ping(second)
        dropped = trace(cloud, port_ids[1], Packet(first, second, "tcp", dport=22))
        assert (dropped.verdict, dropped.stage, dropped.rule_id) == ("drop", "default-drop", None)
        listener = lab.spawn(vms[1], "busybox", "nc", "-l", "-p", "22")
        wait_until(lambda: listens(vms[1].namespace, 22), timeout=60, what="nc to listen")
        assert not connects(vms[0].namespace, second, 22)
        listener.kill()
        listener.communicate()

        # A rule for SSH: the trace names it once the agent converges the group, and the kernel agrees.
        ssh_rule = api.security_groups.create_rule(
            ALICE,
            {"security_group_id": group["id"], "direction": "ingress", "protocol": "tcp",
             "port_range_min": 22, "port_range_max": 22},
        )  # fmt: skip
        service.manager.sync()  # type: ignore[attr-defined]
        allowed = trace(cloud, port_ids[1], Packet(first, second, "tcp", dport=22))
        assert (allowed.verdict, allowed.rule_id) == ("accept", ssh_rule["id"])
        listener = lab.spawn(vms[1], "busybox", "nc", "-l", "-p", "22")
        wait_until(lambda: listens(vms[1].namespace, 22), timeout=60, what="nc to listen")
        assert connects(vms[0].namespace, second, 22)
        assert listener.communicate(timeout=WAIT_SECONDS)[0] == "hello\n"
        assert trace(cloud, port_ids[1], Packet(first, second, "tcp", dport=23)).stage == "default-drop"

        # The same through the CLI, as scripts read it.
        status, shown = overcast(tmp_path, db_url, "port", port_ids[0], *lab_host)
        assert status == 0 and [report["healthy"] for report in shown] == [True]
        status, shown = overcast(tmp_path, db_url, "host", *lab_host)
        assert (status, shown["drift"]) == (0, False)
        status, shown = overcast(
            tmp_path, db_url, "trace", "--port", port_ids[1], "--src", first, "--dst", second,
            "--proto", "tcp", "--dport", "23",
        )  # fmt: skip
        assert (status, shown["stage"], shown["verdict"]) == (1, "default-drop", "drop")

        # An operator deletes the second VM's device by hand: both reports name it.
        device = names.tap(port_ids[1])
        subprocess.run(["ip", "-n", host, "link", "del", device], check=True)
        first_report, second_report = reports(cloud, view, port_ids)
        assert first_report.healthy and not second_report.healthy
        failed = {check.name: check.detail for check in second_report.checks if not check.ok}
        assert list(failed) == ["tap"] and "does not exist" in failed["tap"]
        drifted = [item for item in host_items(cloud, view) if item.drift]
        assert [(item.kind, item.name, item.expected, item.found) for item in drifted] == [
            ("tap", device, True, False)
        ]
        status, shown = overcast(tmp_path, db_url, "port", port_ids[1], *lab_host)
        assert status == 1 and [check["name"] for check in shown[0]["checks"] if not check["ok"]] == ["tap"]

        # A tunnel end no host has: the VXLAN device is there but floods to a VTEP it should not.
        vxlan = names.vxlan(network_id)
        subprocess.run(["bridge", "-n", host, "fdb", "append", "00:00:00:00:00:00", "dev", vxlan,
                        "dst", "198.18.0.99"], check=True)  # fmt: skip
        (tunnel,) = [item for item in host_items(cloud, view) if item.kind == "vxlan"]
        assert tunnel.drift and tunnel.found and "198.18.0.99" in tunnel.detail
        assert tunnel.mismatch == "remote VTEPs should be none"

        # Once the port is deleted, the next sync removes its chains (and the stray VTEP), and nothing
        # is left to report.
        api.ports.delete(ADMIN, port_ids[1])
        service.manager.sync()  # type: ignore[attr-defined]
        assert not [item for item in host_items(cloud, view) if item.drift]
        with pytest.raises(inspect.PortNotFound):
            reports(cloud, view, [port_ids[1]])
    finally:
        service.stop()
        driver.sync(HostState())  # the host namespace holds nothing of Overcast's for the lab to find


def test_the_port_report_follows_the_router_and_its_floating_ip(
    cloud: Cloud, lab: Lab, tmp_path: Path
) -> None:
    host = lab.namespace("host")
    uplink = lab.physical_interface(host)
    api = network_api(cloud)
    public_id, _ = external_network(api)
    network_id, _, router_id = routed_network(api, public_id)
    port = bound_port(api, network_id, AGENT_HOST)
    floating = api.floating_ips.create(ALICE, {"floating_network_id": public_id, "port_id": port["id"]})
    address = str(floating["floating_ip_address"])
    lab.vm(host, port_record(port))
    driver = LinuxBridgeDriver(
        host,
        local_vtep_ip=UNDERLAY_IP,
        physical_interfaces={"public": uplink},
        state_dir=tmp_path / "network" / AGENT_HOST,
    )
    service = Service(cloud, NetworkManager(cloud, AGENT_HOST, driver=driver))
    service.start()
    try:
        view = KernelView(driver)
        (report,) = reports(cloud, view, [str(port["id"])])
        checks = {check.name: check for check in report.checks}
        assert report.healthy, report.checks
        assert "10.0.0.1" in checks[f"router {router_id}"].detail
        assert checks[f"floating-ip {address}"].ok
        # From the outside to the floating IP: the port sees it after the router's DNAT, and its
        # default group lets no ICMP in from the outside.
        fixed = str(port["fixed_ips"][0]["ip_address"])
        decision = trace(cloud, str(port["id"]), Packet("203.0.113.1", address, "icmp"))
        assert (decision.verdict, decision.direction, decision.stage) == ("drop", "ingress", "default-drop")
        assert f"translates {address} to {fixed}" in decision.reason

        # The floating IP's /32 taken off the router's gateway leg by hand: the path is broken there.
        namespace = driver.routers.namespace(router_id)
        (leg,) = [
            link["ifname"]
            for link in json.loads(
                subprocess.run(["ip", "-n", namespace, "-j", "addr", "show"], capture_output=True, text=True,
                               check=True).stdout
            )
            if any(held["local"] == address for held in link.get("addr_info", []))
        ]  # fmt: skip
        subprocess.run(["ip", "-n", namespace, "addr", "del", f"{address}/32", "dev", leg], check=True)
        (report,) = reports(cloud, view, [str(port["id"])])
        failed = [check for check in report.checks if not check.ok]
        assert [check.name for check in failed] == [f"floating-ip {address}"]
        assert "NOT held" in failed[0].detail
    finally:
        service.stop()
        driver.sync(HostState())
