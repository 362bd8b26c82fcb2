"""A server create's `networks` and `security_groups`, checked against the network service and resolved
into what the compute host builds the server's ports from.

The result goes into the instance's system metadata in the create transaction: `requested_networks`, a
list of `{"network_id", "fixed_ip"?}` and `{"port_id"}` items (`[]`: no network, the guest keeps the
driver's own user-mode networking), and `security_group_ids`, the groups the host gives the ports it
makes. The host creates the ports (as Nova's compute manager does), so nothing here writes a port.

"auto" with no usable network is Nova's get-me-a-network (2.37): `allocate_auto_network` has the network
service make the project's network, subnet and router, before the create transaction, which then finds
that network as the project's only one. Without a default external network (`is_default`) there is
nothing to route it to, and the server keeps the driver's user-mode networking instead of Nova's 400,
so the CLI's "auto" on a laptop without networks still boots.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db.models.network import IPAllocation, Network, Port, SecurityGroup, Subnet
from overcast.network.api import access
from overcast.network.api.auto_topology import AutoAllocationFailure
from overcast.network.api.errors import NetworkNotFound, PortNotFound
from overcast.network.api.service import NetworkAPI

# What a create names: "auto", "none", None (no `networks` key) or its list of items.
NetworksRequest = str | Sequence[dict[str, Any]] | None


class NetworkAmbiguous(errors.Conflict):
    default_message = "Multiple possible networks found, use a Network ID to be more specific."


class RequestedNotFound(errors.BadRequest):
    """A network or port the request names does not exist for the caller: a 400 on create, where Nova
    validates the whole request, and a 404 on os-interface's attach."""


def resolve_networks(
    session: Session, ctxt: RequestContext, networks: NetworksRequest, count: int
) -> list[dict[str, str]]:
    """The ports the host will make or bind for each server of this request (Nova's messages and codes)."""
    if networks == "none":
        return []
    if networks is None or isinstance(networks, str) or not networks:
        # "auto" found its network in allocate_auto_network if the cloud can route one; else, like a
        # cloud without networks at all, the server keeps the driver's user-mode networking.
        return only_usable_network(session, ctxt)
    return [_resolve_item(session, ctxt, item, count) for item in networks]


def allocate_auto_network(network: NetworkAPI, ctxt: RequestContext, networks: NetworksRequest) -> None:
    """Get-me-a-network for an "auto" request of a project with no usable network, when the cloud has a
    default external network (Nova's 400 if it cannot be made). Runs outside the create transaction: the
    network service writes in its own."""
    if networks != "auto" or not ctxt.project_id:
        return
    with network.db.reader() as session:
        if _usable_networks(session, ctxt):
            return
    try:
        network.auto_topology.default_external_network()
    except AutoAllocationFailure:
        return
    try:
        network.auto_topology.allocate(ctxt, ctxt.project_id)
    except errors.OvercastError as error:
        raise errors.BadRequest(
            f"Unable to automatically allocate a network for project {ctxt.project_id}: {error}"
        ) from None


def _usable_networks(session: Session, ctxt: RequestContext) -> list[str]:
    return list(
        session.scalars(
            select(Network.id)
            .where(or_(Network.shared, (Network.project_id == ctxt.project_id) & ~Network.external))
            .limit(2)
        )
    )


def only_usable_network(session: Session, ctxt: RequestContext) -> list[dict[str, str]]:
    """The project's own networks and the shared ones; more than one is Nova's 409."""
    usable = _usable_networks(session, ctxt)
    if len(usable) > 1:
        raise NetworkAmbiguous()
    if not usable:
        return []
    _require_subnet(session, usable[0])
    return [{"network_id": usable[0]}]


def _resolve_item(session: Session, ctxt: RequestContext, item: dict[str, Any], count: int) -> dict[str, str]:
    port_id, network_id, fixed_ip = item.get("port"), item.get("uuid"), item.get("fixed_ip")
    if port_id:
        if fixed_ip:
            raise errors.BadRequest(
                f"Specified Fixed IP '{fixed_ip}' cannot be used with port '{port_id}': the two cannot be "
                "specified together."
            )
        return _resolve_port(session, ctxt, str(port_id), count)
    if not network_id:
        raise errors.BadRequest("Bad networks format: network uuid is not in proper format ()")
    try:
        network = access.get_network(session, ctxt, str(network_id))
    except NetworkNotFound:
        raise RequestedNotFound(f"Network {network_id} could not be found.") from None
    if network.external and not network.shared and not ctxt.is_admin:
        raise errors.Forbidden(f"It is not allowed to create an interface on external network {network.id}")
    subnets = _require_subnet(session, network.id)
    if not fixed_ip:
        return {"network_id": network.id}
    if count > 1:
        raise errors.BadRequest(
            "Failed to launch instances: max_count cannot be greater than 1 if an fixed_ip is specified."
        )
    return {"network_id": network.id, "fixed_ip": _free_address(session, network.id, str(fixed_ip), subnets)}


def _resolve_port(session: Session, ctxt: RequestContext, port_id: str, count: int) -> dict[str, str]:
    if count > 1:
        raise errors.BadRequest(
            "Failed to launch instances: Unable to launch multiple instances with a single configured port "
            "ID. Please launch your instance one by one with different ports."
        )
    try:
        port = access.get_port(session, ctxt, port_id)
    except PortNotFound:
        raise RequestedNotFound(f"Port id {port_id} could not be found.") from None
    if port.device_id or port.device_owner:
        raise errors.Conflict(f"Port {port.id} is still in use.")
    if (
        session.scalar(select(IPAllocation.ip_address).where(IPAllocation.port_id == port.id).limit(1))
        is None
    ):
        raise errors.BadRequest(f"Port {port.id} requires a FixedIP in order to be used.")
    return {"port_id": port.id}


def _require_subnet(session: Session, network_id: str) -> list[Subnet]:
    subnets = list(session.scalars(select(Subnet).where(Subnet.network_id == network_id)))
    if not subnets:
        raise errors.BadRequest(f"Network {network_id} requires a subnet in order to boot instances on.")
    return subnets


def _free_address(session: Session, network_id: str, fixed_ip: str, subnets: list[Subnet]) -> str:
    try:
        address = ipaddress.ip_address(fixed_ip)
    except ValueError:
        raise errors.BadRequest(f"Invalid fixed IP address ({fixed_ip})") from None
    if not any(address in ipaddress.ip_network(subnet.cidr) for subnet in subnets):
        raise errors.BadRequest(
            f"Invalid input received: Fixed IP {address} is not a valid ip address for network {network_id}."
        )
    holder = session.scalar(
        select(Port.device_id)
        .join(IPAllocation, IPAllocation.port_id == Port.id)
        .where(IPAllocation.network_id == network_id, IPAllocation.ip_address == str(address))
    )
    if holder is not None:
        raise errors.BadRequest(f"Fixed IP address {address} is already in use on instance {holder}.")
    return str(address)


def resolve_security_groups(
    session: Session, ctxt: RequestContext, names: Sequence[str]
) -> list[tuple[str, str]]:
    """(id, name) of each of the project's groups `names` names, by name or by id (the CLI sends ids in
    the name field)."""
    resolved: dict[str, str] = {}
    for name in dict.fromkeys(names):
        found = list(
            session.execute(
                select(SecurityGroup.id, SecurityGroup.name)
                .where(SecurityGroup.project_id == ctxt.project_id)
                .where(or_(SecurityGroup.id == name, SecurityGroup.name == name))
                .limit(2)
            )
        )
        if len(found) > 1:
            raise errors.Conflict(
                f"Multiple security groups found matching '{name}'. Use an ID to be more specific."
            )
        if not found:
            raise errors.BadRequest(f"Security group {name} not found for project {ctxt.project_id}.")
        resolved[found[0].id] = found[0].name
    return list(resolved.items())
