"""Volumes as each microversion and role shows them (Cinder's views/volumes.py): the summary list gives
id, name and links; the detail adds every attribute, admin-only ones for admins, and each
microversion's additions from its version on."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from overcast import policy
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.volume import policies
from overcast.volume.api.records import Record

ADMIN_ATTRIBUTES = (
    (policies.HOST_ATTRIBUTE, ("os-vol-host-attr:host",)),
    (policies.MIG_STATUS_ATTRIBUTE, ("os-vol-mig-status-attr:migstat", "os-vol-mig-status-attr:name_id",
                                     "migration_status")),
)  # fmt: skip
# Attribute → the version that added it (absent below it).
SINCE: dict[str, APIVersion] = {
    "group_id": versions.GROUP_ID,
    "provider_id": versions.PROVIDER_ID,
    "shared_targets": versions.SHARED_TARGETS,
    "service_uuid": versions.SHARED_TARGETS,
    "cluster_name": versions.CLUSTER_NAME,
    "volume_type_id": versions.VOLUME_TYPE_ID,
    "consumes_quota": versions.CONSUMES_QUOTA,
}
# Shown by version, and to admins only.
ADMIN_SINCE = {"provider_id": policies.PROVIDER_ID_ATTRIBUTE, "cluster_name": policies.HOST_ATTRIBUTE}
# Never shown: encryption_key_id appears (3.64) only for encrypted volumes, and none is.
HIDDEN = ("encryption_key_id",)


def volume_summary(request: Request, record: Record) -> dict[str, Any]:
    return {
        "id": record["id"],
        "name": record["name"],
        "links": common.self_links(request, "volumes", record["id"]),
    }


def volume_detail(request: Request, ctxt: RequestContext, record: Record) -> dict[str, Any]:
    version = common.version(request)
    target = {"project_id": record["_project_id"]}
    shown = {key: value for key, value in record.items() if not key.startswith("_") and key not in HIDDEN}
    for rule, attributes in ADMIN_ATTRIBUTES:
        if not policy.authorize(ctxt, rule, target):
            for attribute in attributes:
                shown.pop(attribute, None)
    for attribute, since in SINCE.items():
        admin_rule = ADMIN_SINCE.get(attribute)
        if version < since or (admin_rule is not None and not policy.authorize(ctxt, admin_rule, target)):
            shown.pop(attribute, None)
    shown["links"] = common.self_links(request, "volumes", record["id"])
    return shown
