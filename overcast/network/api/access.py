"""What a caller may see, and the lookups every operation starts from (another project's is a 404).

A network is visible to its project, to everyone when shared or external, and to admins. A subnet is
visible with its project or its network's sharing; a port to its project and to its network's owner.
Ids that are not UUIDs name nothing (clients look an id up first, then try it as a name).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

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
from overcast.errors import OvercastError
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


# The tables `visible_row` finds rows in.
Row = TypeVar("Row", Network, Subnet, Port, SecurityGroup, Router, FloatingIP, AddressScope, SubnetPool)


def visible_row(
    session: Session,
    model: type[Row],
    row_id: str,
    visible: ColumnElement[bool],
    not_found: Callable[[], OvercastError],
    *,
    lock: bool = False,
) -> Row:
    """The row `row_id` names if the `visible` clause lets the caller see it, else `not_found()`; `lock`
    holds the row until the transaction ends (what serialises the changes that depend on it)."""
    if not is_uuid(row_id):
        raise not_found()
    query = select(model).where(model.id == row_id.lower(), visible)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalars(query).first()
    if row is None:
        raise not_found()
    return row


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
    """The network if `ctxt` may see it; `lock` serialises subnet and port changes on one network
    (SQLite's writer lock does it anyway)."""

    def not_found() -> NetworkNotFound:
        return NetworkNotFound(f"Network {network_id} could not be found.")

    return visible_row(session, Network, network_id, network_visible(ctxt), not_found, lock=lock)


def get_subnet(session: Session, ctxt: RequestContext, subnet_id: str) -> Subnet:
    return visible_row(
        session, Subnet, subnet_id, subnet_visible(ctxt), lambda: subnet_not_found(subnet_id)
    )


def get_port(session: Session, ctxt: RequestContext, port_id: str) -> Port:
    return visible_row(session, Port, port_id, port_visible(ctxt), lambda: port_not_found(port_id))


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
    return visible_row(
        session, SecurityGroup, group_id, security_group_visible(ctxt),
        lambda: security_group_not_found(group_id), lock=lock,
    )  # fmt: skip


def owned(model: type[Router] | type[FloatingIP], ctxt: RequestContext) -> ColumnElement[bool]:
    """Routers and floating IPs are their project's alone."""
    if ctxt.is_admin:
        return true()
    return model.project_id == ctxt.project_id if ctxt.project_id else false()


def get_router(session: Session, ctxt: RequestContext, router_id: str, *, lock: bool = False) -> Router:
    def not_found() -> RouterNotFound:
        return RouterNotFound(f"Router {router_id} could not be found")

    return visible_row(session, Router, router_id, owned(Router, ctxt), not_found, lock=lock)


def get_floating_ip(
    session: Session, ctxt: RequestContext, floating_ip_id: str, *, lock: bool = False
) -> FloatingIP:
    def not_found() -> FloatingIPNotFound:
        return FloatingIPNotFound(f"Floating IP {floating_ip_id} could not be found")

    return visible_row(session, FloatingIP, floating_ip_id, owned(FloatingIP, ctxt), not_found, lock=lock)


def subnet_not_found(subnet_id: str) -> SubnetNotFound:
    return SubnetNotFound(f"Subnet {subnet_id} could not be found.")


def port_not_found(port_id: str) -> PortNotFound:
    return PortNotFound(f"Port {port_id} could not be found.")


def shared_or_owned(
    model: type[AddressScope] | type[SubnetPool], ctxt: RequestContext
) -> ColumnElement[bool]:
    """Address scopes and subnet pools are their project's, and a shared one everyone's."""
    if ctxt.is_admin:
        return true()
    if ctxt.project_id is None:
        return model.shared.is_(True)
    return or_(model.project_id == ctxt.project_id, model.shared)


def get_address_scope(
    session: Session, ctxt: RequestContext, scope_id: str, *, lock: bool = False
) -> AddressScope:
    """The scope if `ctxt` may see it; `lock` serialises its pools' prefix checks."""

    def not_found() -> AddressScopeNotFound:
        return AddressScopeNotFound(f"Address scope {scope_id} could not be found.")

    visible = shared_or_owned(AddressScope, ctxt)
    return visible_row(session, AddressScope, scope_id, visible, not_found, lock=lock)


def get_subnetpool(session: Session, ctxt: RequestContext, pool_id: str, *, lock: bool = False) -> SubnetPool:
    """The pool if `ctxt` may see it; `lock` serialises allocations from it."""

    def not_found() -> SubnetPoolNotFound:
        return SubnetPoolNotFound(f"Subnet pool {pool_id} could not be found.")

    visible = shared_or_owned(SubnetPool, ctxt)
    return visible_row(session, SubnetPool, pool_id, visible, not_found, lock=lock)
