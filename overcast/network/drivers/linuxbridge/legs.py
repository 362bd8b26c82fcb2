"""A namespace's leg on a network: a veth pair from a bridge into a namespace (a DHCP server's, a
router's), its inner end with a given MAC and addresses. Shared by ``dhcp.py`` and ``routers.py``."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from overcast.network.drivers.linuxbridge.commands import CommandFailed, HostCommands, namespaces, run


@dataclass(frozen=True)
class Leg:
    bridge: str
    mtu: int
    host_side: str  # the bridge end, in the host namespace
    inner: str  # the namespace end
    mac_address: str
    addresses: frozenset[str]  # "address/prefix"
    alias: str  # names the object the leg belongs to, on the bridge end


def ensure_namespace(name: str) -> None:
    if name not in namespaces():
        run(["ip", "netns", "add", name])
        run(["ip", "-n", name, "link", "set", "lo", "up"])


def remove_namespace(name: str) -> None:
    """Delete the namespace, which takes the inner ends of its veth pairs (and so the pairs) with it."""
    if name in namespaces():
        run(["ip", "netns", "del", name])


def ensure_leg(host: HostCommands, namespace: str, leg: Leg) -> None:
    """Make the leg, or repair what differs; a leg as it should be costs two reads and no write."""
    inside = HostCommands(namespace)
    found = inside.ip_json_batch([f"addr show dev {leg.inner}"])
    bridge_end = host.ip_json_batch([f"link show dev {leg.host_side}"]) if found else []
    if not found:
        with contextlib.suppress(CommandFailed):  # a bridge end whose peer went with its namespace
            host.ip("link", "del", "dev", leg.host_side)
        host.ip("link", "add", leg.host_side, "type", "veth", "peer", "name", leg.inner, "netns", namespace)
    mtu = str(leg.mtu)
    if not (bridge_end and _bridge_end_as_asked(bridge_end[0], leg)):
        host.ip("link", "set", "dev", leg.host_side, "master", leg.bridge, "mtu", mtu, "alias", leg.alias)
        host.ip("link", "set", "dev", leg.host_side, "up")
    if not (found and _inner_end_as_asked(found[0], leg)):
        inside.ip("link", "set", "dev", leg.inner, "address", leg.mac_address, "mtu", mtu, "up")
    held = {
        f"{address['local']}/{address['prefixlen']}"
        for entry in found
        for address in entry.get("addr_info", [])
        if address.get("family") == "inet"
    }
    for address in sorted(leg.addresses - held):
        inside.ip("addr", "add", address, "dev", leg.inner)
    for address in sorted(held - leg.addresses):
        inside.ip("addr", "del", address, "dev", leg.inner)


def _bridge_end_as_asked(link: dict[str, Any], leg: Leg) -> bool:
    return (
        link.get("master") == leg.bridge
        and link["mtu"] == leg.mtu
        and link.get("ifalias") == leg.alias
        and "UP" in link["flags"]
    )


def _inner_end_as_asked(link: dict[str, Any], leg: Leg) -> bool:
    return link.get("address") == leg.mac_address.lower() and link["mtu"] == leg.mtu and "UP" in link["flags"]


def remove_leg(host: HostCommands, namespace: str, inner: str, host_side: str) -> None:
    with contextlib.suppress(CommandFailed):
        HostCommands(namespace).ip("link", "del", "dev", inner)
    with contextlib.suppress(CommandFailed):
        host.ip("link", "del", "dev", host_side)
