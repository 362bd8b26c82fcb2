"""`overcast manage network host|port|trace`: what an operator asks of a host's data plane.

Reads only: the database through the same desired-state reader as the agent, the kernel through
``network/kernel_view.py``. Text for people, ``--format json`` for scripts; the exit status is 1 when
something drifted (a port report that is not healthy, a host item missing or extra) or a packet drops,
so scripts can test it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from overcast import errors
from overcast.cli.servers import find_server
from overcast.cloud import Cloud
from overcast.config import Settings
from overcast.network import inspect
from overcast.network.driver_choice import load_network_driver
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.kernel_view import KernelView
from overcast.network.trace import Packet


def _view(settings: Settings, host: str, host_namespace: str | None = None) -> KernelView:
    """The kernel of ``host``: this machine's, or the namespace standing for a simulated host (a lab's,
    a benchmark's), read as that host's agent drives it."""
    if host_namespace:
        return KernelView(
            LinuxBridgeDriver(
                host_namespace,
                local_vtep_ip=settings.network_underlay_ip,
                physical_interfaces=settings.network_physical_interfaces,
                state_dir=settings.data_dir / "network" / host,
            )
        )
    driver = load_network_driver(settings, host)
    if not isinstance(driver, LinuxBridgeDriver):
        raise errors.Conflict(
            f"Host {host} runs the noop network driver: its kernel holds nothing of Overcast's to inspect."
        )
    return KernelView(driver)


def _emit(data: Any, text: str, output_format: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if output_format == "json" else text)


# --- host ------------------------------------------------------------------------------------------
def host(settings: Settings, args: argparse.Namespace) -> int:
    name = args.host or settings.host
    view = _view(settings, name, args.host_namespace)
    cloud = Cloud.from_settings(settings)
    try:
        with cloud.db.reader() as session:
            desired = inspect.desired_state(session, name)
            servers = inspect.servers_of_ports(session, [port.id for port in desired.ports])
    finally:
        cloud.close()
    items = inspect.host_items(view, desired, servers)
    data = {
        "host": name,
        "drift": any(item.drift for item in items),
        "items": [{**vars(item), "drift": item.drift} for item in items],
    }
    _emit(data, render_host(name, items), args.format)
    return 1 if data["drift"] else 0


def render_host(name: str, items: list[inspect.Item]) -> str:
    lines = [f"Host {name}: what the database wants beside what the kernel holds"]
    if not items:
        lines.append("  nothing: no port, DHCP server or router of this host")
    for item in items:
        state = _item_state(item)
        detail = f"  {item.detail}" if item.detail else ""
        lines.append(f"  {state:<10} {item.kind:<16} {item.name:<40} {item.object_id}{detail}")
        if item.mismatch:
            lines.append(f"  {'':<10} {'':<16} {item.mismatch}")
    drifted = sum(1 for item in items if item.drift)
    lines.append(f"{drifted} drifted" if drifted else "no drift")
    return "\n".join(lines)


def _item_state(item: inspect.Item) -> str:
    if item.expected and not item.found:
        return "MISSING"
    if item.found and not item.expected:
        return "EXTRA"
    return "DRIFT" if item.mismatch else "ok"


# --- port ------------------------------------------------------------------------------------------
def port(settings: Settings, args: argparse.Namespace) -> int:
    name = args.host or settings.host
    view = _view(settings, name, args.host_namespace)
    cloud = Cloud.from_settings(settings)
    try:
        with cloud.db.reader() as session:
            server_uuid = _server_uuid(cloud, args.port)
            port_ids = inspect.find_port_ids(session, args.port, server_uuid)
            desired = inspect.desired_state(session, name)
            inspector = inspect.PortInspector(session, view, name, desired)
            reports = [inspector.report(port_id) for port_id in port_ids]
    finally:
        cloud.close()
    _emit([report.as_dict() for report in reports], "\n\n".join(map(render_port, reports)), args.format)
    return 0 if all(report.healthy for report in reports) else 1


def _server_uuid(cloud: Cloud, name_or_id: str) -> str | None:
    try:
        return find_server(cloud, name_or_id).uuid
    except errors.NotFound:
        return None


def render_port(report: inspect.PortReport) -> str:
    lines = [
        f"Port {report.port_id} ({'healthy' if report.healthy else 'NOT healthy'})",
        f"  server {report.server}, network {report.network_id}, host {report.host}, status {report.status}",
        f"  device {report.device}, addresses {', '.join(report.fixed_ips) or 'none'}",
    ]
    lines += [f"  {'ok' if check.ok else 'FAIL':<5} {check.name}: {check.detail}" for check in report.checks]
    if report.rules:
        lines.append("  security group rules, and the line nftables holds for each:")
        for rule in report.rules:
            lines.append(f"    {rule['rule_id']} ({rule['security_group_id']}): {rule['rule']}")
            lines.append(f"      nft: {rule['nft']}")
    return "\n".join(lines)


# --- trace -----------------------------------------------------------------------------------------
def trace(settings: Settings, args: argparse.Namespace) -> int:
    packet = Packet(
        src=args.src,
        dst=args.dst,
        protocol=args.proto,
        dport=args.dport,
        sport=args.sport,
        icmp_type=args.icmp_type,
        icmp_code=args.icmp_code,
        established=args.established,
    )
    cloud = Cloud.from_settings(settings)
    try:
        with cloud.db.reader() as session:
            decision = inspect.trace_port(session, args.port, packet)
    finally:
        cloud.close()
    text = f"{decision.verdict.upper()} ({decision.direction}, {decision.stage}): {decision.reason}"
    if decision.match:
        text += f"\n  rule {decision.rule_id}: {decision.match}"
    _emit(decision.as_dict(), text, args.format)
    return 0 if decision.verdict == "accept" else 1
