"""What a server's network looks like to users: its ports', or the driver's own networking.

A server on networks has ports (device_id = the server): `port_addresses` reads their fixed and
floating addresses for a page of servers in one query. A server without ports keeps what its compute
host stored from the driver (`get_instance_network`: QEMU user-mode networking, the guest's address and
the host port forwarded to its SSH port) in the instance's system metadata under "network_info"; the API
renders `addresses` from one or the other and `overcast server ssh-info` the SSH command.

The system metadata keys of a server's ports live here too, shared by the API (which resolves the
request) and the compute host (which makes the ports).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.instance_actions import InstanceExtra
from overcast.db.models.network import FloatingIP, IPAllocation, Network, Port
from overcast.db.value_sets import ValuesQuery

SYSTEM_METADATA_KEY = "network_info"
# [{"network_id", "fixed_ip"?} | {"port_id"}]: what the server asked for, as the API resolved it.
REQUESTED_NETWORKS = "requested_networks"
# The groups the ports the host makes are given.
SECURITY_GROUP_IDS = "security_group_ids"
# The ports the compute host made (deleted with the server); the others are the user's (unbound).
CREATED_PORT_IDS = "created_port_ids"
# User-mode networking has no Neutron network; its name is what `addresses` is keyed by.
USER_NETWORK = "user"
# Nova's (and Neutron's) base MAC prefix.
MAC_PREFIX = "fa:16:3e"


def default_vif(instance_uuid: str) -> dict[str, Any]:
    """The one NIC of a driver-networked guest, with a MAC stable for the instance's lifetime."""
    digest = hashlib.sha256(instance_uuid.encode()).digest()
    return {"id": f"{USER_NETWORK}-0", "address": f"{MAC_PREFIX}:" + ":".join(f"{b:02x}" for b in digest[:3])}


def addresses(network_info: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """The server view's `addresses` ({network name: [address]}) for the stored network info."""
    if not network_info or not network_info.get("guest_ip"):
        return {}
    entry = {
        "version": 4,
        "addr": network_info["guest_ip"],
        "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": network_info.get("mac_address"),
    }
    return {str(network_info.get("mode") or USER_NETWORK): [entry]}


def ssh_command(network_info: dict[str, Any] | None, user: str = "root") -> str | None:
    """`ssh -p PORT root@HOST` for a guest whose SSH port is forwarded; None when there is none."""
    if not network_info or not network_info.get("ssh_port"):
        return None
    host = network_info.get("ssh_host") or "127.0.0.1"
    return f"ssh -p {int(network_info['ssh_port'])} {user}@{host}"


def load(session: Session, instance_uuids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored network info of each of `instance_uuids` that has some (one query)."""
    uuids = list(instance_uuids)
    if not uuids:
        return {}
    rows = session.execute(
        select(InstanceExtra.instance_uuid, InstanceExtra.system_metadata).where(
            InstanceExtra.instance_uuid.in_(uuids)
        )
    )
    found = {}
    for uuid, system_metadata in rows:
        info = (system_metadata or {}).get(SYSTEM_METADATA_KEY)
        if info:
            found[uuid] = dict(info)
    return found


_PORT_ADDRESSES = ValuesQuery(
    lambda in_page: (
        select(
            Port.device_id,
            Port.mac_address,
            Network.name,
            IPAllocation.ip_address,
            FloatingIP.floating_ip_address,
        )
        .join(Network, Network.id == Port.network_id)
        .join(IPAllocation, IPAllocation.port_id == Port.id)
        .outerjoin(
            FloatingIP,
            (FloatingIP.fixed_port_id == Port.id) & (FloatingIP.fixed_ip_address == IPAllocation.ip_address),
        )
        .where(in_page(Port.device_id))
        .order_by(Port.device_id, Port.created_at, Port.id, IPAllocation.ip_address)
    )
)


def port_addresses(
    session: Session, instance_uuids: Iterable[str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """`addresses` of each of `instance_uuids` that has ports, from its ports: each fixed address, then
    the floating address associated with it, as Nova lists them (one query for them all)."""
    uuids = list(instance_uuids)
    if not uuids:
        return {}
    rows = _PORT_ADDRESSES.execute(session, uuids)
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for uuid, mac, network_name, address, floating in rows:
        listed = found.setdefault(uuid, {}).setdefault(network_name, [])
        listed.append(_address(address, "fixed", mac))
        if floating:
            listed.append(_address(floating, "floating", mac))
    return found


def _address(address: str, kind: str, mac: str) -> dict[str, Any]:
    return {
        "version": 6 if ":" in address else 4,
        "addr": address,
        "OS-EXT-IPS:type": kind,
        "OS-EXT-IPS-MAC:mac_addr": mac,
    }
