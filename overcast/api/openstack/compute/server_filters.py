"""GET /servers query parameters as Nova reads them: who may filter by what, at which microversion.

Non-admins get Nova's short list of filters (anything else is silently dropped, as Nova does before
2.75); admins get every filter Nova's query schema names that we can answer. A filter Nova knows but we
cannot answer is refused with 400 rather than ignored, so nobody gets an unfiltered list by surprise.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from overcast import errors
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import parse_bool, parse_int
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.compute.api import tags
from overcast.compute.api.server_queries import (
    EXACT_FILTERS,
    INTEGER_FILTERS,
    REGEX_FILTERS,
    ServerFilters,
    sort_order,
)
from overcast.context import RequestContext

PAGING = frozenset({"limit", "marker", "sort_key", "sort_dir"})
MEMBER_FILTERS = frozenset({"reservation_id", "name", "status", "image", "flavor", "ip", "changes-since",
                            "all_tenants"})  # fmt: skip
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
SPECIAL_FILTERS = frozenset({"project_id", "tenant_id", "deleted", "soft_deleted", "ip6", *TAG_FILTERS})
# In Nova's query schema, but their values live where we cannot filter on them (yet).
UNANSWERABLE_FILTERS = frozenset({
    "locked_by", "root_device_name",
    "auto_disk_config", "metadata", "system_metadata", "block_device_mapping", "services", "info_cache",
    "security_groups", "pci_devices", "fixed_ip",
})  # fmt: skip
# 2.83 opens these to every member (before, Nova drops them silently for non-admins).
MEMBER_FILTERS_2_83 = frozenset({
    "availability_zone", "config_drive", "key_name", "created_at", "launched_at", "terminated_at",
    "power_state", "task_state", "vm_state", "progress", "user_id",
})  # fmt: skip
# Every parameter of Nova's GET /servers query schema: from 2.75 anything else is a 400.
KNOWN_PARAMETERS = (
    PAGING | MEMBER_FILTERS | SPECIAL_FILTERS | UNANSWERABLE_FILTERS | MEMBER_FILTERS_2_83
    | frozenset(EXACT_FILTERS) | frozenset(INTEGER_FILTERS) | frozenset(REGEX_FILTERS)
    | frozenset({"changes-before", "locked", "uuid", "host", "node", "hostname", "display_description",
                 "kernel_id", "ramdisk_id", "access_ip_v4", "access_ip_v6", "description", "display_name",
                 "image_ref", "reservation_id", "launch_index"})
)  # fmt: skip


def _allowed(name: str, version: APIVersion, is_admin: bool) -> bool:
    if is_admin or name in MEMBER_FILTERS:
        return True
    if name == "ip6":
        return version >= v.IP6_FILTER
    if name in ("changes-before", "locked"):
        return version >= (v.CHANGES_BEFORE if name == "changes-before" else v.LOCKED_REASON)
    if name in MEMBER_FILTERS_2_83:
        return version >= v.MEMBER_FILTERS
    return name in TAG_FILTERS and version >= v.TAGS


def check_change_window(since: datetime | None, before: datetime | None) -> None:
    """Nova's 400 when changes-since is after changes-before."""
    if since is not None and before is not None and since > before:
        raise errors.BadRequest("The value of changes-since must be less than or equal to changes-before.")


def parse_time(name: str, text: str) -> datetime:
    """An ISO 8601 query time; one without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f"Invalid filter field: {name}.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _tag_list(query: QueryParams, name: str, version: APIVersion) -> tuple[str, ...]:
    if version < v.TAGS or name not in query:
        return ()
    return tuple(tags.split_filter(query[name]))


def server_filters(
    query: QueryParams, ctxt: RequestContext, version: APIVersion, *, all_tenants: bool
) -> ServerFilters:
    is_admin = ctxt.is_admin
    if version >= v.STRICT_QUERY:
        unknown = sorted(set(query) - KNOWN_PARAMETERS)
        if unknown:
            raise errors.BadRequest(
                f"Invalid input for query parameters {unknown[0]}. Additional properties are not allowed "
                f"({', '.join(repr(name) for name in unknown)} {'was' if len(unknown) == 1 else 'were'} "
                "unexpected)"
            )
    given = {name for name in query if name not in PAGING and _allowed(name, version, is_admin)}
    unanswerable = sorted(given & UNANSWERABLE_FILTERS)
    if unanswerable:
        raise errors.BadRequest(f"Filtering servers by {', '.join(unanswerable)} is not supported.")
    statuses = tuple(query.getlist("status")) if "status" in given else ()
    deleted = None
    if "deleted" in given:
        # Nova: a value that is not a boolean lists the servers that are not deleted.
        try:
            deleted = bool(parse_bool("deleted", query["deleted"]))
        except errors.BadRequest:
            deleted = False
    if any(status.strip().lower() == "deleted" for status in statuses):
        if not is_admin:
            raise errors.Forbidden("Only administrators may list deleted instances")
        deleted = True
    soft_deleted = None
    if "soft_deleted" in given:
        soft_deleted = bool(parse_bool("soft_deleted", query["soft_deleted"]))
    exact = {name: query[name] for name in given if name in EXACT_FILTERS or name in INTEGER_FILTERS}
    regex = {name: query[name] for name in given if name in REGEX_FILTERS}
    project_id = (query.get("project_id") or query.get("tenant_id")) if all_tenants else None
    limit = parse_int("limit", query.get("limit"))
    since_text = query.get("changes-since")
    changes_since = parse_time("changes-since", since_text) if since_text else None
    changes_before = (
        parse_time("changes-before", query["changes-before"])
        if "changes-before" in given and query["changes-before"] else None
    )  # fmt: skip
    check_change_window(changes_since, changes_before)
    return ServerFilters(
        all_tenants=all_tenants,
        project_id=project_id,
        statuses=statuses,
        strict_status=version >= v.INVALID_STATUS_400,
        image=query.get("image") if "image" in given else None,
        flavor=query.get("flavor") if "flavor" in given else None,
        changes_since=changes_since,
        changes_before=changes_before,
        locked=parse_bool("locked", query["locked"]) if "locked" in given else None,
        config_drive=parse_bool("config_drive", query["config_drive"]) if "config_drive" in given else None,
        deleted=deleted,
        soft_deleted=soft_deleted,
        ip=query["ip"] if "ip" in given else None,
        ip6=query["ip6"] if "ip6" in given else None,
        exact=exact,
        regex=regex,
        tags_all=_tag_list(query, "tags", version),
        tags_any=_tag_list(query, "tags-any", version),
        not_tags_all=_tag_list(query, "not-tags", version),
        not_tags_any=_tag_list(query, "not-tags-any", version),
        sort=sort_order(
            [key.strip() for key in query.getlist("sort_key")],
            [direction.strip() for direction in query.getlist("sort_dir")],
            is_admin=is_admin,
        ),
        marker=query.get("marker"),
        limit=limit,
    )
