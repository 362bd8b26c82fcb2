"""/group_snapshots (3.14): snapshots of a group's volumes taken together: create, list (summary and
detail), show, delete, and the reset_status action (3.19). Below 3.14 the collection does not exist."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.api.openstack.volume.snapshots import list_options
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.volume import policies
from overcast.volume.api.group_snapshots import SORT_COLUMNS
from overcast.volume.api.records import Record
from overcast.volume.api.service import VolumeAPI


def _since_group_snapshots(request: Request) -> None:
    if common.version(request) < versions.GROUP_SNAPSHOT_ID:
        raise common.NotFoundAtVersion()


routes = APIRouter(dependencies=[Depends(_since_group_snapshots)])
COLLECTION = "/group_snapshots"
ITEM = COLLECTION + "/{group_snapshot_id}"
DETAIL_FIELDS = ("id", "group_id", "status", "created_at", "name", "description", "group_type_id")
CREATE_FIELDS = {"group_id", "name", "description"}


def group_snapshot_summary(record: Record) -> dict[str, Any]:
    return {"id": record["id"], "name": record["name"]}


def group_snapshot_detail(request: Request, ctxt: RequestContext, record: Record) -> dict[str, Any]:
    shown = {key: record[key] for key in DETAIL_FIELDS}
    if common.version(request) >= versions.GROUP_PROJECT_ID and policy.authorize(
        ctxt, policies.GROUP_SNAPSHOT_PROJECT_ATTRIBUTE, {"project_id": record["project_id"]}
    ):
        shown["project_id"] = record["project_id"]
    return shown


@routes.post(COLLECTION, status_code=202)
def create_group_snapshot(
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    fields = common.member(body, "group_snapshot")
    unknown = sorted(set(fields) - CREATE_FIELDS)
    if unknown:
        raise BadRequest(f"Invalid input for field/attribute group_snapshot. Additional properties are not "
                         f"allowed ({', '.join(repr(k) for k in unknown)} were unexpected)")  # fmt: skip
    record = api.group_snapshots.create(
        ctxt, fields.get("group_id"), name=fields.get("name"), description=fields.get("description")
    )
    return {"group_snapshot": group_snapshot_summary(record)}


@routes.get(COLLECTION)
def list_group_snapshots(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    records = api.group_snapshots.list_all(ctxt, list_options(request, SORT_COLUMNS))
    return {"group_snapshots": [group_snapshot_summary(record) for record in records]}


@routes.get(COLLECTION + "/detail")
def list_group_snapshots_detail(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    records = api.group_snapshots.list_all(ctxt, list_options(request, SORT_COLUMNS))
    return {"group_snapshots": [group_snapshot_detail(request, ctxt, record) for record in records]}


@routes.get(ITEM)
def show_group_snapshot(
    group_snapshot_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    record = api.group_snapshots.get(ctxt, group_snapshot_id)
    return {"group_snapshot": group_snapshot_detail(request, ctxt, record)}


@routes.delete(ITEM, status_code=202)
def delete_group_snapshot(
    group_snapshot_id: str,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    api.group_snapshots.delete(ctxt, group_snapshot_id)
    return Response(status_code=202)


@routes.post(ITEM + "/action", status_code=202)
def group_snapshot_action(
    group_snapshot_id: str,
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    if not isinstance(body, dict) or list(body) != ["reset_status"]:
        raise BadRequest("Malformed request body: the only action is reset_status.")
    if common.version(request) < versions.GROUP_SNAPSHOT_RESET:
        raise common.NotFoundAtVersion()
    api.group_snapshots.reset_status(
        ctxt, group_snapshot_id, common.member(body, "reset_status").get("status")
    )
    return Response(status_code=202)
