"""/backups: create (full or incremental), list (summary and detail), show, update (3.9), restore to a
new or an existing volume, delete, and the admin actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.api.openstack.volume.snapshots import admin_action, list_options, page
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.volume import policies
from overcast.volume.api.backups import SORT_COLUMNS, BackupRequest
from overcast.volume.api.records import Record
from overcast.volume.api.service import VolumeAPI
from overcast.volume.api.volumes import CreateRequest

routes = APIRouter()
COLLECTION = "/backups"
ITEM = COLLECTION + "/{backup_id}"
SINCE = {
    "os-backup-project-attr:project_id": versions.BACKUP_PROJECT,
    "metadata": versions.BACKUP_METADATA,
    "user_id": versions.BACKUP_USER_ID,
    "encryption_key_id": versions.ENCRYPTION_KEY_ID,
}
CREATE_FIELDS = {
    "volume_id",
    "container",
    "description",
    "incremental",
    "force",
    "name",
    "snapshot_id",
    "metadata",
    "availability_zone",
    "display_name",
    "display_description",
}


def backup_summary(request: Request, record: Record) -> dict[str, Any]:
    return {
        "id": record["id"],
        "name": record["name"],
        "links": common.self_links(request, "backups", record["id"]),
    }


def backup_detail(request: Request, ctxt: RequestContext, record: Record) -> dict[str, Any]:
    version = common.version(request)
    shown = {key: value for key, value in record.items() if key not in SINCE or version >= SINCE[key]}
    target = {"project_id": record["os-backup-project-attr:project_id"]}
    if not policy.authorize(ctxt, policies.BACKUP_PROJECT_ATTRIBUTE, target):
        shown.pop("os-backup-project-attr:project_id", None)
    shown["links"] = common.self_links(request, "backups", record["id"])
    return shown


@routes.post(COLLECTION, status_code=202)
def create_backup(
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    backup = common.member(body, "backup")
    version = common.version(request)
    unknown = sorted(set(backup) - CREATE_FIELDS)
    if "metadata" in backup and version < versions.BACKUP_METADATA:
        unknown.append("metadata")
    if "availability_zone" in backup and version < versions.BACKUP_AZ:
        unknown.append("availability_zone")
    if unknown:
        raise BadRequest(
            f"Invalid input for field/attribute backup. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in unknown)} were unexpected)"
        )
    if "volume_id" not in backup:
        raise BadRequest("Invalid input for field/attribute backup. 'volume_id' is a required property")
    record = api.backups.create(
        ctxt,
        BackupRequest(
            volume_id=backup["volume_id"],
            name=backup.get("name", backup.get("display_name")),
            description=backup.get("description", backup.get("display_description")),
            container=backup.get("container"),
            incremental=backup.get("incremental", False),
            force=backup.get("force", False),
            snapshot_id=backup.get("snapshot_id"),
            metadata=backup.get("metadata"),
            availability_zone=backup.get("availability_zone"),
        ),
    )
    shown = backup_summary(request, record)
    if version >= versions.BACKUP_METADATA:
        shown["metadata"] = record["metadata"]
    return {"backup": shown}


def _list(request: Request, ctxt: RequestContext, api: VolumeAPI, detail: bool) -> dict[str, Any]:
    options = list_options(request, SORT_COLUMNS)
    records, count = api.backups.list(ctxt, options)
    views = [backup_detail(request, ctxt, r) if detail else backup_summary(request, r) for r in records]
    return page(request, "backups", records, views, count, options.limit)


@routes.get(COLLECTION)
@routes.get(COLLECTION + "/detail")
def list_backups(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return _list(request, ctxt, api, detail=request.url.path.endswith("/detail"))


@routes.get(ITEM)
def show_backup(
    backup_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"backup": backup_detail(request, ctxt, api.backups.get(ctxt, backup_id))}


@routes.put(ITEM)
def update_backup(
    backup_id: str,
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    version = common.version(request)
    if version < versions.BACKUP_UPDATE:
        raise common.NotFoundAtVersion()
    changes = common.member(body, "backup")
    allowed = {"name", "description"} | ({"metadata"} if version >= versions.BACKUP_METADATA else set())
    if not changes or set(changes) - allowed:
        raise BadRequest(f"Invalid input for field/attribute backup: give {', '.join(sorted(allowed))}.")
    return {"backup": backup_summary(request, api.backups.update(ctxt, backup_id, changes))}


@routes.delete(ITEM, status_code=202)
def delete_backup(
    backup_id: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> Response:
    api.backups.delete(ctxt, backup_id)
    return Response(status_code=202)


@routes.post(ITEM + "/restore", status_code=202)
def restore_backup(
    backup_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> dict[str, Any]:
    if not isinstance(body, dict) or "restore" not in body:
        raise BadRequest("Missing required element 'restore' in request body.")
    restore = body["restore"] if body["restore"] is not None else {}
    if not isinstance(restore, dict) or set(restore) - {"volume_id", "name"}:
        raise BadRequest("Invalid input for field/attribute restore: give volume_id or name.")
    volume_id, name = restore.get("volume_id"), restore.get("name")
    if volume_id is not None:
        if not isinstance(volume_id, str):
            raise BadRequest("Invalid input for field/attribute volume_id: it is not a string.")
        return {"restore": api.backups.restore_to_volume(ctxt, backup_id, volume_id)}
    # A new volume of the backup's size, restored by its volume host as it is made (as with 3.47's backup_id).
    api.backups.restore_policy(ctxt, backup_id)
    volume_name = name if name is not None else f"restore_backup_{backup_id}"
    volume = api.volumes.create(ctxt, CreateRequest(size=None, name=volume_name, backup_id=backup_id))
    return {"restore": {"backup_id": backup_id, "volume_id": volume["id"], "volume_name": volume["name"]}}


@routes.post(ITEM + "/action", status_code=202)
def backup_action(
    backup_id: str,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    admin_action(
        body,
        {
            "os-reset_status": lambda value: api.backups.reset_status(ctxt, backup_id, value),
            "os-force_delete": lambda value: api.backups.delete(ctxt, backup_id, force=True),
        },
    )
    return Response(status_code=202)
