"""Subnet pools (Neutron's subnet_allocation, subnetpool-prefix-ops and default-subnetpools): create,
list, show, update, delete, add and remove prefixes, and the allocation of a subnet's CIDR.

A subnet created with `subnetpool_id` (or `use_default_subnetpool`) is given a CIDR from the pool in the
subnet's own write transaction, under the pool's row lock: of two subnets allocated at once, the second
sees the first's CIDR taken. Pools in one address scope never share a prefix; that check runs under
the scope's row lock for the same reason.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import AddressScope, Subnet, SubnetPool
from overcast.network import policies
from overcast.network.api import access, prefix_allocator, queries, records, tags
from overcast.network.api.errors import (
    AddressScopePrefixConflict,
    IllegalSubnetPoolAssociationToAddressScope,
    IllegalSubnetPoolIpVersionAssociationToAddressScope,
    IllegalSubnetPoolPrefixUpdate,
    InvalidInput,
    PrefixVersionMismatch,
    SubnetAllocationError,
    SubnetPoolInUse,
    SubnetPoolQuotaExceeded,
)
from overcast.network.api.networks import bump, check_revision, enforce, flag, owner_project
from overcast.network.api.prefix_allocator import Bounds, Prefix
from overcast.network.api.quotas import NetworkQuotas
from overcast.network.api.records import Record

IMMUTABLE = ("ip_version", "shared", "project_id", "tenant_id")
ATTRIBUTES: dict[str, queries.Attribute] = {
    "id": queries.Attribute("id"),
    "name": queries.Attribute("name"),
    "description": queries.Attribute("description"),
    "tenant_id": queries.Attribute("project_id"),
    "project_id": queries.Attribute("project_id"),
    "ip_version": queries.Attribute("ip_version", queries.as_int),
    "default_prefixlen": queries.Attribute("default_prefixlen", queries.as_int),
    "min_prefixlen": queries.Attribute("min_prefixlen", queries.as_int),
    "max_prefixlen": queries.Attribute("max_prefixlen", queries.as_int),
    "default_quota": queries.Attribute("default_quota", queries.as_int),
    "address_scope_id": queries.Attribute("address_scope_id"),
    "shared": queries.Attribute("shared", queries.as_bool),
    "is_default": queries.Attribute("is_default", queries.as_bool),
    "revision_number": queries.Attribute("revision_number", queries.as_int),
    "created_at": queries.Attribute("created_at", queries.as_time),
    "updated_at": queries.Attribute("updated_at", queries.as_time),
}


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"Invalid input for name. Reason: '{value}' Blank strings are not permitted.")
    return value


def _default_quota(value: Any) -> int | None:
    return None if value is None else prefix_allocator.prefix_length(value, "default_quota")


def _optional_length(attrs: Mapping[str, Any], name: str) -> int | None:
    value = attrs.get(name)
    return None if value is None else prefix_allocator.prefix_length(value, name)


def _taken(session: Session, pool_id: str) -> list[Prefix]:
    cidrs = session.scalars(select(Subnet.cidr).where(Subnet.subnetpool_id == pool_id))
    return [prefix_allocator.parse_prefix(cidr) for cidr in cidrs]


def _check_scope(session: Session, pool: SubnetPool, prefixes: Sequence[Prefix]) -> None:
    """A pool may join a scope of its IP version that is its project's or shared, and only with prefixes
    no other pool of the scope has. Locks the scope, so two pools cannot join with one prefix at once."""
    if pool.address_scope_id is None:
        return
    scope = session.scalars(
        select(AddressScope).where(AddressScope.id == pool.address_scope_id).with_for_update()
    ).one()
    if scope.project_id != pool.project_id and not scope.shared:
        raise IllegalSubnetPoolAssociationToAddressScope(
            f"Illegal subnetpool association: subnetpool {pool.id} cannot be associated with address scope "
            f"{scope.id}."
        )
    if scope.ip_version != pool.ip_version:
        raise IllegalSubnetPoolIpVersionAssociationToAddressScope(
            f"Illegal subnetpool association: subnetpool {pool.id} cannot associate with address scope "
            f"{scope.id} because subnetpool ip_version is not {scope.ip_version}."
        )
    others = session.scalars(
        select(SubnetPool.prefixes).where(SubnetPool.address_scope_id == scope.id, SubnetPool.id != pool.id)
    )
    theirs = [prefix for listed in others for prefix in prefix_allocator.stored(listed)]
    if prefix_allocator.overlapping(prefixes, theirs):
        raise AddressScopePrefixConflict(
            "Failed to associate address scope: subnetpools within an address scope must have unique "
            "prefixes."
        )


def _check_single_default(session: Session, pool: SubnetPool) -> None:
    if not pool.is_default:
        return
    other = session.scalar(
        select(SubnetPool.id).where(
            SubnetPool.is_default, SubnetPool.ip_version == pool.ip_version, SubnetPool.id != pool.id
        )
    )
    if other is not None:
        raise InvalidInput(
            "A default subnetpool for this IP family has already been set. Only one default may exist per "
            "IP family"
        )


def _scope_id(ctxt: RequestContext, session: Session, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not access.is_uuid(value):
        raise InvalidInput(f"Invalid input for address_scope_id. Reason: '{value}' is not a valid UUID.")
    return access.get_address_scope(session, ctxt, value).id


class SubnetPools:
    def __init__(self, db: Database, quotas: NetworkQuotas) -> None:
        self.db = db
        self.quotas = quotas

    def create(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Record:
        project = owner_project(ctxt, attrs)
        enforce(ctxt, policies.CREATE_SUBNETPOOL, project)
        for attribute in ("shared", "is_default"):
            # As Neutron's policy engine: on create, an attribute given its default is not set explicitly.
            if flag(attrs, attribute, False):
                enforce(ctxt, policies.attribute_rule(policies.CREATE_SUBNETPOOL, attribute), project)
        if "name" not in attrs:
            raise InvalidInput("Failed to parse request. Required attribute 'name' not specified")
        name = _name(attrs["name"])
        if "prefixes" not in attrs:
            raise InvalidInput("Failed to parse request. Required attribute 'prefixes' not specified")
        version, prefixes = prefix_allocator.parse_prefixes(attrs["prefixes"])
        bounds = Bounds.checked(
            version,
            _optional_length(attrs, "min_prefixlen"),
            _optional_length(attrs, "max_prefixlen"),
            _optional_length(attrs, "default_prefixlen"),
        )
        default_quota = _default_quota(attrs.get("default_quota"))
        tag_list = tags.check_tags(attrs.get("tags", []))

        def write(session: Session) -> Record:
            self.quotas.consume(session, project, {"subnetpool": 1})
            pool = SubnetPool(
                id=str(uuid.uuid4()),
                project_id=project,
                name=name,
                description=attrs.get("description") or "",
                ip_version=version,
                prefixes=[str(prefix) for prefix in prefixes],
                min_prefixlen=bounds.min_prefixlen,
                max_prefixlen=bounds.max_prefixlen,
                default_prefixlen=bounds.default_prefixlen,
                default_quota=default_quota,
                address_scope_id=_scope_id(ctxt, session, attrs.get("address_scope_id")),
                shared=flag(attrs, "shared", False),
                is_default=flag(attrs, "is_default", False),
                revision_number=0,
            )
            _check_scope(session, pool, prefixes)
            _check_single_default(session, pool)
            session.add(pool)
            session.flush()
            tags.replace(session, pool.id, tag_list)
            return records.subnetpool_records(session, [pool])[0]

        return self.db.write(write)

    def get(self, ctxt: RequestContext, pool_id: str) -> Record:
        enforce(ctxt, policies.GET_SUBNETPOOL, ctxt.project_id)
        with self.db.reader() as session:
            return records.subnetpool_records(session, [access.get_subnetpool(session, ctxt, pool_id)])[0]

    def list(self, ctxt: RequestContext, query: queries.ListQuery) -> list[Record]:
        enforce(ctxt, policies.GET_SUBNETPOOL, ctxt.project_id)
        with self.db.reader() as session:
            stmt = queries.filtered(
                select(SubnetPool).where(access.shared_or_owned(SubnetPool, ctxt)),
                SubnetPool,
                ATTRIBUTES,
                query.filters,
            )
            return records.subnetpool_records(
                session, queries.page(session, stmt, SubnetPool, ATTRIBUTES, query)
            )

    def update(
        self, ctxt: RequestContext, pool_id: str, attrs: Mapping[str, Any], *, revision: int | None = None
    ) -> Record:
        for attribute in IMMUTABLE:
            if attribute in attrs:
                raise InvalidInput(f"Cannot update read-only attribute {attribute}")
        name = _name(attrs["name"]) if "name" in attrs else None
        given = prefix_allocator.parse_prefixes(attrs["prefixes"]) if "prefixes" in attrs else None

        def write(session: Session) -> Record:
            pool = access.get_subnetpool(session, ctxt, pool_id, lock=True)
            check_revision(pool, revision)
            enforce(ctxt, policies.UPDATE_SUBNETPOOL, pool.project_id)
            if "is_default" in attrs:
                enforce(
                    ctxt, policies.attribute_rule(policies.UPDATE_SUBNETPOOL, "is_default"), pool.project_id
                )
                pool.is_default = flag(attrs, "is_default", False)
            prefixes = prefix_allocator.stored(pool.prefixes)
            if given is not None:
                prefixes = self._extended(pool, prefixes, *given)
            bounds = Bounds.checked(
                pool.ip_version,
                _optional_length(attrs, "min_prefixlen") if "min_prefixlen" in attrs else pool.min_prefixlen,
                _optional_length(attrs, "max_prefixlen") if "max_prefixlen" in attrs else pool.max_prefixlen,
                (
                    _optional_length(attrs, "default_prefixlen")
                    if "default_prefixlen" in attrs
                    else pool.default_prefixlen
                ),
            )
            pool.min_prefixlen = bounds.min_prefixlen
            pool.max_prefixlen = bounds.max_prefixlen
            pool.default_prefixlen = bounds.default_prefixlen
            if "default_quota" in attrs:
                pool.default_quota = _default_quota(attrs["default_quota"])
            if "address_scope_id" in attrs:
                pool.address_scope_id = _scope_id(ctxt, session, attrs["address_scope_id"])
            pool.prefixes = [str(prefix) for prefix in prefixes]
            _check_scope(session, pool, prefixes)
            _check_single_default(session, pool)
            if name is not None:
                pool.name = name
            if "description" in attrs:
                pool.description = attrs["description"] or ""
            bump(pool)
            session.flush()
            return records.subnetpool_records(session, [pool])[0]

        return self.db.write(write)

    @staticmethod
    def _extended(
        pool: SubnetPool, prefixes: builtins.list[Prefix], version: int, wanted: builtins.list[Prefix]
    ) -> builtins.list[Prefix]:
        """A pool only grows through an update: every address it has must stay (remove_prefixes shrinks)."""
        if version != pool.ip_version:
            raise PrefixVersionMismatch("Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
        merged = prefix_allocator.collapse([*prefixes, *wanted])
        if merged != wanted:
            raise IllegalSubnetPoolPrefixUpdate(
                "Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes."
            )
        return merged

    def delete(self, ctxt: RequestContext, pool_id: str, *, revision: int | None = None) -> None:
        def write(session: Session) -> None:
            pool = access.get_subnetpool(session, ctxt, pool_id, lock=True)
            check_revision(pool, revision)
            enforce(ctxt, policies.DELETE_SUBNETPOOL, pool.project_id)
            if session.scalar(select(exists().where(Subnet.subnetpool_id == pool.id))):
                raise SubnetPoolInUse(
                    f"Unable to complete operation on subnet pool {pool.id}. Subnet pool has existing "
                    "allocations."
                )
            tags.remove_all(session, pool.id)
            session.delete(pool)
            self.quotas.release(session, pool.project_id, {"subnetpool": 1})

        self.db.write(write)

    def add_prefixes(self, ctxt: RequestContext, pool_id: str, given: Any) -> builtins.list[str]:
        version, added = prefix_allocator.parse_prefixes(given)

        def write(session: Session) -> builtins.list[str]:
            pool = access.get_subnetpool(session, ctxt, pool_id, lock=True)
            enforce(ctxt, policies.ADD_PREFIXES, pool.project_id)
            if version != pool.ip_version:
                raise PrefixVersionMismatch("Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
            prefixes = prefix_allocator.collapse([*prefix_allocator.stored(pool.prefixes), *added])
            _check_scope(session, pool, prefixes)
            pool.prefixes = [str(prefix) for prefix in prefixes]
            bump(pool)
            return list(pool.prefixes)

        return self.db.write(write)

    def remove_prefixes(self, ctxt: RequestContext, pool_id: str, given: Any) -> builtins.list[str]:
        version, removed = prefix_allocator.parse_prefixes(given)

        def write(session: Session) -> builtins.list[str]:
            pool = access.get_subnetpool(session, ctxt, pool_id, lock=True)
            enforce(ctxt, policies.REMOVE_PREFIXES, pool.project_id)
            if version != pool.ip_version:
                raise PrefixVersionMismatch("Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
            in_use = [
                cidr for cidr in _taken(session, pool.id) if prefix_allocator.overlapping([cidr], removed)
            ]
            if in_use:
                raise IllegalSubnetPoolPrefixUpdate(
                    f"Illegal update to prefixes: {in_use[0]} is allocated to a subnet of the pool."
                )
            remaining = prefix_allocator.without(prefix_allocator.stored(pool.prefixes), removed)
            if not remaining:
                raise IllegalSubnetPoolPrefixUpdate(
                    "Illegal update to prefixes: a subnet pool keeps at least one prefix."
                )
            pool.prefixes = [str(prefix) for prefix in remaining]
            bump(pool)
            return list(pool.prefixes)

        return self.db.write(write)

    # --- in a subnet's create transaction ----------------------------------------------------------------
    @staticmethod
    def default_pool_id(session: Session, ctxt: RequestContext, ip_version: int) -> str:
        """use_default_subnetpool: the pool of the IP version an admin made the default."""
        pool_id = session.scalar(
            select(SubnetPool.id).where(
                SubnetPool.is_default,
                SubnetPool.ip_version == ip_version,
                access.shared_or_owned(SubnetPool, ctxt),
            )
        )
        if pool_id is None:
            raise InvalidInput("No default subnetpools defined")
        return pool_id

    @staticmethod
    def allocate(
        session: Session,
        ctxt: RequestContext,
        project: str,
        pool_id: str,
        ip_version: int,
        cidr: Prefix | None,
        prefixlen: int | None,
    ) -> Prefix:
        """The CIDR a new subnet of `project` takes from the pool: the one it asked for if free, else the
        first free block of `prefixlen` (the pool's default when None). Holds the pool's row lock."""
        pool = access.get_subnetpool(session, ctxt, pool_id, lock=True)
        if pool.ip_version != ip_version:
            raise InvalidInput(
                f"Cannot allocate IPv{ip_version} subnet from IPv{pool.ip_version} subnet pool"
            )
        bounds = Bounds(pool.min_prefixlen, pool.max_prefixlen, pool.default_prefixlen)
        prefixes = prefix_allocator.stored(pool.prefixes)
        taken = _taken(session, pool.id)
        if cidr is not None:
            bounds.check(cidr.prefixlen)
            if not prefix_allocator.is_free(prefixes, taken, cidr):
                raise SubnetAllocationError(
                    "Failed to allocate subnet: Cannot allocate requested subnet from the available set of "
                    "prefixes."
                )
            allocated = cidr
        else:
            length = pool.default_prefixlen if prefixlen is None else prefixlen
            bounds.check(length)
            found = prefix_allocator.first_free(prefixes, taken, length)
            if found is None:
                raise SubnetAllocationError(
                    f"Failed to allocate subnet: Insufficient prefix space to allocate subnet size /{length}."
                )
            allocated = found
        if pool.default_quota is not None:
            own = session.scalars(
                select(Subnet.cidr).where(Subnet.subnetpool_id == pool.id, Subnet.project_id == project)
            )
            used = sum(prefix_allocator.quota_units(prefix_allocator.parse_prefix(text)) for text in own)
            if used + prefix_allocator.quota_units(allocated) > pool.default_quota:
                raise SubnetPoolQuotaExceeded("Per-tenant subnet pool prefix quota exceeded.")
        return allocated
