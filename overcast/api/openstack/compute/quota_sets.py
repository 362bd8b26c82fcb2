"""/os-quota-sets/{project_id} (+ /defaults, /detail) and /os-quota-class-sets/{class}.

Versions: the network quotas go at 2.36 (quota class sets keep them until 2.50, which adds the server
group ones there), the file injection quotas at 2.57.

Per-user quotas: the ``user_id`` query on show, detail, update and delete names a user inside the project
(Nova's legacy quota driver); the body's ``id`` stays the project's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request, json_object
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.parameter_types import Boolean, QuotaLimit, check
from overcast.compute import policies
from overcast.compute.api.quota_views import QUOTA_CLASS_RESOURCES, QUOTA_SET_RESOURCES

router = APIRouter()

SHOW = policies.QUOTA_SHOW
DETAIL = policies.QUOTA_DETAIL
DEFAULTS = policies.QUOTA_DEFAULTS
UPDATE = policies.QUOTA_UPDATE
DELETE = policies.QUOTA_DELETE
CLASS_SHOW = policies.QUOTA_CLASS_SHOW
CLASS_UPDATE = policies.QUOTA_CLASS_UPDATE


NETWORK_QUOTAS = frozenset({"fixed_ips", "floating_ips", "security_group_rules", "security_groups"})
INJECTION_QUOTAS = frozenset({"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"})


def quota_set_resources(version: APIVersion) -> tuple[str, ...]:
    hidden: set[str] = set()
    if version >= v.NETWORK_QUOTAS_GONE:
        hidden |= NETWORK_QUOTAS
    if version >= v.PERSONALITY_GONE:
        hidden |= INJECTION_QUOTAS
    return tuple(name for name in QUOTA_SET_RESOURCES if name not in hidden)


def quota_class_resources(version: APIVersion) -> tuple[str, ...]:
    if version < v.QUOTA_CLASS_SERVER_GROUPS:
        return QUOTA_CLASS_RESOURCES
    hidden = NETWORK_QUOTAS | (INJECTION_QUOTAS if version >= v.PERSONALITY_GONE else frozenset())
    return tuple(name for name in QUOTA_SET_RESOURCES if name not in hidden)


def _only(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: values[name] for name in names if name in values}


def _user_id(request: Request) -> str | None:
    """The user the request is about, if any (an empty user_id is Nova's "no user")."""
    return request.query_params.get("user_id") or None


def _changes(fields: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, int]:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise errors.BadRequest(
            f"Invalid input for field/attribute quota_set. Additional properties are not allowed "
            f"({', '.join(repr(name) for name in unknown)} were unexpected)"
        )
    return {name: check(QuotaLimit, name, value) for name, value in fields.items()}


# --- os-quota-sets --------------------------------------------------------------------------------
@router.get("/os-quota-sets/{project_id}/defaults")
def show_defaults(project_id: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, DEFAULTS, {"project_id": project_id})
    req.admin.quotas.check_project(project_id)
    defaults = _only(req.admin.quotas.defaults(), quota_set_resources(req.compute.version))
    return {"quota_set": {"id": project_id, **defaults}}


@router.get("/os-quota-sets/{project_id}/detail")
def show_detail(
    project_id: str, request: Request, req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, DETAIL, {"project_id": project_id})
    user_id = _user_id(request)
    req.admin.quotas.check_project(project_id)
    quotas = req.admin.quotas
    found = quotas.user_details(project_id, user_id) if user_id else quotas.details(project_id)
    details = _only(found, quota_set_resources(req.compute.version))
    body: dict[str, Any] = {"id": project_id}
    for name, detail in details.items():
        body[name] = {"in_use": detail.in_use, "limit": detail.limit, "reserved": detail.reserved}
    return {"quota_set": body}


@router.get("/os-quota-sets/{project_id}")
def show_quota_set(
    project_id: str, request: Request, req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, SHOW, {"project_id": project_id})
    user_id = _user_id(request)
    req.admin.quotas.check_project(project_id)
    quotas = req.admin.quotas
    found = quotas.user_limits(project_id, user_id) if user_id else quotas.limits(project_id)
    limits = _only(found, quota_set_resources(req.compute.version))
    return {"quota_set": {"id": project_id, **limits}}


@router.put("/os-quota-sets/{project_id}")
def update_quota_set(
    project_id: str, request: Request, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, UPDATE, {"project_id": project_id})
    user_id = _user_id(request)
    fields = dict(json_object(body, "quota_set"))
    force = check(Boolean, "force", fields.pop("force")) if "force" in fields else False
    shown = quota_set_resources(req.compute.version)
    changes = _changes(fields, shown)
    quotas = req.admin.quotas
    quotas.check_project(project_id)
    if user_id:
        return {"quota_set": _only(quotas.update_user(project_id, user_id, changes, force=force), shown)}
    return {"quota_set": _only(quotas.update(project_id, changes, force=force), shown)}


@router.delete("/os-quota-sets/{project_id}", status_code=202)
def delete_quota_set(
    project_id: str, request: Request, req: AdminRequest = Depends(admin_request)
) -> Response:
    policy.enforce(req.context, DELETE, {"project_id": project_id})
    user_id = _user_id(request)
    if user_id:
        req.admin.quotas.reset_user(project_id, user_id)
    else:
        req.admin.quotas.reset(project_id)
    return Response(status_code=202)


# --- os-quota-class-sets --------------------------------------------------------------------------
@router.get("/os-quota-class-sets/{class_name}")
def show_quota_class_set(class_name: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, CLASS_SHOW)
    limits = _only(req.admin.quotas.class_limits(class_name), quota_class_resources(req.compute.version))
    return {"quota_class_set": {"id": class_name, **limits}}


@router.put("/os-quota-class-sets/{class_name}")
def update_quota_class_set(
    class_name: str, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, CLASS_UPDATE)
    if len(class_name) > 255:
        raise errors.BadRequest("The quota class name must be at most 255 characters.")
    shown = quota_class_resources(req.compute.version)
    changes = _changes(json_object(body, "quota_class_set"), shown)
    return {"quota_class_set": _only(req.admin.quotas.update_class(class_name, changes), shown)}
