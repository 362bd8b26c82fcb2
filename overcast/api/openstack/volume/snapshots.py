"""/snapshots: create, list (summary and detail), show, update, delete, metadata, the admin actions, and
the volume action `revert` (3.40)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.volume import actions, common
from overcast.api.openstack.volume import version_history as versions
from overcast.api.openstack.volume.metadata import add_metadata_routes, metadata_filter
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.volume.api.records import Record
from overcast.volume.api.service import VolumeAPI
from overcast.volume.api.snapshots import SORT_COLUMNS, ListOptions
from overcast.volume.api.volumes import strict_bool

routes = APIRouter()
COLLECTION = "/snapshots"
ITEM = COLLECTION + "/{snapshot_id}"
SINCE = {
    "group_snapshot_id": versions.GROUP_SNAPSHOT_ID,
    "user_id": versions.SNAPSHOT_USER_ID,
    "consumes_quota": versions.CONSUMES_QUOTA,
}
SUMMARY_FIELDS = (
    "id",
    "created_at",
    "updated_at",
    "name",
    "description",
    "volume_id",
    "status",
    "size",
    "metadata",
)
CREATE_FIELDS = {
    "volume_id",
    "force",
    "name",
    "description",
    "metadata",
    "display_name",
    "display_description",
}
LIST_PARAMETERS = ("all_tenants", "sort", "sort_key", "sort_dir", "limit", "marker", "with_count", "offset")


def snapshot_summary(record: Record) -> dict[str, Any]:
    return {key: record[key] for key in SUMMARY_FIELDS}


def snapshot_detail(request: Request, record: Record) -> dict[str, Any]:
    version = common.version(request)
    return {key: value for key, value in record.items() if key not in SINCE or version >= SINCE[key]}


def _force(request: Request, value: Any) -> Any:
    if common.version(request) < versions.SNAPSHOT_IN_USE:
        return False if value is None else value
    if value is not None and not strict_bool(value, "force"):
        raise BadRequest("Invalid input received: force flag 'False' is not allowed from microversion 3.66.")
    return True


@routes.post(COLLECTION, status_code=202)
def create_snapshot(
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    snapshot = common.member(body, "snapshot")
    unknown = sorted(set(snapshot) - CREATE_FIELDS)
    if unknown:
        raise BadRequest(
            f"Invalid input for field/attribute snapshot. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in unknown)} were unexpected)"
        )
    if "volume_id" not in snapshot:
        raise BadRequest("Invalid input for field/attribute snapshot. 'volume_id' is a required property")
    record = api.snapshots.create(
        ctxt,
        snapshot["volume_id"],
        force=_force(request, snapshot.get("force")),
        name=snapshot.get("name", snapshot.get("display_name")),
        description=snapshot.get("description", snapshot.get("display_description")),
        metadata=snapshot.get("metadata"),
    )
    return {"snapshot": snapshot_detail(request, record)}


def list_options(request: Request, sort_columns: Mapping[str, str]) -> ListOptions:
    """A snapshot or backup list's query string: filters (what is not a list parameter), sort, paging."""
    params = request.query_params
    return ListOptions(
        filters={key: params[key] for key in params if key not in LIST_PARAMETERS},
        sort=common.sort_param(request, sort_columns),
        marker=params.get("marker"),
        limit=common.limit_param(request),
        all_projects=common.truthy(params.get("all_tenants")),
        with_count=common.truthy(params.get("with_count")) and common.version(request) >= versions.WITH_COUNT,
    )


def page(
    request: Request, name: str, records: list[Record], views: list[Any], count: int | None, limit: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {name: views, **common.next_link(request, name, records, limit)}
    if count is not None:
        body["count"] = count
    return body


def admin_action(body: Any, handlers: Mapping[str, Callable[[Any], None]]) -> None:
    """POST .../action on a snapshot or backup: exactly one of `handlers`' actions."""
    if not isinstance(body, dict) or len(body) != 1:
        raise BadRequest("Malformed request body: give exactly one action.")
    ((name, value),) = body.items()
    if name not in handlers:
        raise BadRequest(f"There is no such action: {name}")
    handlers[name](value)


def _list(request: Request, ctxt: RequestContext, api: VolumeAPI, detail: bool) -> dict[str, Any]:
    options = list_options(request, SORT_COLUMNS)
    if "metadata" in options.filters:
        options.filters["metadata"] = metadata_filter(options.filters["metadata"])
    records, count = api.snapshots.list(ctxt, options)
    views = [snapshot_detail(request, r) if detail else snapshot_summary(r) for r in records]
    return page(request, "snapshots", records, views, count, options.limit)


@routes.get(COLLECTION)
@routes.get(COLLECTION + "/detail")
def list_snapshots(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return _list(request, ctxt, api, detail=request.url.path.endswith("/detail"))


@routes.get(ITEM)
def show_snapshot(
    snapshot_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"snapshot": snapshot_detail(request, api.snapshots.get(ctxt, snapshot_id))}


@routes.put(ITEM)
def update_snapshot(
    snapshot_id: str,
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    changes = common.member(body, "snapshot")
    allowed = {"name", "description", "display_name", "display_description"}
    if not changes or set(changes) - allowed:
        raise BadRequest("Invalid input for field/attribute snapshot: give name or description.")
    return {"snapshot": snapshot_detail(request, api.snapshots.update(ctxt, snapshot_id, changes))}


@routes.delete(ITEM, status_code=202)
def delete_snapshot(
    snapshot_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> Response:
    api.snapshots.delete(ctxt, snapshot_id)
    return Response(status_code=202)


@routes.post(ITEM + "/action", status_code=202)
def snapshot_action(
    snapshot_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    admin_action(
        body,
        {
            "os-reset_status": lambda value: api.snapshots.reset_status(ctxt, snapshot_id, value),
            "os-force_delete": lambda value: api.snapshots.delete(ctxt, snapshot_id, force=True),
        },
    )
    return Response(status_code=202)


# --- metadata (the routes volumes share) ---------------------------------------------------------------
add_metadata_routes(
    routes,
    ITEM,
    "snapshot_id",
    lambda api: api.snapshots,
    lambda snapshot_id, key: f"Metadata item was not found for snapshot {snapshot_id} and key {key}.",
)


# --- POST /volumes/{id}/action {"revert": {"snapshot_id": ...}} (3.40) --------------------------------
def _revert(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    if common.version(request) < versions.REVERT:
        raise BadRequest("There is no such action: revert")
    snapshot_id = value.get("snapshot_id") if isinstance(value, dict) else None
    if snapshot_id is None:
        raise BadRequest("Invalid input for field/attribute revert. 'snapshot_id' is a required property")
    api.snapshots.revert(ctxt, volume_id, snapshot_id)


actions.register("revert", _revert, 202)
