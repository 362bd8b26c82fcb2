"""Names of everything a network driver creates on a host, each with a recognisable prefix.

Interface names are at most 15 characters (IFNAMSIZ), so they carry the first 11 hexadecimal digits
of the object's id after a four-character prefix; the full id is kept in the interface's alias, which
is what the driver reads back. Namespaces and nftables objects have room for the whole id.
"""

from __future__ import annotations

import uuid

IFNAME_MAX = 15
INTERFACE_PREFIX = "ov"
BRIDGE = "ovb-"  # a network's bridge
VXLAN = "ovx-"  # a VXLAN network's tunnel endpoint, on the bridge
TAP = "ovt-"  # a VM port's device (QEMU's tap)
DHCP_HOST_SIDE = "ovd-"  # the DHCP namespace's veth, bridge end
DHCP_NAMESPACE_SIDE = "ovn-"  # the same veth pair, DHCP namespace end
ROUTER_HOST_SIDE = "ovr-"  # a router's leg (interface or gateway port), bridge end
ROUTER_NAMESPACE_SIDE = "ovi-"  # the same veth pair, router namespace end
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


def router_host_side(port_id: str) -> str:
    return _short(ROUTER_HOST_SIDE, port_id)


def router_namespace_side(port_id: str) -> str:
    return _short(ROUTER_NAMESPACE_SIDE, port_id)


def _namespace(kind: str, object_id: str, host_namespace: str | None) -> str:
    """A simulated host's name is part of its namespaces' names, so hosts never share one."""
    name = f"{NAMESPACE_PREFIX}{kind}-{object_id}"
    return f"{name}-on-{host_namespace}" if host_namespace else name


def dhcp_namespace(network_id: str, host_namespace: str | None) -> str:
    return _namespace("dhcp", network_id, host_namespace)


def router_namespace(router_id: str, host_namespace: str | None) -> str:
    return _namespace("router", router_id, host_namespace)


def owned_namespaces(kind: str, found: set[str], host_namespace: str | None) -> frozenset[str]:
    """The ids of the ``kind`` namespaces (dhcp, router) of this host among ``found``."""
    prefix = f"{NAMESPACE_PREFIX}{kind}-"
    ids = {name[len(prefix) : len(prefix) + 36] for name in found if name.startswith(prefix)}
    return frozenset(
        object_id
        for object_id in ids
        if _is_uuid(object_id) and _namespace(kind, object_id, host_namespace) in found
    )


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False
