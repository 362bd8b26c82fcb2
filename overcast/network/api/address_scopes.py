"""Address scopes (Neutron's address-scope extension): create, list, show, update, delete.

A scope groups subnet pools of one IP version whose prefixes never overlap (see `subnet_pools.py`); a
shared scope is visible to every project and any project's pool may join it. A scope a pool uses
cannot be deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import AddressScope, SubnetPool
from overcast.network import policies
from overcast.network.api import access, queries, records
from overcast.network.api.errors import AddressScopeInUse, AddressScopeUpdateError, InvalidInput
from overcast.network.api.networks import enforce, flag, owner_project
from overcast.network.api.records import Record

IP_VERSIONS = (4, 6)
ATTRIBUTES: dict[str, queries.Attribute] = {
    "id": queries.Attribute("id"),
    "name": queries.Attribute("name"),
    "tenant_id": queries.Attribute("project_id"),
    "project_id": queries.Attribute("project_id"),
    "shared": queries.Attribute("shared", queries.as_bool),
    "ip_version": queries.Attribute("ip_version", queries.as_int),
}


def ip_version(value: Any) -> int:
    """4 or 6 (Neutron converts "4" too)."""
    if isinstance(value, str) and value.strip() in ("4", "6"):
        return int(value)
    if isinstance(value, bool) or value not in IP_VERSIONS:
        raise InvalidInput(f"Invalid input for ip_version. Reason: {value!r} is not in [4, 6].")
    return int(value)


class AddressScopes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Record:
        project = owner_project(ctxt, attrs)
        enforce(ctxt, policies.CREATE_ADDRESS_SCOPE, project)
        if "ip_version" not in attrs:
            raise InvalidInput("Failed to parse request. Required attribute 'ip_version' not specified")
        version = ip_version(attrs["ip_version"])
        shared = flag(attrs, "shared", False)
        # As Neutron's policy engine: on create, an attribute given its default is not set explicitly.
        if shared:
            enforce(ctxt, policies.attribute_rule(policies.CREATE_ADDRESS_SCOPE, "shared"), project)

        def write(session: Session) -> Record:
            scope = AddressScope(
                id=str(uuid.uuid4()),
                project_id=project,
                name=attrs.get("name") or "",
                ip_version=version,
                shared=shared,
            )
            session.add(scope)
            session.flush()
            return records.address_scope_records([scope])[0]

        return self.db.write(write)

    def get(self, ctxt: RequestContext, scope_id: str) -> Record:
        enforce(ctxt, policies.GET_ADDRESS_SCOPE, ctxt.project_id)
        with self.db.reader() as session:
            return records.address_scope_records([access.get_address_scope(session, ctxt, scope_id)])[0]

    def list(self, ctxt: RequestContext, query: queries.ListQuery) -> list[Record]:
        enforce(ctxt, policies.GET_ADDRESS_SCOPE, ctxt.project_id)
        with self.db.reader() as session:
            stmt = queries.filtered(
                select(AddressScope).where(access.shared_or_owned(AddressScope, ctxt)),
                AddressScope,
                ATTRIBUTES,
                query.filters,
            )
            return records.address_scope_records(queries.page(session, stmt, AddressScope, ATTRIBUTES, query))

    def update(self, ctxt: RequestContext, scope_id: str, attrs: Mapping[str, Any]) -> Record:
        for attribute in ("ip_version", "project_id", "tenant_id"):
            if attribute in attrs:
                raise InvalidInput(f"Cannot update read-only attribute {attribute}")

        def write(session: Session) -> Record:
            scope = access.get_address_scope(session, ctxt, scope_id, lock=True)
            enforce(ctxt, policies.UPDATE_ADDRESS_SCOPE, scope.project_id)
            if "shared" in attrs:
                shared = flag(attrs, "shared", False)
                enforce(
                    ctxt, policies.attribute_rule(policies.UPDATE_ADDRESS_SCOPE, "shared"), scope.project_id
                )
                if scope.shared and not shared:
                    # Other projects' pools may have joined it while it was shared.
                    raise AddressScopeUpdateError(
                        f"Unable to update address scope {scope.id} : Shared address scope can't be unshared."
                    )
                scope.shared = shared
            if "name" in attrs:
                scope.name = attrs["name"] or ""
            session.flush()
            return records.address_scope_records([scope])[0]

        return self.db.write(write)

    def delete(self, ctxt: RequestContext, scope_id: str) -> None:
        def write(session: Session) -> None:
            scope = access.get_address_scope(session, ctxt, scope_id, lock=True)
            enforce(ctxt, policies.DELETE_ADDRESS_SCOPE, scope.project_id)
            if session.scalar(select(exists().where(SubnetPool.address_scope_id == scope.id))):
                raise AddressScopeInUse(
                    f"Unable to complete operation on address scope {scope.id}. There are one or more "
                    "subnet pools in use on the address scope."
                )
            session.delete(scope)

        self.db.write(write)
