"""Routers: a namespace per router (``ovc-router-<id>``) with a leg on each of its subnets' bridges and,
with an external gateway, one on the external network's bridge.

The router forwards between its legs (``ip_forward`` in its namespace only). Its NAT is one nftables
table in its namespace (``ip overcast``), replaced whole in one transaction whenever the router
changes: conntrack keeps the translation of connections already made, so a change never cuts them.
A floating IP is a /32 on the gateway leg (the namespace answers ARP for it, and a gratuitous ARP
announces it when it is added), DNAT to the fixed IP on the way in, SNAT from it on the way out,
before the router's own SNAT to its gateway address for everything else (if ``enable_snat``).
"""

from __future__ import annotations

import contextlib
import ipaddress

from overcast.network.drivers import names
from overcast.network.drivers.base import NetworkNotWired
from overcast.network.drivers.linuxbridge.commands import CommandFailed, HostCommands, namespaces
from overcast.network.drivers.linuxbridge.legs import (
    Leg,
    ensure_leg,
    ensure_namespace,
    remove_leg,
    remove_namespace,
)
from overcast.network.drivers.model import Router

ROUTER_ALIAS = "overcast router "
NAT_TABLE = names.NFT_TABLE


class Routers:
    def __init__(self, commands: HostCommands) -> None:
        self.commands = commands

    def namespace(self, router_id: str) -> str:
        return names.router_namespace(router_id, self.commands.namespace)

    def routers(self) -> frozenset[str]:
        return names.owned_namespaces("router", namespaces(), self.commands.namespace)

    def ensure(self, router: Router) -> None:
        legs = self._legs(router)
        namespace = self.namespace(router.id)
        ensure_namespace(namespace)
        inside = HostCommands(namespace)
        inside.inside("busybox", "sysctl", "-w", "net.ipv4.ip_forward=1")
        announced = self._floating_addresses_held(inside, router)
        wanted = {leg.inner for leg in legs}
        for link in inside.ip_json("link", "show"):
            inner = link["ifname"]
            if inner.startswith(names.ROUTER_NAMESPACE_SIDE) and inner not in wanted:
                host_side = names.ROUTER_HOST_SIDE + inner.removeprefix(names.ROUTER_NAMESPACE_SIDE)
                remove_leg(self.commands, namespace, inner, host_side)
        for leg in legs:
            ensure_leg(self.commands, namespace, leg)
        gateway = router.gateway
        if gateway is not None and gateway.gateway_ip:
            device = self._gateway_device(router)
            inside.ip("route", "replace", "default", "via", gateway.gateway_ip, "dev", device)
        else:
            with contextlib.suppress(CommandFailed):
                inside.ip("route", "del", "default")
        self._converge_routes(inside, router)
        inside.inside("nft", "-f", "-", stdin=nat_script(router, self._gateway_device(router)))
        for floating in router.floating_ips:
            if floating.floating_ip_address not in announced:
                self._announce(inside, router, floating.floating_ip_address)

    def _legs(self, router: Router) -> list[Leg]:
        sides = [
            (port.port_id, port.network_id, port.mac_address, {_with_prefix(port.ip_address, port.cidr)})
            for port in router.interfaces
        ]
        if router.gateway is not None:
            gateway = router.gateway
            addresses = {_with_prefix(gateway.ip_address, gateway.cidr)}
            addresses |= {f"{fip.floating_ip_address}/32" for fip in router.floating_ips}
            sides.append((gateway.port_id, gateway.network_id, gateway.mac_address, addresses))
        bridges = {network_id: names.bridge(network_id) for _, network_id, _, _ in sides}
        reads = [f"link show dev {bridge}" for bridge in bridges.values()]
        found = {entry["ifname"]: entry["mtu"] for entry in self.commands.ip_json_batch(reads)}
        legs = []
        for port_id, network_id, mac, addresses in sides:
            bridge = bridges[network_id]
            if bridge not in found:
                raise NetworkNotWired(f"Network {network_id} of router {router.id} is not wired here.")
            legs.append(
                Leg(
                    bridge=bridge,
                    mtu=found[bridge],
                    host_side=names.router_host_side(port_id),
                    inner=names.router_namespace_side(port_id),
                    mac_address=mac,
                    addresses=frozenset(addresses),
                    alias=f"{ROUTER_ALIAS}{router.id}",
                )
            )
        return legs

    @staticmethod
    def _converge_routes(inside: HostCommands, router: Router) -> None:
        """The router's extra routes are its ``proto static`` routes (its legs' routes are the kernel's,
        its default route ``proto boot``), so the ones no longer asked for are found and deleted."""
        wanted = {_network(route.destination): route.nexthop for route in router.routes}
        static = inside.ip_json("route", "show", "proto", "static")
        held = {_network(entry["dst"]): entry.get("gateway") for entry in static}
        for destination in sorted(set(held) - set(wanted)):
            inside.ip("route", "del", destination, "proto", "static")
        for destination, nexthop in sorted(wanted.items()):
            if held.get(destination) != nexthop:
                inside.ip("route", "replace", destination, "via", nexthop, "proto", "static")

    @staticmethod
    def _gateway_device(router: Router) -> str:
        return names.router_namespace_side(router.gateway.port_id) if router.gateway else ""

    def _floating_addresses_held(self, inside: HostCommands, router: Router) -> set[str]:
        if router.gateway is None:
            return set()
        try:
            entries = inside.ip_json("addr", "show", "dev", self._gateway_device(router))
        except CommandFailed:
            return set()
        return {
            address["local"]
            for entry in entries
            for address in entry.get("addr_info", [])
            if address.get("prefixlen") == 32
        }

    def _announce(self, inside: HostCommands, router: Router, address: str) -> None:
        """A gratuitous ARP, so neighbours that cached another MAC for the address learn the router's."""
        with contextlib.suppress(CommandFailed):
            device = self._gateway_device(router)
            arping = ("busybox", "arping", "-U", "-c", "1", "-w", "1")
            inside.inside(*arping, "-I", device, "-s", address, address)

    def remove(self, router_id: str) -> None:
        namespace = self.namespace(router_id)
        legs = [
            entry["ifname"]
            for entry in self.commands.ip_json("link", "show")
            if entry.get("ifalias") == f"{ROUTER_ALIAS}{router_id}"
        ]
        for host_side in legs:  # the pair goes at once, not when the namespace is reaped
            with contextlib.suppress(CommandFailed):
                self.commands.ip("link", "del", "dev", host_side)
        remove_namespace(namespace)


def _network(destination: str) -> str:
    """A destination as one spelling (ip shows a /32 as a bare address)."""
    return str(ipaddress.ip_network(destination, strict=False))


def _with_prefix(address: str, cidr: str) -> str:
    return f"{address}/{ipaddress.ip_network(cidr, strict=False).prefixlen}"


def nat_script(router: Router, gateway_device: str) -> str:
    """The router's whole NAT table, replacing the one it had in a single transaction."""
    lines = [
        f"add table ip {NAT_TABLE}",
        f"delete table ip {NAT_TABLE}",
        f"add table ip {NAT_TABLE}",
        f"add chain ip {NAT_TABLE} prerouting {{ type nat hook prerouting priority dstnat; }}",
        f"add chain ip {NAT_TABLE} postrouting {{ type nat hook postrouting priority srcnat; }}",
    ]
    if router.gateway is None:
        return "\n".join(lines) + "\n"
    for floating in router.floating_ips:
        public, private = floating.floating_ip_address, floating.fixed_ip_address
        lines.append(f"add rule ip {NAT_TABLE} prerouting ip daddr {public} dnat to {private}")
        out = f'oifname "{gateway_device}"'
        lines.append(f"add rule ip {NAT_TABLE} postrouting {out} ip saddr {private} snat to {public}")
    if router.gateway.enable_snat:
        gateway_ip = router.gateway.ip_address
        lines.append(f'add rule ip {NAT_TABLE} postrouting oifname "{gateway_device}" snat to {gateway_ip}')
    return "\n".join(lines) + "\n"
