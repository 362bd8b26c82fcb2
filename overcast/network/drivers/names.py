"""Names of everything a network driver creates on a host, each with a recognisable prefix.

Interface names are at most 15 characters (IFNAMSIZ), so they carry the first 11 hexadecimal digits
of the object's id after a four-character prefix; the full id is kept in the interface's alias, which
is what the driver reads back. Namespaces and nftables objects have room for the whole id.
"""

from __future__ import annotations

IFNAME_MAX = 15
INTERFACE_PREFIX = "ov"
BRIDGE = "ovb-"  # a network's bridge
VXLAN = "ovx-"  # a VXLAN network's tunnel endpoint, on the bridge
TAP = "ovt-"  # a VM port's device (QEMU's tap)
DHCP_HOST_SIDE = "ovd-"  # the DHCP namespace's veth, bridge end
DHCP_NAMESPACE_SIDE = "ovn-"  # the same veth pair, DHCP namespace end
NAMESPACE_PREFIX = "ovc-"
NFT_TABLE = "overcast"


def _short(prefix: str, object_id: str) -> str:
    return prefix + object_id.replace("-", "")[: IFNAME_MAX - len(prefix)]


def bridge(network_id: str) -> str:
    return _short(BRIDGE, network_id)


def vxlan(network_id: str) -> str:
    return _short(VXLAN, network_id)


def tap(port_id: str) -> str:
    """The device name a port's VM gets (QEMU opens the tap by this name)."""
    return _short(TAP, port_id)


def dhcp_host_side(network_id: str) -> str:
    return _short(DHCP_HOST_SIDE, network_id)


def dhcp_namespace_side(network_id: str) -> str:
    return _short(DHCP_NAMESPACE_SIDE, network_id)


def dhcp_namespace(network_id: str, host_namespace: str | None) -> str:
    """The DHCP server's namespace; a simulated host's name is part of it, so hosts never share one."""
    name = f"{NAMESPACE_PREFIX}dhcp-{network_id}"
    return f"{name}-on-{host_namespace}" if host_namespace else name
