"""What a caller may see, and the lookups every operation starts from (another project's is a 404).

A network is visible to its project, to everyone when shared or external, and to admins. A subnet is
visible with its project or its network's sharing; a port to its project and to its network's owner.
Ids that are not UUIDs name nothing (clients look an id up first, then try it as a name).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.models.network import (
    AddressScope,
    FloatingIP,
    Network,
    Port,
    Router,
    SecurityGroup,
    Subnet,
    SubnetPool,
)
from overcast.network.api.errors import (
    AddressScopeNotFound,
    FloatingIPNotFound,
    NetworkNotFound,
    PortNotFound,
    RouterNotFound,
    SecurityGroupNotFound,
    SubnetNotFound,
    SubnetPoolNotFound,
)


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except (ValueError, AttributeError, TypeError):
        return False


def network_visible(ctxt: RequestContext) -> ColumnElement[bool]:
    if ctxt.is_admin:
        return true()
    if ctxt.project_id is None:
        return or_(Network.shared, Network.external)
    return or_(Network.project_id == ctxt.project_id, Network.shared, Network.external)


def _owned_network_ids(ctxt: RequestContext) -> Select[Any]:
    return select(Network.id).where(Network.project_id == ctxt.project_id)


def subnet_visible(ctxt: RequestContext) -> ColumnElement[bool]:
    if ctxt.is_admin:
        return true()
    shared = Subnet.network_id.in_(select(Network.id).where(Network.shared))
    if ctxt.project_id is None:
        return shared
    return or_(Subnet.project_id == ctxt.project_id, shared, Subnet.network_id.in_(_owned_network_ids(ctxt)))


def port_visible(ctxt: RequestContext) -> ColumnElement[bool]:
    if ctxt.is_admin:
        return true()
    if ctxt.project_id is None:
        return false()
    return or_(Port.project_id == ctxt.project_id, Port.network_id.in_(_owned_network_ids(ctxt)))


def get_network(session: Session, ctxt: RequestContext, network_id: str, *, lock: bool = False) -> Network:
    """The network if `ctxt` may see it; `lock` holds its row until the transaction ends, which is what
    serialises subnet and port changes on one network (SQLite's writer lock does it anyway)."""
    if not is_uuid(network_id):
        raise NetworkNotFound(f"Network {network_id} could not be found.")
    query = select(Network).where(Network.id == network_id.lower(), network_visible(ctxt))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    network = session.scalars(query).first()
    if network is None:
        raise NetworkNotFound(f"Network {network_id} could not be found.")
    return network


def get_subnet(session: Session, ctxt: RequestContext, subnet_id: str) -> Subnet:
    if not is_uuid(subnet_id):
        raise SubnetNotFound(f"Subnet {subnet_id} could not be found.")
    subnet = session.scalars(
        select(Subnet).where(Subnet.id == subnet_id.lower(), subnet_visible(ctxt))
    ).first()
    if subnet is None:
        raise SubnetNotFound(f"Subnet {subnet_id} could not be found.")
    return subnet


def get_port(session: Session, ctxt: RequestContext, port_id: str) -> Port:
    if not is_uuid(port_id):
        raise PortNotFound(f"Port {port_id} could not be found.")
    port = session.scalars(select(Port).where(Port.id == port_id.lower(), port_visible(ctxt))).first()
    if port is None:
        raise PortNotFound(f"Port {port_id} could not be found.")
    return port


def lock_network(session: Session, network_id: str) -> Network:
    """The network's row, locked until the transaction ends (the caller has already checked access)."""
    query = select(Network).where(Network.id == network_id).with_for_update()
    network = session.scalars(query.execution_options(populate_existing=True)).one()
    return network


def security_group_visible(ctxt: RequestContext) -> ColumnElement[bool]:
    if ctxt.is_admin:
        return true()
    return SecurityGroup.project_id == ctxt.project_id if ctxt.project_id else false()


def security_group_not_found(group_id: str) -> SecurityGroupNotFound:
    return SecurityGroupNotFound(f"Security group {group_id} does not exist")


def get_security_group(
    session: Session, ctxt: RequestContext, group_id: str, *, lock: bool = False
) -> SecurityGroup:
    """The group if `ctxt` may see it; `lock` serialises changes to its rules."""
    if not is_uuid(group_id):
        raise security_group_not_found(group_id)
    query = select(SecurityGroup).where(SecurityGroup.id == group_id.lower(), security_group_visible(ctxt))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    group = session.scalars(query).first()
    if group is None:
        raise security_group_not_found(group_id)
    return group


def owned(model: type[Router] | type[FloatingIP], ctxt: RequestContext) -> ColumnElement[bool]:
    """Routers and floating IPs are their project's alone."""
    if ctxt.is_admin:
        return true()
    return model.project_id == ctxt.project_id if ctxt.project_id else false()


def get_router(session: Session, ctxt: RequestContext, router_id: str, *, lock: bool = False) -> Router:
    if not is_uuid(router_id):
        raise RouterNotFound(f"Router {router_id} could not be found")
    query = select(Router).where(Router.id == router_id.lower(), owned(Router, ctxt))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    router = session.scalars(query).first()
    if router is None:
        raise RouterNotFound(f"Router {router_id} could not be found")
    return router


def get_floating_ip(
    session: Session, ctxt: RequestContext, floating_ip_id: str, *, lock: bool = False
) -> FloatingIP:
    if not is_uuid(floating_ip_id):
        raise FloatingIPNotFound(f"Floating IP {floating_ip_id} could not be found")
    query = select(FloatingIP).where(FloatingIP.id == floating_ip_id.lower(), owned(FloatingIP, ctxt))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = session.scalars(query).first()
    if found is None:
        raise FloatingIPNotFound(f"Floating IP {floating_ip_id} could not be found")
    return found


def subnet_not_found(subnet_id: str) -> SubnetNotFound:
    return SubnetNotFound(f"Subnet {subnet_id} could not be found.")


def port_not_found(port_id: str) -> PortNotFound:
    return PortNotFound(f"Port {port_id} could not be found.")


def address_scope_visible(ctxt: RequestContext) -> ColumnElement[bool]:
    if ctxt.is_admin:
        return true()
    if ctxt.project_id is None:
        return AddressScope.shared.is_(True)
    return or_(AddressScope.project_id == ctxt.project_id, AddressScope.shared)


def get_address_scope(
    session: Session, ctxt: RequestContext, scope_id: str, *, lock: bool = False
) -> AddressScope:
    """The scope if `ctxt` may see it (its own, shared ones); `lock` serialises its pools' prefix checks."""
    if not is_uuid(scope_id):
        raise AddressScopeNotFound(f"Address scope {scope_id} could not be found.")
    query = select(AddressScope).where(AddressScope.id == scope_id.lower(), address_scope_visible(ctxt))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    scope = session.scalars(query).first()
    if scope is None:
        raise AddressScopeNotFound(f"Address scope {scope_id} could not be found.")
    return scope


def subnetpool_visible(ctxt: RequestContext) -> ColumnElement[bool]:
    if ctxt.is_admin:
        return true()
    if ctxt.project_id is None:
        return SubnetPool.shared.is_(True)
    return or_(SubnetPool.project_id == ctxt.project_id, SubnetPool.shared)


def get_subnetpool(session: Session, ctxt: RequestContext, pool_id: str, *, lock: bool = False) -> SubnetPool:
    """The pool if `ctxt` may see it (its own, shared ones); `lock` serialises allocations from it."""
    if not is_uuid(pool_id):
        raise SubnetPoolNotFound(f"Subnet pool {pool_id} could not be found.")
    query = select(SubnetPool).where(SubnetPool.id == pool_id.lower(), subnetpool_visible(ctxt))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    pool = session.scalars(query).first()
    if pool is None:
        raise SubnetPoolNotFound(f"Subnet pool {pool_id} could not be found.")
    return pool
