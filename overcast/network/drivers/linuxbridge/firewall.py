"""Security groups and anti-spoofing with nftables: the firewall half of the linuxbridge driver.

The kernel here has no conntrack for the bridge family (``nf_conntrack_bridge``), so the firewall is two
tables named ``overcast``, one per family, rather than one:

- ``table bridge overcast`` sees the bridge ports. Its prerouting chain marks each packet with the
  number of the port it came in on (map ``port_marks``: device → mark) and sends it to that port's
  stateless anti-spoofing chain (vmap ``spoof_checks``: the port's MACs, MAC.IP pairs for IPv4 and
  ARP, DHCP requests from 0.0.0.0, never a DHCP server's source port 67, no other ethertype). Its
  forward chain then marks the packet with the port it goes out of.
- ``table inet overcast`` sees the same IPv4 packets through ``br_netfilter`` (each bridge is made with
  ``nf_call_iptables``), where conntrack works: a zone per bridge (map ``zones``, so overlapping tenant
  addresses never share connections), established and related traffic accepted first, then a VM's
  egress in prerouting (the mark is still the input port's) and its ingress in forward (the mark is
  the output port's), each through a vmap from mark to the port's chain, which jumps to the chains
  of the port's groups and drops what none accepts.

A group is two chains (``sg-<id>-ingress``/``-egress``) and a set of its members' addresses, which
rules naming it as remote group match. Changing a group's rules rewrites those chains in one ``nft -f``
transaction (atomic: packets see the old rules or the new, and established connections never leave
the conntrack rule), whatever number of ports use it; changing a port rewrites only its own chains.
Nothing is flushed wholesale: every call adds what is missing and deletes what it names, so repairing
drift keeps connections. Marks and zones are read back from the kernel's maps (cached, reloaded when a
transaction fails) so a restarted agent keeps every port's number.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from overcast.network.drivers import names
from overcast.network.drivers.base import NetworkDriverError
from overcast.network.drivers.linuxbridge.commands import CommandFailed, HostCommands
from overcast.network.drivers.model import Port, SecurityGroup, SecurityGroupRule

TABLE = names.NFT_TABLE
BRIDGES = f'"{names.BRIDGE}*"'
PROTOCOL_NUMBERS = {
    "icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17, "dccp": 33, "rsvp": 46, "gre": 47,
    "esp": 50, "ah": 51, "ospf": 89, "pgm": 113, "vrrp": 112, "sctp": 132, "udplite": 136,
}  # fmt: skip
PORTED_PROTOCOLS = {6, 17, 33, 132, 136}
# Port marks are MARK_TAG + a number: the forward chain clears only the marks it set (the kernel here
# lacks the bridge-family meta keys that would tell an Overcast bridge from another).
MARK_TAG, MARK_MASK = 0x4F560000, 0xFFFF0000

BASE = f"""
add table bridge {TABLE}
add map bridge {TABLE} port_marks {{ type ifname : mark; }}
add map bridge {TABLE} spoof_checks {{ type ifname : verdict; }}
add chain bridge {TABLE} prerouting {{ type filter hook prerouting priority -300; policy accept; }}
add chain bridge {TABLE} forward {{ type filter hook forward priority -200; policy accept; }}
flush chain bridge {TABLE} prerouting
flush chain bridge {TABLE} forward
add rule bridge {TABLE} prerouting meta mark set iifname map @port_marks
add rule bridge {TABLE} prerouting iifname vmap @spoof_checks
add rule bridge {TABLE} forward meta mark and {MARK_MASK:#x} == {MARK_TAG:#x} meta mark set 0
add rule bridge {TABLE} forward meta mark set oifname map @port_marks
add table inet {TABLE}
add map inet {TABLE} zones {{ typeof iifname : ct zone; }}
add map inet {TABLE} egress_ports {{ type mark : verdict; }}
add map inet {TABLE} ingress_ports {{ type mark : verdict; }}
add chain inet {TABLE} zone {{ type filter hook prerouting priority raw; policy accept; }}
add chain inet {TABLE} prerouting {{ type filter hook prerouting priority filter; policy accept; }}
add chain inet {TABLE} forward {{ type filter hook forward priority filter; policy accept; }}
flush chain inet {TABLE} zone
flush chain inet {TABLE} prerouting
flush chain inet {TABLE} forward
add rule inet {TABLE} zone iifname {BRIDGES} ct zone set iifname map @zones
add rule inet {TABLE} prerouting iifname != {BRIDGES} accept
add rule inet {TABLE} prerouting ct state established,related accept
add rule inet {TABLE} prerouting ct state invalid drop
add rule inet {TABLE} prerouting meta mark vmap @egress_ports
add rule inet {TABLE} forward iifname != {BRIDGES} accept
add rule inet {TABLE} forward ct state established,related accept
add rule inet {TABLE} forward ct state invalid drop
add rule inet {TABLE} forward meta mark vmap @ingress_ports
"""


@dataclass(frozen=True)
class PortFilter:
    """What the kernel's maps hold for one port device: its mark and the port whose chains it jumps to."""

    mark: int
    port_id: str


def _spoof_chain(port_id: str) -> str:
    return f"spoof-{port_id}"


def _port_chain(port_id: str, direction: str) -> str:
    return f"port-{port_id}-{direction}"


def _group_chain(group_id: str, direction: str) -> str:
    return f"sg-{group_id}-{direction}"


def _members_set(group_id: str) -> str:
    return f"sg-{group_id}-members"


def _elements(items: Iterable[str]) -> str:
    return "{ " + ", ".join(items) + " }"


class Firewall:
    def __init__(self, commands: HostCommands) -> None:
        self.commands = commands
        self._lock = threading.Lock()
        self._filters: dict[str, PortFilter] | None = None
        self._zones: dict[str, int] | None = None

    # --- transactions -----------------------------------------------------------------------------
    def _apply(self, script: str) -> None:
        self.commands.inside("nft", "-f", "-", stdin=script)

    def _transaction(self, build: Any, *, removal: bool = False) -> None:
        """Run the script ``build()`` makes from the cached maps; on failure (drift: a table someone
        deleted, maps that changed), re-create the base, reload the maps and try once more.

        A ``removal`` on a host whose tables are gone does nothing: a late cast (a network deleted,
        a port unwired) after the sync that emptied the host must not bring the tables back."""
        with self._lock:
            if removal and (self._filters is None or self._zones is None) and not self._has_tables():
                return
            try:
                self._load()
                self._apply_if_any(build())
            except CommandFailed:
                self._filters = self._zones = None
                if removal and not self._has_tables():
                    return
                self._apply(BASE)
                self._load()
                self._apply_if_any(build())

    def _has_tables(self) -> bool:
        listed = self.commands.inside("nft", "list", "tables").split("\n")
        return any(line.strip() in (f"table bridge {TABLE}", f"table inet {TABLE}") for line in listed)

    def _apply_if_any(self, script: str) -> None:
        if script.strip():  # a zone already mapped: no process at all
            self._apply(script)

    def _load(self) -> None:
        if self._filters is not None and self._zones is not None:
            return
        self._apply(BASE)
        marks = dict(self._map_elements("bridge", "port_marks"))
        checks = self._map_elements("bridge", "spoof_checks")
        owners = {device: verdict["jump"]["target"] for device, verdict in checks}
        self._filters = {
            device: PortFilter(mark, owners[device].removeprefix("spoof-"))
            for device, mark in marks.items()
            if device in owners
        }
        self._zones = dict(self._map_elements("inet", "zones"))

    def read(self) -> Ruleset:
        """The tables as the kernel holds them, in one read, which also refreshes the cached maps (a
        table that is missing reads as empty: the next write re-creates the base)."""
        with self._lock:
            ruleset = Ruleset.read(self.commands)
            marks = ruleset.maps.get(("bridge", "port_marks"), {})
            owners = {
                device: verdict["jump"]["target"]
                for device, verdict in ruleset.maps.get(("bridge", "spoof_checks"), {}).items()
                if isinstance(verdict, dict) and "jump" in verdict
            }
            self._filters = {
                device: PortFilter(mark, owners[device].removeprefix("spoof-"))
                for device, mark in marks.items()
                if device in owners
            }
            self._zones = dict(ruleset.maps.get(("inet", "zones"), {}))
            return ruleset

    def _map_elements(self, family: str, name: str) -> list[tuple[Any, Any]]:
        output = self.commands.inside("nft", "-j", "list", "map", family, TABLE, name)
        for item in json.loads(output)["nftables"]:
            if "map" in item:
                return [(key, value) for key, value in item["map"].get("elem", [])]
        return []

    # --- networks ---------------------------------------------------------------------------------
    def ensure_zone(self, network_id: str) -> None:
        bridge = names.bridge(network_id)

        def build() -> str:
            assert self._zones is not None
            if bridge in self._zones:
                return ""
            zone = min(set(range(1, len(self._zones) + 2)) - set(self._zones.values()))
            self._zones[bridge] = zone
            return f'add element inet {TABLE} zones {{ "{bridge}" : {zone} }}\n'

        self._transaction(build)

    def remove_zone(self, network_id: str) -> None:
        bridge = names.bridge(network_id)

        def build() -> str:
            assert self._zones is not None
            if self._zones.pop(bridge, None) is None:
                return ""
            return f'delete element inet {TABLE} zones {{ "{bridge}" }}\n'

        self._transaction(build, removal=True)

    # --- ports ------------------------------------------------------------------------------------
    def ensure_port(self, port: Port) -> None:
        if not port.port_security_enabled:
            self.remove_port(port.id)
            return

        def build() -> str:
            assert self._filters is not None
            lines = self._unmap(port.device) + port_chains_script(port)
            mark, device = self._free_mark(), port.device
            self._filters[device] = PortFilter(mark, port.id)
            egress, ingress = _port_chain(port.id, "egress"), _port_chain(port.id, "ingress")
            lines += [
                f'add element bridge {TABLE} port_marks {{ "{device}" : {mark} }}',
                f'add element bridge {TABLE} spoof_checks {{ "{device}" : jump {_spoof_chain(port.id)} }}',
                f"add element inet {TABLE} egress_ports {{ {mark} : jump {egress} }}",
                f"add element inet {TABLE} ingress_ports {{ {mark} : jump {ingress} }}",
            ]
            return "\n".join(lines) + "\n"

        self._transaction(build)

    def _free_mark(self) -> int:
        assert self._filters is not None
        used = {port_filter.mark for port_filter in self._filters.values()}
        return min(set(range(MARK_TAG + 1, MARK_TAG + len(used) + 2)) - used)

    def _unmap(self, device: str) -> list[str]:
        """Delete the device's map elements (the cache says they exist), so they can be added anew."""
        assert self._filters is not None
        found = self._filters.pop(device, None)
        if found is None:
            return []
        return [
            f'delete element bridge {TABLE} port_marks {{ "{device}" }}',
            f'delete element bridge {TABLE} spoof_checks {{ "{device}" }}',
            f"delete element inet {TABLE} egress_ports {{ {found.mark} }}",
            f"delete element inet {TABLE} ingress_ports {{ {found.mark} }}",
        ]

    def remove_port(self, port_id: str) -> None:
        def build() -> str:
            assert self._filters is not None
            device = next((dev for dev, found in self._filters.items() if found.port_id == port_id), None)
            lines = self._unmap(device) if device else []
            lines += _delete_chain("bridge", _spoof_chain(port_id))
            for direction in ("ingress", "egress"):
                lines += _delete_chain("inet", _port_chain(port_id, direction))
            return "\n".join(lines) + "\n"

        self._transaction(build, removal=True)

    # --- groups -----------------------------------------------------------------------------------
    def ensure_group(self, group: SecurityGroup) -> None:
        script = group_script(group)
        self._transaction(lambda: script)

    def remove_group(self, group_id: str) -> None:
        lines = _delete_chain("inet", _group_chain(group_id, "ingress"))
        lines += _delete_chain("inet", _group_chain(group_id, "egress"))
        lines += [
            f"add set inet {TABLE} {_members_set(group_id)} {{ type ipv4_addr; flags interval; }}",
            f"delete set inet {TABLE} {_members_set(group_id)}",
        ]
        try:
            self._transaction(lambda: "\n".join(lines) + "\n", removal=True)
        except CommandFailed as error:
            raise NetworkDriverError(f"Security group {group_id} is in use here: {error.message}") from error

    # --- reading ----------------------------------------------------------------------------------
    def chains(self) -> set[tuple[str, str]]:
        """(family, name) of every chain in the two tables."""
        output = self.commands.inside("nft", "-j", "list", "chains")
        return {
            (item["chain"]["family"], item["chain"]["name"])
            for item in json.loads(output)["nftables"]
            if "chain" in item and item["chain"]["table"] == TABLE
        }

    def groups(self) -> frozenset[str]:
        return frozenset(
            name.removeprefix("sg-").removesuffix("-ingress")
            for family, name in self.chains()
            if family == "inet" and name.startswith("sg-") and name.endswith("-ingress")
        )

    def prune_ports(self, keep: set[str], chains: Iterable[tuple[str, str]] | None = None) -> None:
        """Remove the chains of every port not in ``keep`` (a port removed while the agent was down),
        among ``chains`` (a read the caller already made) or the kernel's."""
        for family, name in self.chains() if chains is None else set(chains):
            port_id = name.removeprefix("spoof-")
            if family == "bridge" and name.startswith("spoof-") and port_id not in keep:
                self.remove_port(port_id)

    def remove_all(self) -> None:
        """Delete both tables (the host holds nothing of Overcast's any more)."""
        with self._lock:
            self._apply("".join(_delete_table(family) for family in ("bridge", "inet")))
            self._filters = self._zones = None


def port_chains_script(port: Port) -> list[str]:
    """The nft lines that (re)write a port's chains: its anti-spoofing chain and one chain per direction
    (DHCP, a jump to each of its groups' chains, then drop), each chain's last rule commented with the
    script's fingerprint."""
    return _fingerprinted(_port_lines(port))


def _port_lines(port: Port) -> list[str]:
    spoof = _spoof_chain(port.id)
    lines = [f"add chain bridge {TABLE} {spoof}", f"flush chain bridge {TABLE} {spoof}"]
    lines += [f"add rule bridge {TABLE} {spoof} {rule}" for rule in spoof_rules(port)]
    for direction in ("ingress", "egress"):
        chain = _port_chain(port.id, direction)
        lines += [f"add chain inet {TABLE} {chain}", f"flush chain inet {TABLE} {chain}"]
        # DHCP works whatever the groups say (as in Neutron): the client's requests out, the
        # network's server's answers in (anti-spoofing keeps VMs from answering).
        dhcp = "udp sport 67 udp dport 68" if direction == "ingress" else "udp sport 68 udp dport 67"
        lines.append(f"add rule inet {TABLE} {chain} {dhcp} accept")
        for group_id in port.security_group_ids:
            group_chain = _group_chain(group_id, direction)
            lines.append(f"add chain inet {TABLE} {group_chain}")
            lines.append(f"add rule inet {TABLE} {chain} jump {group_chain}")
        lines.append(f"add rule inet {TABLE} {chain} drop")
    return lines


def _fingerprinted(lines: list[str]) -> list[str]:
    """The script with its fingerprint as the comment of each chain's last rule: a sync that finds it
    there (and the chain's rule count) knows the chain is as this script wrote it."""
    fingerprint = port_fingerprint(lines)
    # "add rule <family> <table> <chain> ...": the last line of each chain wins
    last_rule = {line.split(" ", 5)[4]: at for at, line in enumerate(lines) if line.startswith("add rule ")}
    marked = list(lines)
    for index in last_rule.values():
        marked[index] += f' comment "{fingerprint}"'
    return marked


def port_fingerprint(lines: list[str]) -> str:
    return "overcast " + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:24]


class Ruleset:
    """Overcast's two tables as one ``nft -j list ruleset`` shows them: each chain's rules, each map's
    elements."""

    def __init__(self, listing: list[dict[str, Any]]) -> None:
        self.chains: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.maps: dict[tuple[str, str], dict[Any, Any]] = {}
        for item in listing:
            if "chain" in item and item["chain"]["table"] == TABLE:
                self.chains.setdefault((item["chain"]["family"], item["chain"]["name"]), [])
            elif "rule" in item and item["rule"]["table"] == TABLE:
                rule = item["rule"]
                self.chains.setdefault((rule["family"], rule["chain"]), []).append(rule)
            elif "map" in item and item["map"]["table"] == TABLE:
                found = item["map"]
                self.maps[(found["family"], found["name"])] = {
                    _hashable(key): value for key, value in found.get("elem", [])
                }

    @classmethod
    def read(cls, commands: HostCommands) -> Ruleset:
        output = commands.inside("nft", "-j", "list", "ruleset")
        return cls(json.loads(output)["nftables"] if output.strip() else [])

    def holds(self, port: Port) -> bool:
        """Whether the port's chains and map elements are what ``ensure_port`` writes: each chain holds
        as many rules as the script and its last one carries the script's fingerprint."""
        device, spoof = port.device, _spoof_chain(port.id)
        mark = self.maps.get(("bridge", "port_marks"), {}).get(device)
        if not port.port_security_enabled:
            return mark is None and ("bridge", spoof) not in self.chains
        lines = _port_lines(port)
        fingerprint = port_fingerprint(lines)
        chains = [("bridge", spoof), *(("inet", _port_chain(port.id, way)) for way in ("ingress", "egress"))]
        for family, chain in chains:
            rules = self.chains.get((family, chain))
            written = sum(1 for line in lines if line.startswith(f"add rule {family} {TABLE} {chain} "))
            if not rules or len(rules) != written or rules[-1].get("comment") != fingerprint:
                return False
        egress, ingress = _port_chain(port.id, "egress"), _port_chain(port.id, "ingress")
        return mark is not None and all(
            self.maps.get(where, {}).get(key) == {"jump": {"target": target}}
            for where, key, target in (
                (("bridge", "spoof_checks"), device, spoof),
                (("inet", "egress_ports"), mark, egress),
                (("inet", "ingress_ports"), mark, ingress),
            )
        )


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def port_chain_rules(port: Port, direction: str) -> list[str]:
    """The rules (nft syntax, in order) the firewall writes into the port's ``direction`` chain: what a
    report compares with the kernel's."""
    prefix = f"add rule inet {TABLE} {_port_chain(port.id, direction)} "
    return [line.removeprefix(prefix) for line in port_chains_script(port) if line.startswith(prefix)]


def group_script(group: SecurityGroup) -> str:
    """The one transaction that makes the group's chains and member set hold exactly ``group``."""
    members = _members_set(group.id)
    lines = [
        f"add set inet {TABLE} {members} {{ type ipv4_addr; flags interval; }}",
        f"flush set inet {TABLE} {members}",
    ]
    addresses = sorted(str(ipaddress.ip_address(ip)) for ip in group.member_ips if ":" not in ip)
    if addresses:
        lines.append(f"add element inet {TABLE} {members} {_elements(addresses)}")
    for direction in ("ingress", "egress"):
        chain = _group_chain(group.id, direction)
        lines += [f"add chain inet {TABLE} {chain}", f"flush chain inet {TABLE} {chain}"]
    for rule in group.rules:
        if rule.ethertype != "IPv4":
            continue  # the anti-spoofing chains let no IPv6 through yet
        if rule.remote_group_id:
            remote = _members_set(rule.remote_group_id)
            lines.append(f"add set inet {TABLE} {remote} {{ type ipv4_addr; flags interval; }}")
        chain = _group_chain(group.id, rule.direction)
        lines.append(f"add rule inet {TABLE} {chain} {_rule_match(rule)} accept")
    return "\n".join(lines) + "\n"


def _delete_table(family: str) -> str:
    return f"add table {family} {TABLE}\ndelete table {family} {TABLE}\n"


def _delete_chain(family: str, chain: str) -> list[str]:
    """Delete a chain whether or not it exists (adding an existing chain is a no-op)."""
    return [f"add chain {family} {TABLE} {chain}", f"delete chain {family} {TABLE} {chain}"]


def spoof_rules(port: Port) -> list[str]:
    """The stateless checks on what a port sends: its MACs, MAC.IP pairs, DHCP requests, nothing else."""
    macs = {port.mac_address.lower()}
    pairs = {(port.mac_address.lower(), fixed.ip_address) for fixed in port.fixed_ips}
    for pair in port.allowed_address_pairs:
        mac = (pair.mac_address or port.mac_address).lower()
        macs.add(mac)
        pairs.add((mac, str(ipaddress.ip_network(pair.ip_address, strict=False))))
    ipv4 = sorted(f"{mac} . {address}" for mac, address in pairs if ":" not in address)
    rules = [f"ether saddr != {_elements(sorted(macs))} drop"]
    arp_senders = [*ipv4, *(f"{mac} . 0.0.0.0" for mac in sorted(macs))]  # 0.0.0.0: address probes
    rules.append(f"ether type arp arp saddr ether . arp saddr ip {_elements(arp_senders)} accept")
    rules.append("udp sport 67 drop")  # no DHCP server behind a VM port
    rules.append("ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept")
    if ipv4:
        rules.append(f"ether saddr . ip saddr {_elements(ipv4)} accept")
    rules.append("drop")
    return rules


def _protocol_number(protocol: str) -> int:
    if protocol.isascii() and protocol.isdecimal():
        return int(protocol)
    if protocol.lower() not in PROTOCOL_NUMBERS:
        raise NetworkDriverError(f"Unknown protocol {protocol} in a security group rule.")
    return PROTOCOL_NUMBERS[protocol.lower()]


def _rule_match(rule: SecurityGroupRule) -> str:
    """The nftables match of one IPv4 rule; the peer is the source for ingress, the destination for egress."""
    peer = "saddr" if rule.direction == "ingress" else "daddr"
    parts = ["meta nfproto ipv4"]
    if rule.remote_group_id:
        parts.append(f"ip {peer} @{_members_set(rule.remote_group_id)}")
    elif rule.remote_ip_prefix:
        parts.append(f"ip {peer} {ipaddress.ip_network(rule.remote_ip_prefix, strict=False)}")
    if rule.protocol is None or rule.protocol.lower() == "any":
        return " ".join(parts)
    number = _protocol_number(rule.protocol)
    parts.append(f"meta l4proto {number}")
    if number in PORTED_PROTOCOLS and rule.port_range_min is not None:
        last = rule.port_range_max if rule.port_range_max is not None else rule.port_range_min
        ports = str(last) if last == rule.port_range_min else f"{rule.port_range_min}-{last}"
        parts.append(f"th dport {ports}")
    elif number == 1 and rule.port_range_min is not None:  # Neutron: ICMP type in min, code in max
        parts.append(f"icmp type {rule.port_range_min}")
        if rule.port_range_max is not None:
            parts.append(f"icmp code {rule.port_range_max}")
    return " ".join(parts)
