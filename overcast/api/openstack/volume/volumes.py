"""/volumes: create, list (summary, detail, summary counts), show, update, delete, and metadata."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common, metadata, views
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.volume.api.service import VolumeAPI
from overcast.volume.api.volumes import SORT_COLUMNS, CreateRequest, strict_bool

routes = APIRouter()
COLLECTION = "/volumes"
ITEM = COLLECTION + "/{volume_id}"
LIST_PARAMETERS = (
    "all_tenants", "project_id", "sort", "sort_key", "sort_dir", "limit", "marker", "with_count", "offset",
)  # fmt: skip
CREATE_FIELDS = (
    "size", "availability_zone", "source_volid", "description", "multiattach", "snapshot_id", "backup_id",
    "name", "imageRef", "volume_type", "metadata", "consistencygroup_id", "display_name",
    "display_description", "source_replica", "group_id",
)  # fmt: skip


def _create_request(request: Request, body: Any) -> CreateRequest:
    volume = common.member(body, "volume")
    unknown = sorted(set(volume) - set(CREATE_FIELDS))
    if unknown:
        raise BadRequest(f"Invalid input for field/attribute volume. Additional properties are not allowed "
                         f"({', '.join(repr(k) for k in unknown)} were unexpected)")  # fmt: skip
    if volume.get("backup_id") and common.version(request) < versions.BACKUP_SOURCE:
        raise BadRequest("Invalid input received: backup_id needs microversion 3.47 or later.")
    for key in ("source_volid", "snapshot_id", "backup_id", "imageRef", "volume_type", "availability_zone"):
        if volume.get(key) is not None and not isinstance(volume[key], str):
            raise BadRequest(
                f"Invalid input for field/attribute {key}. Value: {volume[key]}. It is not a string."
            )
    multiattach = strict_bool(volume.get("multiattach", False), "multiattach")
    return CreateRequest(
        size=volume.get("size"),
        name=volume.get("name", volume.get("display_name")),
        description=volume.get("description", volume.get("display_description")),
        volume_type=volume.get("volume_type") or None,
        availability_zone=volume.get("availability_zone") or None,
        metadata=volume.get("metadata") or {},
        snapshot_id=volume.get("snapshot_id") or None,
        source_volid=volume.get("source_volid") or None,
        image_id=volume.get("imageRef") or None,
        backup_id=volume.get("backup_id") or None,
        multiattach=multiattach,
        group_id=_group_id(request, volume),
    )


def _group_id(request: Request, volume: dict[str, Any]) -> str | None:
    """The group a volume joins, read from 3.13 on (Cinder ignores the key before)."""
    group_id = volume.get("group_id")
    if common.version(request) < versions.GROUP_ID or not group_id:
        return None
    if not isinstance(group_id, str):
        raise BadRequest(
            f"Invalid input for field/attribute group_id. Value: {group_id}. It is not a string."
        )
    return group_id


@routes.post(COLLECTION, status_code=202)
def create_volume(
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    record = api.volumes.create(ctxt, _create_request(request, body))
    return {"volume": views.volume_detail(request, ctxt, record)}


def _list(
    request: Request, ctxt: RequestContext, api: VolumeAPI
) -> tuple[list[dict[str, Any]], int | None, int | None]:
    params = request.query_params
    filters: dict[str, Any] = {key: params[key] for key in params if key not in LIST_PARAMETERS}
    if "metadata" in filters:
        filters["metadata"] = metadata.metadata_filter(filters["metadata"])
    if "bootable" in filters and common.version(request) < versions.BOOTABLE_FILTER:
        # Before 3.2 Cinder read false/False as false and any other value as true.
        filters["bootable"] = "false" if filters["bootable"] in ("false", "False") else "true"
    limit = common.limit_param(request)
    with_count = common.truthy(params.get("with_count")) and common.version(request) >= versions.WITH_COUNT
    all_projects = common.truthy(params.get("all_tenants"))
    records, count = api.volumes.list(
        ctxt, filters=filters, sort=common.sort_param(request, SORT_COLUMNS), marker=params.get("marker"),
        limit=limit, all_projects=all_projects, project_id=params.get("project_id") if all_projects else None,
        with_count=with_count,
    )  # fmt: skip
    return records, count, limit


@routes.get(COLLECTION)
def list_volumes(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return _listed(request, ctxt, api, detail=False)


@routes.get(COLLECTION + "/detail")
def list_volumes_detail(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return _listed(request, ctxt, api, detail=True)


def _listed(request: Request, ctxt: RequestContext, api: VolumeAPI, *, detail: bool) -> dict[str, Any]:
    records, count, limit = _list(request, ctxt, api)
    views_of = [
        views.volume_detail(request, ctxt, r) if detail else views.volume_summary(request, r) for r in records
    ]
    body: dict[str, Any] = {"volumes": views_of}
    body.update(common.next_link(request, "volumes", records, limit))
    if count is not None:
        body["count"] = count
    return body


@routes.get(COLLECTION + "/summary")
def volumes_summary(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    if common.version(request) < versions.VOLUMES_SUMMARY:
        raise common.NotFoundAtVersion()
    all_projects = common.truthy(request.query_params.get("all_tenants"))
    records, _ = api.volumes.list(ctxt, all_projects=all_projects)
    summary: dict[str, Any] = {"total_size": sum(r["size"] for r in records), "total_count": len(records)}
    if common.version(request) >= versions.SUMMARY_METADATA:
        metadata: dict[str, list[str]] = {}
        for record in records:
            for key, value in record["metadata"].items():
                if value not in metadata.setdefault(key, []):
                    metadata[key].append(value)
        summary["metadata"] = metadata
    return {"volume-summary": summary}


@routes.get(ITEM)
def show_volume(
    volume_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"volume": views.volume_detail(request, ctxt, api.volumes.get(ctxt, volume_id))}


@routes.put(ITEM)
def update_volume(
    volume_id: str,
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    changes = common.member(body, "volume")
    renamed = {"display_name": "name", "display_description": "description"}
    changes = {renamed.get(key, key): value for key, value in changes.items()}
    unknown = sorted(set(changes) - {"name", "description", "metadata"})
    if unknown or not changes:
        raise BadRequest("Invalid input for field/attribute volume: give name, description or metadata.")
    return {"volume": views.volume_detail(request, ctxt, api.volumes.update(ctxt, volume_id, changes))}


@routes.delete(ITEM, status_code=202)
def delete_volume(
    volume_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    params = request.query_params
    force = common.truthy(params.get("force")) and common.version(request) >= versions.DELETE_FORCE
    api.volumes.delete(ctxt, volume_id, cascade=common.truthy(params.get("cascade")), force=force)
    return Response(status_code=202)


# --- metadata -------------------------------------------------------------------------------------------
metadata.add_metadata_routes(
    routes,
    ITEM,
    "volume_id",
    lambda api: api.volumes,
    lambda volume_id, key: f"Volume {volume_id} has no metadata with key {key}.",
)
