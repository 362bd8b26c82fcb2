"""/groups (3.13): generic volume groups: create, create from a group snapshot or another group (3.14),
list (summary and detail), show, update (name, description, add_volumes, remove_volumes), and the
actions delete (with delete-volumes) and reset_status (3.20). Below 3.13 the collection does not exist."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.api.openstack.volume.snapshots import list_options
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.volume import policies
from overcast.volume.api.groups import SORT_COLUMNS
from overcast.volume.api.records import Record
from overcast.volume.api.service import VolumeAPI
from overcast.volume.api.volumes import strict_bool


def _since_groups(request: Request) -> None:
    if common.version(request) < versions.GROUP_ID:
        raise common.NotFoundAtVersion()


routes = APIRouter(dependencies=[Depends(_since_groups)])
COLLECTION = "/groups"
ITEM = COLLECTION + "/{group_id}"
DETAIL_FIELDS = ("id", "status", "availability_zone", "created_at", "name", "description", "group_type",
                 "volume_types")  # fmt: skip
# Attribute → the version that added it to the detail view.
SINCE: dict[str, APIVersion] = {
    "group_snapshot_id": versions.GROUP_SNAPSHOT_ID,
    "source_group_id": versions.GROUP_SNAPSHOT_ID,
    "project_id": versions.GROUP_PROJECT_ID,
}
UPDATE_FIELDS = {"name", "description", "add_volumes", "remove_volumes"}


def group_summary(record: Record) -> dict[str, Any]:
    return {"id": record["id"], "name": record["name"]}


def group_detail(request: Request, ctxt: RequestContext, record: Record) -> dict[str, Any]:
    version = common.version(request)
    shown = {key: record[key] for key in DETAIL_FIELDS}
    for key, since in SINCE.items():
        if version >= since:
            shown[key] = record[key]
    if "project_id" in shown and not policy.authorize(
        ctxt, policies.GROUP_PROJECT_ATTRIBUTE, {"project_id": record["project_id"]}
    ):
        del shown["project_id"]
    if version >= versions.GROUP_VOLUMES and common.truthy(request.query_params.get("list_volume")):
        shown["volumes"] = record["volumes"]
    return shown


@routes.post(COLLECTION, status_code=202)
def create_group(
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    group = common.member(body, "group")
    unknown = sorted(set(group) - {"name", "description", "group_type", "volume_types", "availability_zone"})
    if unknown:
        raise BadRequest(f"Invalid input for field/attribute group. Additional properties are not allowed "
                         f"({', '.join(repr(k) for k in unknown)} were unexpected)")  # fmt: skip
    return {"group": group_summary(api.groups.create(ctxt, group))}


@routes.post(COLLECTION + "/action", status_code=202)
def create_group_from_source(
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    """create-from-src (3.14): a new group from a group snapshot or from another group."""
    if common.version(request) < versions.GROUP_SNAPSHOT_ID:
        raise common.NotFoundAtVersion()
    source = common.member(body, "create-from-src")
    unknown = sorted(set(source) - {"name", "description", "group_snapshot_id", "source_group_id"})
    if unknown or list(body) != ["create-from-src"]:
        unexpected = ", ".join(repr(k) for k in unknown or body)
        raise BadRequest(f"Invalid input for field/attribute create-from-src. Additional properties are not "
                         f"allowed ({unexpected} were unexpected)")  # fmt: skip
    return {"group": group_summary(api.groups.create_from_source(ctxt, source))}


@routes.get(COLLECTION)
def list_groups(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    records = api.groups.list_all(ctxt, list_options(request, SORT_COLUMNS))
    return {"groups": [group_summary(record) for record in records]}


@routes.get(COLLECTION + "/detail")
def list_groups_detail(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    records = api.groups.list_all(ctxt, list_options(request, SORT_COLUMNS))
    return {"groups": [group_detail(request, ctxt, record) for record in records]}


@routes.get(ITEM)
def show_group(
    group_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"group": group_detail(request, ctxt, api.groups.get(ctxt, group_id))}


@routes.put(ITEM, status_code=202)
def update_group(
    group_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    changes = common.member(body, "group")
    unknown = sorted(set(changes) - UPDATE_FIELDS)
    if unknown:
        raise BadRequest(f"Invalid input for field/attribute group. Additional properties are not allowed "
                         f"({', '.join(repr(k) for k in unknown)} were unexpected)")  # fmt: skip
    api.groups.update(ctxt, group_id, changes)
    return Response(status_code=202)


@routes.post(ITEM + "/action", status_code=202)
def group_action(
    group_id: str,
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    if not isinstance(body, dict) or len(body) != 1:
        raise BadRequest("Malformed request body: give exactly one action.")
    name = next(iter(body))
    if name == "delete":
        options = common.member(body, "delete")
        delete_volumes = strict_bool(options.get("delete-volumes", False), "delete-volumes")
        api.groups.delete(ctxt, group_id, delete_volumes=delete_volumes)
    elif name == "reset_status" and common.version(request) >= versions.GROUP_RESET:
        api.groups.reset_status(ctxt, group_id, common.member(body, "reset_status").get("status"))
    else:
        raise BadRequest(f"There is no such action: {name}")
    return Response(status_code=202)
