"""Provider segments: which VXLAN id or physical network a network is carried on, and its MTU."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.network import Network
from overcast.network.api.errors import InvalidInput, NoNetworkAvailable
from overcast.network.api.settings import VXLAN_OVERHEAD, NetworkSettings

NETWORK_TYPES = ("vxlan", "flat")
MIN_MTU = 68


@dataclass(frozen=True)
class Segment:
    network_type: str
    physical_network: str | None
    segmentation_id: int | None
    max_mtu: int


def max_mtu(settings: NetworkSettings, network_type: str) -> int:
    return settings.physnet_mtu - VXLAN_OVERHEAD if network_type == "vxlan" else settings.physnet_mtu


def requested_segment(settings: NetworkSettings, attrs: Mapping[str, Any]) -> Segment:
    """The segment an admin asked for (provider attributes), checked against the configuration; a
    VXLAN id is left None when not given, for `allocate` to choose."""
    network_type = attrs.get("provider:network_type") or "vxlan"
    physical = attrs.get("provider:physical_network")
    segmentation_id = attrs.get("provider:segmentation_id")
    if network_type not in NETWORK_TYPES:
        raise InvalidInput(f"Network type value '{network_type}' not supported (flat or vxlan).")
    if network_type == "flat":
        if segmentation_id is not None:
            raise InvalidInput("segmentation_id cannot be specified for flat network.")
        if not physical:
            raise InvalidInput("physical_network required for flat provider network.")
        if physical not in settings.flat_networks:
            raise InvalidInput(f"physical_network '{physical}' unknown for flat provider network.")
    else:
        if physical:
            raise InvalidInput("provider:physical_network specified for vxlan network.")
        first, last = settings.vxlan_first_id, settings.vxlan_last_id
        if segmentation_id is not None and not first <= segmentation_id <= last:
            raise InvalidInput(
                f"segmentation_id {segmentation_id} is outside the VXLAN range {first}:{last}."
            )
    return Segment(network_type, physical, segmentation_id, max_mtu(settings, network_type))


def check_mtu(largest: int, mtu: Any) -> int:
    if mtu is None:
        return largest
    if mtu < MIN_MTU:
        raise InvalidInput(f"Requested MTU {mtu} is too small, minimum is {MIN_MTU}.")
    if mtu > largest:
        raise InvalidInput(f"Requested MTU is too big, maximum is {largest}.")
    return int(mtu)


def free_vxlan_id(session: Session, settings: NetworkSettings) -> int:
    """The lowest VXLAN id of the range no network holds. Two transactions may pick the same one: the
    unique (network_type, segmentation_id) makes the second commit fail and its caller retry."""
    taken = set(
        session.scalars(
            select(Network.segmentation_id).where(
                Network.network_type == "vxlan", Network.segmentation_id.is_not(None)
            )
        )
    )
    for candidate in range(settings.vxlan_first_id, settings.vxlan_last_id + 1):
        if candidate not in taken:
            return candidate
    raise NoNetworkAvailable("Unable to create the network. No tenant network is available for allocation.")
