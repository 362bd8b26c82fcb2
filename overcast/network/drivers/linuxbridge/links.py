"""Bridges, VXLAN endpoints and port devices: the L2 half of the linuxbridge driver.

A network is a bridge (``ovb-…``); a VXLAN network adds a ``vxlan`` device (``ovx-…``) on it with
learning off and one all-zeros FDB entry per remote VTEP, so broadcast and unknown unicast go to every
other host with ports on the network (head-end replication; no multicast in the underlay). A flat
network enslaves the physical interface mapped to its physical network. A port is its device (QEMU's
tap, created persistent here if it does not exist; any other device, a test's veth, is used as it is)
on the bridge with the network's MTU. Every device carries its object's full id in its alias, which is
how the driver finds what it made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from overcast.network.drivers import names
from overcast.network.drivers.base import NetworkDriverError, NetworkNotWired
from overcast.network.drivers.linuxbridge.commands import CommandFailed, HostCommands
from overcast.network.drivers.model import Network, Port

NETWORK_ALIAS = "overcast network "
VXLAN_ALIAS = "overcast vxlan "
PORT_ALIAS = "overcast port "
VXLAN_PORT = 4789
FLOOD_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class Link:
    name: str
    kind: str
    master: str | None
    mtu: int
    up: bool
    alias: str
    vni: int | None = None
    local: str | None = None
    filtered: bool = False  # a bridge whose IPv4 traffic meets the inet firewall (nf_call_iptables)

    @classmethod
    def parse(cls, entry: dict[str, Any]) -> Link:
        info = entry.get("linkinfo", {})
        data = info.get("info_data", {})
        return cls(
            name=entry["ifname"],
            kind=info.get("info_kind", ""),
            master=entry.get("master"),
            mtu=entry["mtu"],
            up="UP" in entry.get("flags", []),
            alias=entry.get("ifalias", ""),
            vni=data.get("id"),
            local=data.get("local"),
            filtered=data.get("nf_call_iptables") == 1,
        )

    def owned_id(self, alias_prefix: str) -> str | None:
        return self.alias[len(alias_prefix) :] if self.alias.startswith(alias_prefix) else None


class Links:
    def __init__(
        self, commands: HostCommands, local_vtep_ip: str | None, physical_interfaces: Mapping[str, str]
    ) -> None:
        self.commands = commands
        self.local_vtep_ip = local_vtep_ip
        self.physical_interfaces = dict(physical_interfaces)

    # --- reading ----------------------------------------------------------------------------------
    def all(self) -> dict[str, Link]:
        return {entry["ifname"]: Link.parse(entry) for entry in self.commands.ip_json("-d", "link", "show")}

    def find(self, name: str) -> Link | None:
        try:
            entries = self.commands.ip_json("-d", "link", "show", "dev", name)
        except CommandFailed:
            return None
        return Link.parse(entries[0]) if entries else None

    def find_many(self, *link_names: str) -> dict[str, Link]:
        """The links of these names that exist, read in one process."""
        entries = self.commands.ip_json_batch([f"link show dev {name}" for name in link_names])
        return {entry["ifname"]: Link.parse(entry) for entry in entries}

    def flood_vteps(self) -> dict[str, frozenset[str]]:
        """Each VXLAN device's remote VTEPs (its all-zeros FDB entries), by device name."""
        found: dict[str, set[str]] = {}
        for entry in self.commands.bridge_json("fdb", "show"):
            if entry.get("mac") == FLOOD_MAC and "dst" in entry:
                found.setdefault(entry["ifname"], set()).add(entry["dst"])
        return {device: frozenset(vteps) for device, vteps in found.items()}

    # --- networks ---------------------------------------------------------------------------------
    def ensure_network(self, network: Network, remote_vteps: frozenset[str]) -> None:
        bridge = names.bridge(network.id)
        lines = self._bridge_repairs(bridge, network, self.find(bridge))
        if network.segmentation_type == "vxlan":
            lines += self._vxlan_repairs(bridge, network)
        else:
            lines += self._uplink_repairs(bridge, network)
        self.commands.ip_batch(lines)
        if network.segmentation_type == "vxlan":
            self._converge_vteps(names.vxlan(network.id), remote_vteps)

    def _bridge_repairs(self, bridge: str, network: Network, found: Link | None) -> list[str]:
        if found is None:
            # forward_delay 0: a port forwards at once; nf_call_iptables: the bridge's IPv4 traffic
            # meets the inet firewall (security groups need conntrack, which the bridge family lacks).
            return [
                f"link add name {bridge} type bridge forward_delay 0 stp_state 0 nf_call_iptables 1",
                f'link set dev {bridge} mtu {network.mtu} alias "{NETWORK_ALIAS}{network.id}" up',
            ]
        lines = []
        if not found.filtered:  # without it, security groups would let everything through
            lines.append(f"link set dev {bridge} type bridge nf_call_iptables 1")
        if found.mtu != network.mtu or not found.up or found.owned_id(NETWORK_ALIAS) != network.id:
            lines.append(f'link set dev {bridge} mtu {network.mtu} alias "{NETWORK_ALIAS}{network.id}" up')
        return lines

    def _vxlan_repairs(self, bridge: str, network: Network) -> list[str]:
        if self.local_vtep_ip is None:
            raise NetworkDriverError("This host has no local VTEP address for VXLAN networks.")
        device = names.vxlan(network.id)
        found = self.find(device)
        lines = []
        if found is not None and (found.vni != network.segmentation_id or found.local != self.local_vtep_ip):
            lines.append(f"link del dev {device}")
            found = None
        if found is None:
            lines.append(
                f"link add name {device} type vxlan id {network.segmentation_id} local {self.local_vtep_ip}"
                f" dstport {VXLAN_PORT} nolearning"
            )
        if found is None or found.master != bridge or found.mtu != network.mtu or not found.up:
            alias = f"{VXLAN_ALIAS}{network.id}"
            lines.append(f'link set dev {device} master {bridge} mtu {network.mtu} alias "{alias}" up')
        return lines

    def _uplink_repairs(self, bridge: str, network: Network) -> list[str]:
        uplink = self.physical_interfaces.get(network.physical_network or "")
        if uplink is None:
            raise NetworkDriverError(f"Physical network {network.physical_network} has no interface here.")
        found = self.find(uplink)
        if found is None:
            raise NetworkDriverError(f"Interface {uplink} of {network.physical_network} is missing.")
        if found.master != bridge or not found.up:
            return [f"link set dev {uplink} master {bridge} up"]
        return []

    def _converge_vteps(self, device: str, wanted: frozenset[str]) -> None:
        found = self.flood_vteps().get(device, frozenset())
        for vtep in sorted(wanted - found):
            self.commands.bridge("fdb", "append", FLOOD_MAC, "dev", device, "dst", vtep)
        for vtep in sorted(found - wanted):
            self.commands.bridge("fdb", "del", FLOOD_MAC, "dev", device, "dst", vtep)

    def remove_network(self, network_id: str) -> list[str]:
        """Delete the network's bridge and VXLAN device and take its ports off; returns their ids."""
        bridge = names.bridge(network_id)
        links = self.all()
        if bridge not in links:
            return []
        lines, port_ids = [], []
        for link in links.values():
            if link.master != bridge:
                continue
            port_id = link.owned_id(PORT_ALIAS)
            if port_id is not None:
                port_ids.append(port_id)
            if port_id is not None or link.owned_id(VXLAN_ALIAS) is not None:
                lines.append(self._removal(link))
            else:  # an uplink, or a device the driver did not make: left as it was, off the bridge
                lines.append(f"link set dev {link.name} nomaster")
        lines.append(f"link del dev {bridge}")
        self.commands.ip_batch(lines)
        return port_ids

    # --- ports ------------------------------------------------------------------------------------
    def port_links(self, port: Port) -> tuple[Link, Link | None]:
        """The port's bridge (NetworkNotWired if it has none) and its device, if it exists."""
        bridge_name = names.bridge(port.network_id)
        found = self.find_many(bridge_name, port.device)
        if bridge_name not in found:
            raise NetworkNotWired(f"Network {port.network_id} of port {port.id} is not wired here.")
        return found[bridge_name], found.get(port.device)

    @staticmethod
    def port_in_place(port: Port, links: Mapping[str, Link]) -> bool:
        """Whether ``links`` (one read of the host) show the port's device as ``ensure_port`` leaves it."""
        bridge, device = links.get(names.bridge(port.network_id)), links.get(port.device)
        return (
            bridge is not None
            and device is not None
            and device.master == bridge.name
            and device.mtu == bridge.mtu
            and device.up
            and device.owned_id(PORT_ALIAS) == port.id
        )

    def ensure_port(self, port: Port, bridge: Link, found: Link | None) -> None:
        """Create the port's tap if ``found`` is None, and put the device on ``bridge`` with its MTU."""
        lines = []
        if found is None:
            lines.append(f"tuntap add dev {port.device} mode tap")
        if (
            found is None
            or found.master != bridge.name
            or found.mtu != bridge.mtu
            or not found.up
            or found.owned_id(PORT_ALIAS) != port.id
        ):
            alias = f"{PORT_ALIAS}{port.id}"
            device, mtu = port.device, bridge.mtu
            lines.append(f'link set dev {device} master {bridge.name} mtu {mtu} alias "{alias}" up')
        self.commands.ip_batch(lines)

    def port_device(self, port_id: str) -> Link | None:
        """The device that carries the port, by its alias (its usual name first, then every link)."""
        usual = self.find(names.tap(port_id))
        if usual is not None and usual.owned_id(PORT_ALIAS) == port_id:
            return usual
        return next((link for link in self.all().values() if link.owned_id(PORT_ALIAS) == port_id), None)

    def remove_port(self, port_id: str) -> Link | None:
        device = self.port_device(port_id)
        if device is not None:
            self.commands.ip_batch([self._removal(device)])
        return device

    @staticmethod
    def _removal(link: Link) -> str:
        """A tap or VXLAN device the driver made is deleted; any other port device (a test's veth, a
        device QEMU made) is taken off its bridge and forgets its port."""
        if link.kind in ("tun", "vxlan"):
            return f"link del dev {link.name}"
        return f'link set dev {link.name} nomaster alias ""'
