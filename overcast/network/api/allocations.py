"""IP and MAC allocation inside a write transaction that holds the network's row lock.

The lock (`access.get_network(lock=True)` / `access.lock_network`) serialises the allocations of one
network; the primary key of `ip_allocations` (network, address) and the unique (network, MAC) of `ports`
are what makes two ports holding one address impossible even so.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from overcast.db.models.network import IPAllocation, Port, Subnet
from overcast.network.api import ipam
from overcast.network.api.errors import (
    InvalidInput,
    IpAddressAlreadyAllocated,
    IpAddressGenerationFailure,
    MacAddressInUse,
)

# A random MAC collides within a network once in 16 million tries; this many in a row means trouble.
MAC_ATTEMPTS = 16


@dataclass(frozen=True)
class FixedIPRequest:
    """One entry of a port's fixed_ips: a subnet, an address, or both."""

    subnet_id: str | None
    ip_address: str | None

    @classmethod
    def parse(cls, value: Any) -> FixedIPRequest:
        if not isinstance(value, Mapping) or not set(value) <= {"subnet_id", "ip_address"} or not value:
            raise InvalidInput(f"Invalid data format for fixed IP: '{value}'")
        subnet_id, address = value.get("subnet_id"), value.get("ip_address")
        if subnet_id is not None and not isinstance(subnet_id, str):
            raise InvalidInput(f"Invalid data format for fixed IP: '{value}'")
        return cls(subnet_id, str(ipam.parse_ip(address)) if address is not None else None)


def network_subnets(session: Session, network_id: str) -> list[Subnet]:
    return list(
        session.scalars(
            select(Subnet).where(Subnet.network_id == network_id).order_by(Subnet.created_at, Subnet.id)
        )
    )


def taken_in(session: Session, subnet: Subnet) -> set[int]:
    query = select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet.id)
    return {int(ipaddress.IPv4Address(address)) for address in session.scalars(query)}


def _subnet_for(subnets: Sequence[Subnet], network_id: str, request: FixedIPRequest) -> Subnet:
    if request.subnet_id is not None:
        subnet = next((subnet for subnet in subnets if subnet.id == request.subnet_id), None)
        if subnet is None:
            raise InvalidInput(
                f"Failed to create port on network {network_id}, because fixed_ips included "
                f"invalid subnet {request.subnet_id}."
            )
        if request.ip_address is not None and ipaddress.IPv4Address(
            request.ip_address
        ) not in ipaddress.IPv4Network(subnet.cidr):
            raise InvalidInput(f"IP address {request.ip_address} is not a valid IP for the specified subnet.")
        return subnet
    assert request.ip_address is not None
    address = ipaddress.IPv4Address(request.ip_address)
    subnet = next((subnet for subnet in subnets if address in ipaddress.IPv4Network(subnet.cidr)), None)
    if subnet is None:
        raise InvalidInput(
            f"IP address {address} is not a valid IP for any of the subnets on the specified network."
        )
    return subnet


def _check_chosen(session: Session, subnet: Subnet, address: str, *, router_port: bool) -> None:
    cidr = ipaddress.IPv4Network(subnet.cidr)
    first, last = ipam.hosts(cidr)
    if not first <= int(ipaddress.IPv4Address(address)) <= last:
        raise InvalidInput(f"IP address {address} is not a valid IP for the specified subnet.")
    if address == subnet.gateway_ip and not router_port:
        raise IpAddressAlreadyAllocated(
            f"IP address {address} already allocated in subnet {subnet.id}: it is the subnet's gateway."
        )
    if session.get(IPAllocation, (subnet.network_id, address)) is not None:
        raise IpAddressAlreadyAllocated(f"IP address {address} already allocated in subnet {subnet.id}")


def allocate(
    session: Session, port: Port, requests: Sequence[FixedIPRequest] | None, *, router_port: bool = False
) -> None:
    """Give `port` its addresses: those asked for, or one from the first subnet with room."""
    subnets = network_subnets(session, port.network_id)
    if requests is None:
        for subnet in subnets:
            address = ipam.first_free(ipam.stored_pools(subnet.allocation_pools), taken_in(session, subnet))
            if address is not None:
                _add(session, port, subnet, str(address))
                return
        if subnets:
            raise IpAddressGenerationFailure(f"No more IP addresses available on network {port.network_id}.")
        return
    seen: set[tuple[str | None, str | None]] = set()
    for request in requests:
        if (request.subnet_id, request.ip_address) in seen:
            raise InvalidInput(f"Duplicate fixed IP {request} in the request.")
        seen.add((request.subnet_id, request.ip_address))
        subnet = _subnet_for(subnets, port.network_id, request)
        if request.ip_address is not None:
            _check_chosen(session, subnet, request.ip_address, router_port=router_port)
            _add(session, port, subnet, request.ip_address)
            continue
        address = ipam.first_free(ipam.stored_pools(subnet.allocation_pools), taken_in(session, subnet))
        if address is None:
            raise IpAddressGenerationFailure(f"No more IP addresses available on subnet {subnet.id}.")
        _add(session, port, subnet, str(address))


def _add(session: Session, port: Port, subnet: Subnet, address: str) -> None:
    session.add(
        IPAllocation(network_id=port.network_id, ip_address=address, subnet_id=subnet.id, port_id=port.id)
    )
    session.flush()


def release(session: Session, port_id: str) -> None:
    session.execute(delete(IPAllocation).where(IPAllocation.port_id == port_id))


def release_in_subnet(session: Session, port_id: str, subnet_id: str) -> None:
    session.execute(
        delete(IPAllocation).where(IPAllocation.port_id == port_id, IPAllocation.subnet_id == subnet_id)
    )


def choose_mac(
    session: Session, network_id: str, wanted: str | None, base_mac: str, rng: random.Random
) -> str:
    def in_use(mac: str) -> bool:
        query = select(Port.id).where(Port.network_id == network_id, Port.mac_address == mac)
        return session.scalars(query).first() is not None

    if wanted is not None:
        mac = ipam.parse_mac(wanted)
        if in_use(mac):
            raise MacAddressInUse(
                f"Unable to complete operation for network {network_id}. The mac address {mac} is in use."
            )
        return mac
    for _ in range(MAC_ATTEMPTS):
        mac = ipam.generate_mac(base_mac, rng)
        if not in_use(mac):
            return mac
    raise MacAddressInUse(f"Unable to generate a unique mac address on network {network_id}.")


def service_port(
    session: Session,
    network_id: str,
    project_id: str,
    device_owner: str,
    device_id: str,
    requests: Sequence[FixedIPRequest] | None,
    base_mac: str,
    rng: random.Random,
) -> Port:
    """A port the network service makes for itself (a router's gateway or interface, a floating IP's
    address), under the network's lock like any other; it counts against no project's port quota."""
    port = Port(
        id=str(uuid.uuid4()),
        network_id=network_id,
        project_id=project_id,
        name="",
        description="",
        mac_address=choose_mac(session, network_id, None, base_mac, rng),
        admin_state_up=True,
        status="DOWN",
        device_id=device_id,
        device_owner=device_owner,
        binding_host_id="",
        port_security_enabled=False,
        allowed_address_pairs=[],
        revision_number=0,
    )
    session.add(port)
    session.flush()
    allocate(session, port, requests, router_port=device_owner.startswith("network:router"))
    return port


def held_by(session: Session, port_id: str) -> list[IPAllocation]:
    return list(session.scalars(select(IPAllocation).where(IPAllocation.port_id == port_id)))
