"""GET /os-migrations (admins: every cold move) and /servers/{id}/migrations (in-progress live migrations).

Versions, as Nova: migration_type from 2.23 (with links only for in-progress live migrations, which we
never have); uuid, limit/marker paging newest first, changes-since and a 400 for unknown query
parameters from 2.59. Before 2.59 unknown parameters (limit, marker, changes-since among them) are ignored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, parse_int, require_version
from overcast.api.openstack.compute.server_filters import check_change_window, parse_time
from overcast.api.openstack.compute.views import naive_iso
from overcast.compute import migrations, policies
from overcast.compute.api.server_queries import MAX_LIMIT
from overcast.db.models.migrations import Migration

router = APIRouter()

INDEX = policies.MIGRATIONS_INDEX
SERVER_MIGRATIONS_INDEX = policies.SERVER_MIGRATIONS_INDEX
SERVER_MIGRATIONS_SHOW = policies.SERVER_MIGRATIONS_SHOW

_FILTERS = ("host", "source_compute", "status", "instance_uuid", "migration_type")
_PAGED_PARAMETERS = frozenset({*_FILTERS, "hidden", "limit", "marker", "changes-since"})


def _since(req: ComputeRequest) -> frozenset[str]:
    """Query parameters later microversions add: changes-before (2.66), user_id and project_id (2.80)."""
    added = {"changes-before"} if req.version >= v.CHANGES_BEFORE else set()
    if req.version >= v.MIGRATION_OWNER:
        added |= {"user_id", "project_id"}
    return frozenset(added)


def migration_view(record: Migration, req: ComputeRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": record.id,
        "instance_uuid": record.instance_uuid,
        "source_compute": record.source_compute,
        "source_node": record.source_node,
        "dest_compute": record.dest_compute,
        "dest_node": record.dest_node,
        "dest_host": record.dest_host,
        "old_instance_type_id": record.old_instance_type_id,
        "new_instance_type_id": record.new_instance_type_id,
        "status": record.status,
        "created_at": naive_iso(record.created_at),
        "updated_at": naive_iso(record.updated_at),
    }
    if req.version >= v.MIGRATION_TYPE:
        body["migration_type"] = record.migration_type
    if req.version >= v.MIGRATIONS_PAGING:
        body["uuid"] = record.uuid
    if req.version >= v.MIGRATION_OWNER:
        body.update(user_id=record.user_id, project_id=record.project_id)
    return body


@router.get("/os-migrations")
def list_migrations(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, INDEX, {"project_id": req.context.project_id})
    query = request.query_params
    paged = req.version >= v.MIGRATIONS_PAGING
    limit = changes_since = changes_before = None
    known = _PAGED_PARAMETERS | _since(req)
    if paged:
        for name in query:
            if name not in known:
                raise errors.BadRequest(
                    f"Invalid input for query parameters {name}. Additional properties are not allowed "
                    f"('{name}' was unexpected)"
                )
        requested = parse_int("limit", query.get("limit"))
        limit = MAX_LIMIT if requested is None else min(requested, MAX_LIMIT)
        if query.get("changes-since"):
            changes_since = parse_time("changes-since", query["changes-since"])
    if "changes-before" in known and query.get("changes-before"):
        changes_before = parse_time("changes-before", query["changes-before"])
    check_change_window(changes_since, changes_before)
    owners = {name: query.get(name) for name in ("user_id", "project_id") if name in known}
    filters = migrations.MigrationFilters(
        **{name: query.get(name) for name in _FILTERS},
        changes_since=changes_since, marker=query.get("marker") if paged else None, limit=limit,
        newest_first=paged, changes_before=changes_before, **owners,
    )  # fmt: skip
    records = req.service.migrations.matching(filters)
    body: dict[str, Any] = {"migrations": [migration_view(record, req) for record in records]}
    if limit and len(records) == limit:
        next_query = {**dict(sorted(query.items())), "marker": records[-1].uuid}
        body["migrations_links"] = req.links.next_page("os-migrations", next_query)
    return body


def _server_target(req: ComputeRequest, server_id: str, rule: str) -> None:
    instance = req.service.servers.find(req.context, server_id)  # 404 before 403, as Nova
    policy.enforce(req.context, rule, {"project_id": instance.project_id})


@router.get("/servers/{server_id}/migrations")
def list_server_migrations(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    """Nova lists only in-progress live migrations here; we have no live migration, so none."""
    require_version(req, v.MIGRATION_TYPE)
    _server_target(req, server_id, SERVER_MIGRATIONS_INDEX)
    return {"migrations": []}


@router.delete("/servers/{server_id}/migrations/{migration_id}", status_code=202)
def abort_server_migration(
    server_id: str, migration_id: str, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    """Aborting a live migration (2.24; 2.65 also while queued or preparing): we have none, so a move
    of the server is a cold one, which Nova refuses to abort, and anything else is not found."""
    require_version(req, v.ABORT_LIVE_MIGRATION)
    _server_target(req, server_id, policies.SERVER_MIGRATIONS_DELETE)
    if req.service.migrations.of_instance(server_id, migration_id) is not None:
        raise errors.BadRequest(f"Migration {migration_id} for instance {server_id} is not live-migration.")
    raise errors.NotFound(f"Migration {migration_id} for instance {server_id} could not be found.")


@router.get("/servers/{server_id}/migrations/{migration_id}")
def show_server_migration(
    server_id: str, migration_id: str, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    require_version(req, v.MIGRATION_TYPE)
    _server_target(req, server_id, SERVER_MIGRATIONS_SHOW)
    found = req.service.migrations.of_instance(server_id, migration_id)
    if found is not None:
        raise errors.NotFound(f"Migration {migration_id} for server {server_id} is not live-migration.")
    raise errors.NotFound(f"In-progress live migration {migration_id} is not found for server {server_id}.")
