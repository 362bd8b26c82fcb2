"""What the Block Storage API says about itself and its backends: GET /extensions (Cinder's extension
list, at every version), GET /resource_filters (3.33+: the filters each resource's list honours) and
GET /capabilities/{hostname} (admins: what a volume host's backend says of itself)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.volume import policies
from overcast.volume.api.service import VolumeAPI

routes = APIRouter()
UPDATED = "2026-12-06T00:00:00+00:00"

# (alias, name, what it adds here): only what this API serves, since clients switch features on by alias.
EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("os-admin-actions", "AdminActions", "Reset status, force delete and force detach (admins)."),
    ("os-availability-zone", "AvailabilityZones", "GET /os-availability-zone: the volume zones."),
    ("backups", "Backups", "Volume backups: create, list, restore, delete, reset status."),
    (
        "capabilities",
        "Capabilities",
        "GET /capabilities/{host}: what a volume host's backend says of itself.",
    ),
    (
        "os-extended-snapshot-attributes",
        "ExtendedSnapshotAttributes",
        "os-extended-snapshot-attributes:project_id and :progress in the snapshot views.",
    ),
    ("qos-specs", "Qos_specs_manage", "QoS specs and their association with volume types (admins)."),
    ("os-quota-sets", "Quotas", "Per-project volume quotas, their defaults and usage."),
    ("os-services", "Services", "GET /os-services: the volume hosts (admins)."),
    ("os-types-extra-specs", "TypesExtraSpecs", "Extra specs of volume types."),
    ("os-types-manage", "TypesManage", "Create, update and delete volume types (admins)."),
    (
        "os-volume-type-access",
        "VolumeTypeAccess",
        "Private volume types and the projects they are shared with.",
    ),
    ("os-vol-host-attr", "VolumeHostAttribute", "os-vol-host-attr:host in the volume views (admins)."),
    (
        "os-vol-mig-status-attr",
        "VolumeMigStatusAttribute",
        "os-vol-mig-status-attr:migstat and :name_id in the volume views (admins).",
    ),
    ("os-vol-tenant-attr", "VolumeTenantAttribute", "os-vol-tenant-attr:tenant_id in the volume views."),
    ("os-vol-image-meta", "VolumeImageMetadata", "volume_image_metadata of volumes made from images."),
    (
        "os-volume-actions",
        "VolumeActions",
        "Volume actions: attach, detach, extend, upload to image, retype, bootable, read-only, reimage.",
    ),
    ("os-volume-transfer", "VolumeTransfer", "Transfer a volume to another project."),
)


@routes.get("/extensions")
def list_extensions(ctxt: RequestContext = Depends(get_context)) -> dict[str, Any]:
    policy.enforce(ctxt, policies.EXTENSIONS, {"project_id": ctxt.project_id})
    return {
        "extensions": [
            {"alias": alias, "name": name, "description": description, "updated": UPDATED, "links": []}
            for alias, name, description in EXTENSIONS
        ]
    }


@routes.get("/resource_filters")
def list_resource_filters(
    request: Request, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    if common.version(request) < versions.RESOURCE_FILTERS:
        raise common.NotFoundAtVersion()
    filters = api.catalog.resource_filters(ctxt, request.query_params.get("resource"))
    return {"resource_filters": filters}


@routes.get("/capabilities/{hostname}")
def show_capabilities(
    hostname: str, ctxt: RequestContext = Depends(get_context), api: VolumeAPI = Depends(common.service)
) -> dict[str, Any]:
    return api.catalog.capabilities(ctxt, hostname)
