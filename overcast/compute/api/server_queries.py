"""Reading servers: the list filters, sort keys and pages of GET /servers, and what a view needs beside
the instance row (fault, zone, lock, tags, host status, flavor), loaded in a few batched queries.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import re2
from sqlalchemy import ColumnElement, Select, and_, bindparam, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from overcast import errors, servicegroup
from overcast.compute import block_device_mappings, instances, network_info, states
from overcast.compute.api import tags
from overcast.compute.api.lookup import id_from_ref
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.context import RequestContext
from overcast.db.models.compute import Flavor, Instance, InstanceFault
from overcast.db.models.instance_actions import InstanceExtra
from overcast.db.models.server_groups import RequestSpecRecord, ServerGroup, ServerGroupMember
from overcast.db.models.service import ServiceRecord
from overcast.db.pagination import paginate
from overcast.db.types import as_json_text, json_from_text
from overcast.digits import DB_MAX_INT
from overcast.zones import host_zones

# System metadata keys of what the server views show (set at create, rebuild and lock).
LOCKED_REASON_KEY = "locked_reason"
TRUSTED_CERTS_KEY = "trusted_image_certificates"
IMAGE_PROPERTIES_KEY = "image_properties"
# Nova's osapi_max_limit: the most rows one list request returns.
MAX_LIMIT = 1000
# Nova's sort keys (its query schema's enum) and the columns they sort by here.
SORT_COLUMNS = {
    "access_ip_v4": "access_ip_v4", "access_ip_v6": "access_ip_v6", "auto_disk_config": "disk_config",
    "availability_zone": "availability_zone", "config_drive": "config_drive", "created_at": "created_at",
    "display_description": "description", "display_name": "display_name", "host": "host",
    "hostname": "hostname", "image_ref": "image_ref", "instance_type_id": "flavor_id",
    "kernel_id": "kernel_id", "key_name": "key_name", "launch_index": "launch_index",
    "launched_at": "launched_at", "node": "node",
    "power_state": "power_state", "progress": "progress", "project_id": "project_id",
    "ramdisk_id": "ramdisk_id", "task_state": "task_state", "terminated_at": "terminated_at",
    "updated_at": "updated_at", "user_id": "user_id", "uuid": "uuid", "vm_state": "vm_state",
}  # fmt: skip
# Valid in Nova's schema but silently dropped (its SERVER_LIST_IGNORE_SORT_KEY), plus the two keys whose
# values live outside the instance row here (the lock's owner, the root device name).
IGNORED_SORT_KEYS = frozenset({
    "architecture", "cell_name", "cleaned", "default_ephemeral_device", "default_swap_device", "deleted",
    "deleted_at", "disable_terminate", "ephemeral_gb", "ephemeral_key_uuid", "id", "key_data",
    "launched_on", "locked", "memory_mb", "os_type", "reservation_id", "root_gb", "shutdown_terminate",
    "user_data", "vcpus", "vm_mode", "locked_by", "root_device_name",
})  # fmt: skip
ADMIN_SORT_KEYS = frozenset({"host", "node"})
# The longest regular expression a list filter accepts; RE2 bounds the rest (program size, linear time).
MAX_FILTER_PATTERN = 1024
# Admin filters compared for equality, and those matched as regular expressions (Nova's REGEXP filters).
EXACT_FILTERS = {"uuid": Instance.uuid, "user_id": Instance.user_id, "vm_state": Instance.vm_state,
                 "task_state": Instance.task_state, "host": Instance.host,
                 "reservation_id": Instance.reservation_id, "image_ref": Instance.image_ref}  # fmt: skip
INTEGER_FILTERS = {"power_state": Instance.power_state, "progress": Instance.progress,
                   "launch_index": Instance.launch_index}  # fmt: skip
# Nova's REGEXP filters reach the timestamps too (open to members from 2.83): MySQL matches the pattern
# against the timestamp's text, 'YYYY-MM-DD HH:MM:SS'; here its ISO 8601 form ('...T...Z') matches as well.
REGEX_FILTERS: dict[str, InstrumentedAttribute[Any]] = {
    "name": Instance.display_name, "display_name": Instance.display_name, "hostname": Instance.hostname,
    "node": Instance.node, "availability_zone": Instance.availability_zone, "key_name": Instance.key_name,
    "description": Instance.description, "display_description": Instance.description,
    "kernel_id": Instance.kernel_id, "ramdisk_id": Instance.ramdisk_id, "access_ip_v4": Instance.access_ip_v4,
    "access_ip_v6": Instance.access_ip_v6, "created_at": Instance.created_at,
    "launched_at": Instance.launched_at, "terminated_at": Instance.terminated_at,
}  # fmt: skip


@dataclass(slots=True)
class Server:
    """What the views render: the instance and what Nova keeps beside it (read only by convention: a page
    makes a thousand, and a frozen dataclass is three times slower to make)."""

    instance: Instance
    fault: InstanceFault | None = None
    availability_zone: str = ""
    locked: bool = False
    tags: tuple[str, ...] = ()
    # Nova's host_status: UP, DOWN, MAINTENANCE, UNKNOWN, or "" for an unplaced server.
    host_status: str = ""
    flavor: Flavor | None = None
    # What the compute host reported about the guest's network (compute/network_info.py).
    network_info: dict[str, Any] | None = None
    # The addresses of its ports ({network name: [address]}), when it is on networks.
    port_addresses: dict[str, list[dict[str, Any]]] | None = None
    # 2.73's reason given with the lock; 2.71's group (Nova lists at most one); 2.100's hints as kept.
    locked_reason: str | None = None
    server_groups: tuple[str, ...] = ()
    scheduler_hints: dict[str, Any] | None = None
    # 2.63's certificate ids and 2.98's image properties (both kept in system metadata at create/rebuild).
    trusted_certs: list[str] | None = None
    image_properties: dict[str, str] | None = None
    # Its volumes ({"id", "delete_on_termination"}), from its block device mappings.
    volumes_attached: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ServerFilters:
    """A list request, already cut down to what the caller may filter by (see the router)."""

    all_tenants: bool = False
    project_id: str | None = None
    statuses: tuple[str, ...] = ()
    image: str | None = None
    flavor: str | None = None
    changes_since: datetime | None = None
    # 2.66: changed at or before; 2.73: locked or not; config_drive (admins, and members from 2.83).
    changes_before: datetime | None = None
    locked: bool | None = None
    config_drive: bool | None = None
    deleted: bool | None = None
    # Soft-deleted servers (restorable) are left out of lists unless asked for, as in Nova.
    soft_deleted: bool | None = None
    # Nova's ip/ip6 filters: a regular expression matched at the start of the server's IPv4/IPv6 addresses.
    ip: str | None = None
    ip6: str | None = None
    exact: dict[str, str] = field(default_factory=dict)
    regex: dict[str, str] = field(default_factory=dict)
    tags_all: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    not_tags_all: tuple[str, ...] = ()
    not_tags_any: tuple[str, ...] = ()
    sort: tuple[tuple[str, str], ...] = ()
    marker: str | None = None
    limit: int | None = None
    strict_status: bool = False

    @property
    def page_size(self) -> int:
        return MAX_LIMIT if self.limit is None else min(self.limit, MAX_LIMIT)


def sort_order(keys: list[str], directions: list[str], *, is_admin: bool) -> tuple[tuple[str, str], ...]:
    """Nova's get_sort_params + process_sort_params: created_at desc by default; created_at and id appended
    with the first direction; unknown keys 400, ignored keys dropped; host/node for admins only."""
    keys = keys or ["created_at"]
    directions = directions or ["desc"]
    for direction in directions:
        if direction not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid input for query parameters sort_dir. Value: {direction}. "
                                    f"'{direction}' is not one of ['asc', 'desc']")  # fmt: skip
    if len(directions) > len(keys):
        raise errors.BadRequest("Sort direction size exceeds sort key size")
    directions = directions + [directions[0]] * (len(keys) - len(directions))
    order: list[tuple[str, str]] = []
    for key, direction in zip(keys, directions, strict=True):
        if key not in SORT_COLUMNS and key not in IGNORED_SORT_KEYS:
            raise errors.BadRequest(
                f"Invalid input for query parameters sort_key. Value: {key}. '{key}' is not a valid sort key."
            )
        if key in IGNORED_SORT_KEYS or (key in ADMIN_SORT_KEYS and not is_admin):
            continue
        order.append((SORT_COLUMNS[key], direction))
    if all(column != "created_at" for column, _ in order):
        order.append(("created_at", directions[0]))
    return tuple(order)


def _status_clause(statuses: Iterable[str], strict: bool) -> ColumnElement[bool] | None:
    clauses: list[ColumnElement[bool]] = []
    for status in statuses:
        pairs = states.states_for_status(status)
        if not pairs and strict:
            raise errors.BadRequest("Invalid status value")
        for vm_state, task in pairs:
            if isinstance(task, states.Wildcard):
                clauses.append(Instance.vm_state == vm_state)
            else:
                task_clause = Instance.task_state.is_(None) if task is None else Instance.task_state == task
                clauses.append(and_(Instance.vm_state == vm_state, task_clause))
    return or_(*clauses) if clauses else None


def compiled_filter(name: str, pattern: str) -> re2._Regexp:
    """A list filter's regular expression, compiled by RE2.

    Patterns come from any member, so they are never run by a backtracking engine (Python's `re`, which
    SQLite's REGEXP calls holding the GIL, or the database's own): RE2 matches in time linear in the
    text, and refuses what would need backtracking (backreferences, lookarounds) with a 400.
    """
    if len(pattern) > MAX_FILTER_PATTERN:
        raise errors.BadRequest(
            f"Invalid regular expression for filter {name}: longer than {MAX_FILTER_PATTERN} characters."
        )
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options=options)
    except (re2.error, ValueError) as exc:  # ValueError: text RE2 cannot take as UTF-8 (a lone surrogate)
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise errors.BadRequest(
            f"Invalid regular expression for filter {name}: {pattern!r} ({reason})."
        ) from None


def _regex_matches(session: Session, stmt: Select[Instance], patterns: dict[str, str]) -> list[str]:
    """The servers of `stmt` whose every filtered column Nova's REGEXP filter would match (a search, as
    `re.search`), matched here rather than in the database so no engine's backtracking is reachable."""
    compiled = {name: compiled_filter(name, pattern) for name, pattern in patterns.items()}
    columns = [REGEX_FILTERS[name] for name in compiled]
    rows = session.execute(stmt.with_only_columns(Instance.uuid, *columns).order_by(None))
    return [
        row[0] for row in rows
        if all(any(regex.search(text) for text in _texts(value))
               for regex, value in zip(compiled.values(), row[1:], strict=True))
    ]  # fmt: skip


def _texts(value: str | datetime | None) -> tuple[str, ...]:
    """What a REGEXP filter is matched against: a text column's value; a timestamp's MySQL text and its
    ISO 8601 form (UTC); nothing for a null, which no pattern matches."""
    if value is None:
        return ()
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo is not None else value
        return moment.strftime("%Y-%m-%d %H:%M:%S"), moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (value,)


def filtered(ctxt: RequestContext, filters: ServerFilters) -> Select[Instance]:
    stmt = select(Instance)
    deleted = filters.deleted
    if deleted is None and filters.changes_since is None and filters.changes_before is None:
        deleted = False
    # Without a deleted filter, changes-since lists recently deleted servers too (status DELETED).
    if deleted is True:
        gone = Instance.deleted.is_(True)
        soft = Instance.vm_state == states.SOFT_DELETED
        stmt = stmt.where(gone if filters.soft_deleted is False else or_(gone, soft))
    elif deleted is False:
        stmt = stmt.where(Instance.deleted.is_(False))
        if not filters.soft_deleted:
            stmt = stmt.where(Instance.vm_state != states.SOFT_DELETED)
    if not filters.all_tenants:
        stmt = stmt.where(Instance.project_id == ctxt.project_id)
    elif filters.project_id is not None:
        stmt = stmt.where(Instance.project_id == filters.project_id)
    if filters.image:
        stmt = stmt.where(Instance.image_ref == id_from_ref(filters.image))
    if filters.flavor:
        stmt = stmt.where(Instance.flavor_id == id_from_ref(filters.flavor))
    if filters.changes_since is not None:
        stmt = stmt.where(Instance.updated_at >= filters.changes_since)
    if filters.changes_before is not None:
        stmt = stmt.where(Instance.updated_at <= filters.changes_before)
    if filters.locked is not None:
        locked = select(InstanceExtra.instance_uuid).where(InstanceExtra.locked.is_(True))
        stmt = stmt.where(Instance.uuid.in_(locked) if filters.locked else Instance.uuid.not_in(locked))
    if filters.config_drive is not None:
        stmt = stmt.where(Instance.config_drive.is_(filters.config_drive))
    for name, value in filters.exact.items():
        stmt = stmt.where(
            integer_filter(name, value) if name in INTEGER_FILTERS else EXACT_FILTERS[name] == value
        )
    if filters.statuses:
        clause = _status_clause(filters.statuses, filters.strict_status)
        stmt = stmt.where(clause if clause is not None else false())
    for clause in tags.filter_clauses(
        all_of=list(filters.tags_all), any_of=list(filters.tags_any),
        not_all_of=list(filters.not_tags_all), not_any_of=list(filters.not_tags_any),
    ):  # fmt: skip
        stmt = stmt.where(clause)
    return stmt


def integer_filter(name: str, value: str) -> ColumnElement[bool]:
    try:
        number = int(value)
    except ValueError:
        raise errors.BadRequest(f"Invalid filter value for {name}: {value!r} is not an integer.") from None
    # No row holds a number past the column's range (which SQLite could not even bind).
    return INTEGER_FILTERS[name] == number if abs(number) <= DB_MAX_INT else false()


def _with_address(session: Session, stmt: Select[Instance], ip: str | None, ip6: str | None) -> list[str]:
    """The servers of `stmt` with an address `ip` (IPv4) or `ip6` (IPv6) matches (Nova's _ip_filter)."""
    patterns = {4: _compiled("ip", ip), 6: _compiled("ip6", ip6)}
    uuids = list(session.scalars(stmt.with_only_columns(Instance.uuid).order_by(None)))
    matched = []
    stored = {uuid: network_info.addresses(info) for uuid, info in network_info.load(session, uuids).items()}
    for uuid, found in {**stored, **network_info.port_addresses(session, uuids)}.items():
        entries = [entry for listed in found.values() for entry in listed]
        for entry in entries:
            pattern = patterns.get(int(entry.get("version") or 4))
            if pattern is not None and pattern.match(str(entry.get("addr") or "")):
                matched.append(uuid)
                break
    return matched


def _compiled(name: str, pattern: str | None) -> re2._Regexp | None:
    return None if pattern is None else compiled_filter(name, pattern)


def _one_of(uuids: list[str]) -> ColumnElement[bool]:
    """Instance.uuid IN uuids, written into the SQL: an admin's match may be more rows than a statement
    may have parameters (PostgreSQL's 65,535)."""
    return Instance.uuid.in_(
        bindparam("matched_uuids", uuids, expanding=True, literal_execute=True, unique=True)
    )


# What a server body shows of the instance row, fetched by name: a page of a thousand servers read as rows
# rather than ORM objects costs a third of the time (nothing in a listing writes to them).
_JSON_VIEW_COLUMNS = frozenset({"metadata_items", "security_groups"})


def _view_column(name: str) -> ColumnElement[Any]:
    column = getattr(Instance, name)
    return (as_json_text(column) if name in _JSON_VIEW_COLUMNS else column).label(name)


_VIEW_COLUMNS = tuple(
    _view_column(name) for name in (
        "id", "uuid", "display_name", "hostname", "project_id", "user_id", "image_ref", "flavor_id", "vcpus",
        "memory_mb", "root_gb", "ephemeral_gb", "vm_state", "task_state", "power_state", "host", "node",
        "availability_zone", "key_name", "user_data", "metadata_items", "security_groups", "disk_config",
        "config_drive", "access_ip_v4", "access_ip_v6", "progress", "description", "kernel_id", "ramdisk_id",
        "reservation_id", "launch_index", "launched_at", "terminated_at", "created_at", "updated_at",
        "deleted",
    )
)  # fmt: skip


_BESIDE_COLUMNS = (
    InstanceExtra.locked.label("beside_locked"),
    as_json_text(InstanceExtra.system_metadata).label("beside_system_metadata"),
    as_json_text(RequestSpecRecord.scheduler_hints).label("beside_hints"),
    ServerGroup.uuid.label("beside_group"),
)


_ViewRow = namedtuple("_ViewRow", [column.name for column in (*_VIEW_COLUMNS, *_BESIDE_COLUMNS)])  # type: ignore[misc]
# Where the JSON columns, read as text, sit in a row.
_JSON_INDEXES = tuple(
    index for index, name in enumerate(cast(tuple[str, ...], _ViewRow._fields))
    if name in _JSON_VIEW_COLUMNS or name in ("beside_system_metadata", "beside_hints")
)  # fmt: skip


def list_page(session: Session, ctxt: RequestContext, filters: ServerFilters) -> list[Instance]:
    """One page of instances: read-only rows carrying the Instance attributes a server body shows (and
    `instance_name`'s id), not ORM objects."""
    stmt = filtered(ctxt, filters)
    if filters.regex:
        stmt = stmt.where(_one_of(_regex_matches(session, stmt, filters.regex)))
    if filters.ip is not None or filters.ip6 is not None:
        stmt = stmt.where(_one_of(_with_address(session, stmt, filters.ip, filters.ip6)))
    if filters.page_size == 0:
        return []
    stmt = paginate(
        stmt, Instance, sort_keys=list(filters.sort), marker=filters.marker, limit=filters.page_size,
        session=session,
    )  # fmt: skip
    # What sits beside each instance one to one (lock and system metadata, request spec, group) comes in
    # the same query, not in three more that each name the page's thousand uuids.
    stmt = (
        stmt.with_only_columns(*_VIEW_COLUMNS, *_BESIDE_COLUMNS)
        .outerjoin(InstanceExtra, InstanceExtra.instance_uuid == Instance.uuid)
        .outerjoin(RequestSpecRecord, RequestSpecRecord.instance_uuid == Instance.uuid)
        .outerjoin(ServerGroupMember, ServerGroupMember.instance_uuid == Instance.uuid)
        .outerjoin(ServerGroup, ServerGroup.id == ServerGroupMember.group_id)
    )
    # Named tuples: a view reads some forty attributes of each row, several times faster than from Rows.
    make = _ViewRow._make
    page = []
    for row in session.connection().execute(stmt):
        values = list(row)
        for index in _JSON_INDEXES:
            values[index] = json_from_text(values[index])
        page.append(make(values))
    return cast(list[Instance], page)


# --- what a view needs beside the row ---------------------------------------------------------------------
def host_status(record: ServiceRecord | None, now: datetime, down_time: float) -> str:
    if record is None:
        return ""
    if record.forced_down:
        return "DOWN"
    if record.disabled:
        return "MAINTENANCE"
    return "UP" if servicegroup.service_is_up(record, now, down_time) else "UNKNOWN"


def instance_name(instance: Instance) -> str:
    """The hypervisor-side name (Nova's instance_name_template), from a row or an ORM instance."""
    return f"instance-{instance.id:08x}"


Beside = tuple[dict[str, tuple[bool, dict[str, Any]]], dict[str, list[str]], dict[str, dict[str, Any]]]


def _beside(session: Session, rows: list[Instance], uuids: list[str]) -> Beside:
    """Each instance's lock and system metadata, server groups and scheduler hints: from a page's rows,
    which carry them (list_page), or read for ORM instances."""
    extras: dict[str, tuple[bool, dict[str, Any]]] = {}
    groups: dict[str, list[str]] = {}
    hints: dict[str, dict[str, Any]] = {}
    if "beside_system_metadata" in getattr(rows[0], "_fields", ()):
        for row in rows:
            fields = cast(Any, row)
            extras[row.uuid] = (bool(fields.beside_locked), fields.beside_system_metadata or {})
            if fields.beside_group is not None:
                groups.setdefault(row.uuid, []).append(fields.beside_group)
            if fields.beside_hints is not None:
                hints[row.uuid] = fields.beside_hints
        return extras, groups, hints
    for uuid, locked, system_metadata in session.execute(
        select(InstanceExtra.instance_uuid, InstanceExtra.locked, InstanceExtra.system_metadata).where(
            InstanceExtra.instance_uuid.in_(uuids)
        )
    ):
        extras[uuid] = (locked, system_metadata or {})
    for uuid, group_uuid in session.execute(
        select(ServerGroupMember.instance_uuid, ServerGroup.uuid)
        .join(ServerGroup, ServerGroup.id == ServerGroupMember.group_id)
        .where(ServerGroupMember.instance_uuid.in_(uuids))
    ):
        groups.setdefault(uuid, []).append(group_uuid)
    for uuid, kept in session.execute(
        select(RequestSpecRecord.instance_uuid, RequestSpecRecord.scheduler_hints).where(
            RequestSpecRecord.instance_uuid.in_(uuids)
        )
    ):
        hints[uuid] = kept
    return extras, groups, hints


# Built once: every servers/detail page asks them (a page has few hosts and flavors).
_COMPUTE_SERVICES = select(ServiceRecord).where(
    ServiceRecord.binary == COMPUTE_BINARY, ServiceRecord.host.in_(bindparam("hosts", expanding=True))
)
_FLAVORS = select(Flavor).where(Flavor.flavorid.in_(bindparam("flavor_ids", expanding=True)))


def with_details(
    session: Session, rows: list[Instance], *, clock: Callable[[], datetime], down_time: float,
    with_faults: bool = True,
) -> list[Server]:  # fmt: skip
    uuids = [row.uuid for row in rows]
    if not uuids:
        return []
    faulted = [row.uuid for row in rows if row.vm_state in (states.ERROR, states.DELETED)]
    faults = instances.latest_faults(session, faulted) if with_faults and faulted else {}
    zones = host_zones(session)
    extras, groups, hints = _beside(session, rows, uuids)
    server_tags = tags.tags_of(session, uuids)
    port_addresses = network_info.port_addresses(session, uuids)
    volumes = block_device_mappings.volumes_attached(session, uuids)
    hosts = {row.host for row in rows if row.host}
    services = {
        record.host: record for record in session.scalars(_COMPUTE_SERVICES, {"hosts": list(hosts)})
    } if hosts else {}  # fmt: skip
    flavors = {
        flavor.flavorid: flavor
        for flavor in session.scalars(_FLAVORS, {"flavor_ids": list({row.flavor_id for row in rows})})
    }
    now = clock()
    statuses = {host: host_status(record, now, down_time) for host, record in services.items()}
    no_extra: tuple[bool, dict[str, Any]] = (False, {})
    servers = []
    for row in rows:
        uuid = row.uuid
        locked, system_metadata = extras.get(uuid, no_extra)
        host = row.host
        zone = zones.get(host, DEFAULT_AVAILABILITY_ZONE) if host else (row.availability_zone or "")
        servers.append(Server(
            row, faults.get(uuid), availability_zone=zone, locked=bool(locked),
            tags=tuple(server_tags.get(uuid, ())), host_status=statuses.get(host, "") if host else "",
            flavor=flavors.get(row.flavor_id),
            network_info=system_metadata.get(network_info.SYSTEM_METADATA_KEY),
            port_addresses=port_addresses.get(uuid), locked_reason=system_metadata.get(LOCKED_REASON_KEY),
            server_groups=tuple(groups.get(uuid, ())), scheduler_hints=hints.get(uuid),
            trusted_certs=system_metadata.get(TRUSTED_CERTS_KEY),
            image_properties=system_metadata.get(IMAGE_PROPERTIES_KEY),
            volumes_attached=tuple(volumes.get(uuid, ())),
        ))  # fmt: skip
    return servers
