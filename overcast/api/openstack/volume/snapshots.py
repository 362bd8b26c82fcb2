"""/snapshots: create, list (summary and detail), show, update, delete, metadata, the admin actions, and
the volume action `revert` (3.40)."""

from __future__ import annotations

import ast
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.volume import actions, common
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.errors import BadRequest, NotFound
from overcast.volume.api.records import Record
from overcast.volume.api.service import VolumeAPI
from overcast.volume.api.snapshots import SORT_COLUMNS

routes = APIRouter()
COLLECTION = "/snapshots"
ITEM = COLLECTION + "/{snapshot_id}"
GROUP_SNAPSHOT_ID = APIVersion(3, 14)
REVERT = APIVersion(3, 40)
SNAPSHOT_USER_ID = APIVersion(3, 41)
# From 3.66 an in-use volume is snapshotted without force (and force=false is refused).
SNAPSHOT_IN_USE = APIVersion(3, 66)
SINCE = {
    "group_snapshot_id": GROUP_SNAPSHOT_ID,
    "user_id": SNAPSHOT_USER_ID,
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
    if common.version(request) < SNAPSHOT_IN_USE:
        return False if value is None else value
    if value is not None and str(value).strip().lower() in ("false", "0", "no", "off", "f", "n"):
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


def _metadata_filter(text: str) -> dict[str, str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise BadRequest(f"Invalid input received: metadata filter {text!r} is not a dict.") from None
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid input received: metadata filter {text!r} is not a dict.")
    return {str(key): str(item) for key, item in value.items()}


def _list(request: Request, ctxt: RequestContext, api: VolumeAPI, detail: bool) -> dict[str, Any]:
    params = request.query_params
    filters: dict[str, Any] = {key: params[key] for key in params if key not in LIST_PARAMETERS}
    if "metadata" in filters:
        filters["metadata"] = _metadata_filter(filters["metadata"])
    limit = common.limit_param(request)
    with_count = common.truthy(params.get("with_count")) and common.version(request) >= versions.WITH_COUNT
    records, count = api.snapshots.list(
        ctxt,
        filters=filters,
        sort=common.sort_param(request, SORT_COLUMNS),
        marker=params.get("marker"),
        limit=limit,
        all_projects=common.truthy(params.get("all_tenants")),
        with_count=with_count,
    )
    views = [snapshot_detail(request, r) if detail else snapshot_summary(r) for r in records]
    body: dict[str, Any] = {"snapshots": views, **common.next_link(request, "snapshots", records, limit)}
    if count is not None:
        body["count"] = count
    return body


@routes.get(COLLECTION)
def list_snapshots(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return _list(request, ctxt, api, detail=False)


@routes.get(COLLECTION + "/detail")
def list_snapshots_detail(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return _list(request, ctxt, api, detail=True)


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
    if not isinstance(body, dict) or len(body) != 1:
        raise BadRequest("Malformed request body: give exactly one action.")
    ((name, value),) = body.items()
    if name == "os-reset_status":
        api.snapshots.reset_status(ctxt, snapshot_id, value if isinstance(value, dict) else {})
    elif name == "os-force_delete":
        api.snapshots.delete(ctxt, snapshot_id, force=True)
    else:
        raise BadRequest(f"There is no such action: {name}")
    return Response(status_code=202)


# --- metadata -------------------------------------------------------------------------------------------
@routes.get(ITEM + "/metadata")
def show_metadata(
    snapshot_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"metadata": api.snapshots.metadata(ctxt, snapshot_id)}


@routes.post(ITEM + "/metadata")
def merge_metadata(
    snapshot_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    metadata = common.member(body, "metadata")
    return {"metadata": api.snapshots.set_metadata(ctxt, snapshot_id, metadata, replace=False)}


@routes.put(ITEM + "/metadata")
def replace_metadata(
    snapshot_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    metadata = common.member(body, "metadata")
    return {"metadata": api.snapshots.set_metadata(ctxt, snapshot_id, metadata, replace=True)}


@routes.get(ITEM + "/metadata/{key}")
def show_metadata_item(
    snapshot_id: str,
    key: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    metadata = api.snapshots.metadata(ctxt, snapshot_id)
    if key not in metadata:
        raise NotFound(f"Metadata item was not found for snapshot {snapshot_id} and key {key}.")
    return {"meta": {key: metadata[key]}}


@routes.put(ITEM + "/metadata/{key}")
def set_metadata_item(
    snapshot_id: str,
    key: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    meta = common.member(body, "meta")
    if list(meta) != [key]:
        raise BadRequest("Request body and URI mismatch")
    return {"meta": api.snapshots.set_metadata_item(ctxt, snapshot_id, key, meta[key])}


@routes.delete(ITEM + "/metadata/{key}")
def delete_metadata_item(
    snapshot_id: str,
    key: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    api.snapshots.delete_metadata_item(ctxt, snapshot_id, key)
    return Response(status_code=200)


# --- POST /volumes/{id}/action {"revert": {"snapshot_id": ...}} (3.40) --------------------------------
def _revert(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    if common.version(request) < REVERT:
        raise BadRequest("There is no such action: revert")
    snapshot_id = value.get("snapshot_id") if isinstance(value, dict) else None
    if snapshot_id is None:
        raise BadRequest("Invalid input for field/attribute revert. 'snapshot_id' is a required property")
    api.snapshots.revert(ctxt, volume_id, snapshot_id)


actions.register("revert", _revert, 202)
