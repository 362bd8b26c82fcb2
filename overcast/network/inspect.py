"""What ``overcast manage network host|port`` reports: the database's desired data plane of a host
beside what its kernel holds, with the drift marked.

The desired side is exactly what the agent would converge to (``host_state.read_host_state``); the
kernel side is read through ``kernel_view.py``. A port's report follows a packet's path: the port's
binding, its tap on the network's bridge, its anti-spoofing and port chains, its groups' chains, its
DHCP entry, the router behind its subnet and its floating IPs, each a check that passes or says why not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.db.models.network import FloatingIP as FloatingIPRow
from overcast.db.models.network import IPAllocation
from overcast.db.models.network import Port as PortRow
from overcast.network import host_state
from overcast.network.agent_records import AgentRecords
from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.firewall import group_script, spoof_rules
from overcast.network.drivers.linuxbridge.links import PORT_ALIAS, Link
from overcast.network.drivers.model import HostState, Port, SecurityGroup
from overcast.network.kernel_view import KernelView
from overcast.network.trace import Decision, Packet, describe_rule, trace


@dataclass(frozen=True)
class Item:
    """One object of the data plane: whether the database wants it and whether the kernel has it."""

    kind: str
    name: str
    object_id: str
    expected: bool
    found: bool
    detail: str = ""
    mismatch: str = ""  # present on both sides but not as it should be

    @property
    def drift(self) -> bool:
        return self.expected != self.found or bool(self.mismatch)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class PortReport:
    port_id: str
    network_id: str
    host: str
    status: str
    device: str
    server: str
    fixed_ips: list[str]
    checks: list[Check] = field(default_factory=list)
    rules: list[dict[str, str]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


def desired_state(session: Session, host: str) -> HostState:
    return host_state.read_host_state(session, host, AgentRecords.underlay_ips(session))


def servers_of_ports(session: Session, port_ids: Iterable[str]) -> dict[str, str]:
    ids = sorted(port_ids)
    if not ids:
        return {}
    rows = session.execute(select(PortRow.id, PortRow.device_id).where(PortRow.id.in_(ids)))
    return {port_id: device_id for port_id, device_id in rows}


# --- host ------------------------------------------------------------------------------------------
def host_items(view: KernelView, desired: HostState, servers: dict[str, str]) -> list[Item]:
    """Every bridge, VXLAN device, tap, namespace, dnsmasq and nft table, desired or found."""
    inventory = view.inventory()
    links = view.links()
    items: list[Item] = []
    wanted_networks = {network.id for network in desired.networks}
    for network_id in sorted(wanted_networks | inventory.networks):
        items.append(
            Item(
                "bridge",
                names.bridge(network_id),
                network_id,
                network_id in wanted_networks,
                network_id in inventory.networks,
            )
        )
    wanted_vteps = {
        network.id: desired.remote_vteps.get(network.id, frozenset())
        for network in desired.networks
        if network.segmentation_type == "vxlan"
    }
    for network_id in sorted(set(wanted_vteps) | set(inventory.vteps)):
        wanted, found = wanted_vteps.get(network_id), inventory.vteps.get(network_id)
        mismatch = ""
        if wanted is not None and found is not None and wanted != found:
            mismatch = f"remote VTEPs should be {_listed(wanted)}"
        items.append(
            Item(
                "vxlan",
                names.vxlan(network_id),
                network_id,
                wanted is not None,
                found is not None,
                f"remote VTEPs {_listed(found or frozenset())}",
                mismatch,
            )
        )
    items += _tap_items(desired, inventory.ports, links, servers)
    items += _namespace_items(view, desired, inventory.dhcp_servers, inventory.routers)
    wanted_tables = bool(desired.networks)
    found_tables = set(view.nft_tables())
    for family in sorted({"bridge", "inet"} if wanted_tables else found_tables):
        items.append(
            Item("nft-table", f"{family} {names.NFT_TABLE}", family, wanted_tables, family in found_tables)
        )
    return items


def _tap_items(
    desired: HostState, found_ports: Mapping[str, str], links: Mapping[str, Link], servers: dict[str, str]
) -> list[Item]:
    wanted = {port.id: port for port in desired.ports}
    devices = {port_id: link for link in links.values() if (port_id := link.owned_id(PORT_ALIAS)) is not None}
    items = []
    for port_id in sorted(set(wanted) | set(found_ports)):
        port = wanted.get(port_id)
        link = devices.get(port_id)
        name = port.device if port is not None else (link.name if link is not None else names.tap(port_id))
        detail = f"port {port_id}, server {servers.get(port_id) or '-'}"
        if link is not None:
            detail += f", on {link.master or 'no bridge'}" + ("" if link.up else ", down")
        mismatch = ""
        if port is not None and link is not None:
            mismatch = _link_mismatch(port, link)
        items.append(Item("tap", name, port_id, port is not None, link is not None, detail, mismatch))
    return items


def _link_mismatch(port: Port, link: Link) -> str:
    bridge = names.bridge(port.network_id)
    if link.master != bridge:
        return f"should be on {bridge}"
    return "" if link.up else "should be up"


def _namespace_items(
    view: KernelView, desired: HostState, found_dhcp: frozenset[str], found_routers: frozenset[str]
) -> list[Item]:
    items = []
    wanted_dhcp = {server.network_id for server in desired.dhcp_servers}
    for network_id in sorted(wanted_dhcp | found_dhcp):
        items.append(
            Item(
                "dhcp-namespace",
                view.dhcp_namespace(network_id),
                network_id,
                network_id in wanted_dhcp,
                network_id in found_dhcp,
            )
        )
        pid = view.dnsmasq_pid(network_id)
        items.append(
            Item(
                "dnsmasq",
                f"dnsmasq {pid}" if pid else "dnsmasq",
                network_id,
                network_id in wanted_dhcp,
                pid is not None,
                f"serving network {network_id}",
            )
        )
    wanted_routers = {router.id for router in desired.routers}
    for router_id in sorted(wanted_routers | found_routers):
        items.append(
            Item(
                "router-namespace",
                view.router_namespace(router_id),
                router_id,
                router_id in wanted_routers,
                router_id in found_routers,
            )
        )
    return items


def _listed(addresses: Iterable[str]) -> str:
    return ", ".join(sorted(addresses)) or "none"


# --- port ------------------------------------------------------------------------------------------
class PortNotFound(errors.NotFound):
    default_message = "No port or server of that name or id exists."


def find_port_ids(session: Session, port_or_server: str, server_uuid: str | None) -> list[str]:
    """The port with this id, else the ports of the server (its uuid, resolved by the caller)."""
    if session.get(PortRow, port_or_server) is not None:
        return [port_or_server]
    if server_uuid is None:
        raise PortNotFound(f"No port or server of name or id '{port_or_server}' exists.")
    ports = list(
        session.scalars(select(PortRow.id).where(PortRow.device_id == server_uuid).order_by(PortRow.id))
    )
    if not ports:
        raise PortNotFound(f"Server {server_uuid} has no ports (it may use QEMU's user-mode network).")
    return ports


class PortInspector:
    """Checks one port of the host against its kernel, in the order a packet meets each part."""

    def __init__(self, session: Session, view: KernelView, host: str, desired: HostState) -> None:
        self.session = session
        self.view = view
        self.host = host
        self.desired = desired

    def report(self, port_id: str) -> PortReport:
        row = self.session.get(PortRow, port_id)
        if row is None:
            raise PortNotFound(f"Port {port_id} could not be found.")
        addresses = list(
            self.session.scalars(select(IPAllocation.ip_address).where(IPAllocation.port_id == port_id))
        )
        report = PortReport(
            port_id=row.id,
            network_id=row.network_id,
            host=row.binding_host_id or "-",
            status=row.status,
            device=names.tap(row.id),
            server=row.device_id or "-",
            fixed_ips=sorted(addresses),
        )
        port = next((one for one in self.desired.ports if one.id == port_id), None)
        if row.binding_host_id != self.host or port is None:
            where = f"bound to host '{row.binding_host_id}'" if row.binding_host_id else "bound to no host"
            report.checks.append(
                Check("binding", False, f"the port is {where}, not a VM port of {self.host}")
            )
            return report
        report.checks.append(Check("binding", True, f"bound to {self.host}, status {row.status}"))
        report.checks += self._link_checks(port)
        report.checks += self._firewall_checks(port)
        report.checks += self._group_checks(port, report)
        report.checks += self._dhcp_checks(port)
        report.checks += self._router_checks(port)
        return report

    def _link_checks(self, port: Port) -> list[Check]:
        links = self.view.links()
        bridge = names.bridge(port.network_id)
        found_bridge = links.get(bridge)
        checks = [
            Check(
                "bridge",
                found_bridge is not None and found_bridge.up,
                f"{bridge} " + ("up" if found_bridge and found_bridge.up else "missing or down"),
            ),
        ]
        tap = links.get(port.device)
        if tap is None:
            checks.append(Check("tap", False, f"{port.device} does not exist"))
        elif tap.master != bridge or not tap.up or tap.owned_id(PORT_ALIAS) != port.id:
            checks.append(
                Check(
                    "tap",
                    False,
                    f"{port.device} is on {tap.master or 'no bridge'}, "
                    f"{'up' if tap.up else 'down'}; it should be up on {bridge}",
                )
            )
        else:
            checks.append(Check("tap", True, f"{port.device} up on {bridge}"))
        return checks

    def _firewall_checks(self, port: Port) -> list[Check]:
        if not port.port_security_enabled:
            return [Check("port-security", True, "off: no anti-spoofing and no security groups")]
        spoof_chain = f"spoof-{port.id}"
        expected_spoof = spoof_rules(port)
        held = self.view.chain_rules("bridge", spoof_chain)
        mapped = self.view.map_elements("bridge", "spoof_checks").get(port.device)
        jumps_there = isinstance(mapped, dict) and mapped.get("jump", {}).get("target") == spoof_chain
        checks = [
            Check(
                "anti-spoofing",
                held == len(expected_spoof) and jumps_there,
                f"chain {spoof_chain}: {held if held is not None else 'missing'} of {len(expected_spoof)} "
                f"rules; {port.device} {'is' if jumps_there else 'is NOT'} sent to it; allows "
                f"{port.mac_address} with {_listed(ip.ip_address for ip in port.fixed_ips)}"
                + (
                    f" and pairs {_listed(p.ip_address for p in port.allowed_address_pairs)}"
                    if port.allowed_address_pairs
                    else ""
                ),
            ),
        ]
        for direction in ("ingress", "egress"):
            chain = f"port-{port.id}-{direction}"
            expected = self.view.port_chain_rules(port, direction)
            count = self.view.chain_rules("inet", chain)
            checks.append(
                Check(
                    f"{direction}-chain",
                    count == expected,
                    f"chain {chain}: {count if count is not None else 'missing'} of {expected} rules",
                )
            )
        return checks

    def _group_checks(self, port: Port, report: PortReport) -> list[Check]:
        """Each group's chains against its rules; each rule shown beside the line the kernel holds for
        it (the firewall writes a group's IPv4 rules in order, one line each)."""
        groups = {group.id: group for group in self.desired.security_groups}
        checks = []
        for group_id in port.security_group_ids:
            group = groups.get(group_id)
            rules = group.rules if group is not None else ()
            held: dict[str, list[str] | None] = {}
            for direction in ("ingress", "egress"):
                expected = group_rule_count(group, direction) if group is not None else 0
                chain = f"sg-{group_id}-{direction}"
                lines = held[direction] = self.view.chain_lines("inet", chain)
                count = len(lines) if lines is not None else None
                checks.append(
                    Check(
                        f"security-group {group_id} {direction}",
                        count == expected,
                        f"chain {chain}: {count if count is not None else 'missing'} of {expected} rules",
                    )
                )
            written = {"ingress": 0, "egress": 0}
            for rule in rules:
                entry = {"security_group_id": group_id, "rule_id": rule.id, "rule": describe_rule(rule)}
                if rule.ethertype != "IPv4":  # the anti-spoofing chains let no IPv6 through yet
                    entry["nft"] = "(not written: IPv6 is not filtered yet)"
                else:
                    lines, index = held[rule.direction], written[rule.direction]
                    written[rule.direction] += 1
                    entry["nft"] = lines[index] if lines is not None and index < len(lines) else "(missing)"
                report.rules.append(entry)
        return checks

    def _dhcp_checks(self, port: Port) -> list[Check]:
        dhcp_host = self.session.scalars(
            select(PortRow.binding_host_id).where(
                PortRow.network_id == port.network_id, PortRow.device_owner == host_state.DHCP_OWNER
            )
        ).first()
        if dhcp_host is None:
            return [Check("dhcp", True, "the network has no DHCP-enabled subnet")]
        if dhcp_host != self.host:
            return [Check("dhcp", True, f"served by host '{dhcp_host or 'none yet'}', not checked here")]
        entries = self.view.dhcp_entries(port.network_id)
        missing = [
            ip.ip_address for ip in port.fixed_ips if (port.mac_address.lower(), ip.ip_address) not in entries
        ]
        pid = self.view.dnsmasq_pid(port.network_id)
        return [
            Check(
                "dhcp",
                not missing and pid is not None,
                f"dnsmasq {'pid ' + str(pid) if pid else 'NOT running'}; entry {port.mac_address} -> "
                f"{_listed(ip.ip_address for ip in port.fixed_ips)}"
                + (f" missing for {_listed(missing)}" if missing else ""),
            )
        ]

    def _router_checks(self, port: Port) -> list[Check]:
        subnet_ids = {ip.subnet_id for ip in port.fixed_ips}
        checks = []
        for router in self.desired.routers:
            served = [leg for leg in router.interfaces if leg.network_id == port.network_id]
            if not served:
                continue
            namespace = self.view.router_namespace(router.id)
            held = self.view.namespace_addresses(namespace)
            legs_held = [leg.ip_address for leg in served if leg.ip_address in held]
            checks.append(
                Check(
                    f"router {router.id}",
                    len(legs_held) == len(served),
                    f"namespace {namespace} holds gateway {_listed(legs_held) if legs_held else 'nothing'}"
                    f" of {_listed(leg.ip_address for leg in served)}",
                )
            )
            fixed = {ip.ip_address for ip in port.fixed_ips}
            for floating in router.floating_ips:
                if floating.fixed_ip_address in fixed:
                    on = floating.floating_ip_address in held
                    checks.append(
                        Check(
                            f"floating-ip {floating.floating_ip_address}",
                            on,
                            f"-> {floating.fixed_ip_address} through router {router.id}: "
                            f"{'held' if on else 'NOT held'} in {namespace}",
                        )
                    )
        if not checks and subnet_ids:
            elsewhere = self._floating_elsewhere(port.id)
            if elsewhere:
                checks.append(Check("floating-ip", False, elsewhere))
        return checks

    def _floating_elsewhere(self, port_id: str) -> str:
        """A floating IP on the port whose router this host does not serve."""
        row = self.session.scalars(
            select(FloatingIPRow).where(FloatingIPRow.fixed_port_id == port_id)
        ).first()
        if row is None:
            return ""
        return f"{row.floating_ip_address} is associated through router {row.router_id}, not served here"


def trace_port(session: Session, port_id: str, packet: Packet) -> Decision:
    """The verdict on ``packet`` at a bound port, from the rule model its host's agent converges to."""
    row = session.get(PortRow, port_id)
    if row is None:
        raise PortNotFound(f"Port {port_id} could not be found.")
    if not row.binding_host_id:
        raise errors.Conflict(f"Port {port_id} is bound to no host: no firewall holds it.")
    desired = host_state.read_host_state(session, row.binding_host_id, {}, [row.network_id])
    port = next((one for one in desired.ports if one.id == port_id), None)
    if port is None:
        raise errors.Conflict(f"Port {port_id} is not a VM port: the firewall does not filter it.")
    floating = session.execute(
        select(FloatingIPRow.fixed_ip_address, FloatingIPRow.router_id).where(
            FloatingIPRow.fixed_port_id == port_id, FloatingIPRow.floating_ip_address == packet.dst
        )
    ).first()
    if floating is None or floating.fixed_ip_address is None:
        return trace(port, desired.security_groups, packet)
    # The port sees a packet to its floating IP after the router's DNAT: to the fixed address.
    decision = trace(port, desired.security_groups, replace(packet, dst=floating.fixed_ip_address))
    translated = f"router {floating.router_id} translates {packet.dst} to {floating.fixed_ip_address}; "
    return replace(decision, reason=translated + decision.reason)


def group_rule_count(group: SecurityGroup, direction: str) -> int:
    """How many rules the firewall writes into the group's chain (its own script, counted)."""
    prefix = f"add rule inet {names.NFT_TABLE} sg-{group.id}-{direction} "
    return sum(1 for line in group_script(group).splitlines() if line.startswith(prefix))
