"""/v3/domains, /v3/projects, /v3/users (with password change) and /v3/roles."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query, Request, Response

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, listing, new_router, query_bool, with_link
from overcast.api.openstack.identity.schemas import (
    DomainBody,
    PasswordChangeBody,
    ProjectBody,
    RoleBody,
    UserBody,
    set_fields,
)
from overcast.context import RequestContext
from overcast.errors import BadRequest, NotFound
from overcast.identity.core import DEFAULT_DOMAIN_ID
from overcast.identity.project_tags import tags_match
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)


def _required_name(fields: dict[str, Any], what: str) -> None:
    if not fields.get("name"):
        raise BadRequest(f"Invalid input for field 'name': a {what} needs a name.")


def _own_domain_unless_everyone(context: RequestContext, domain_id: str | None) -> str | None:
    """A domain manager lists their own domain's projects and users; admins and system readers, all."""
    if domain_id is None and not context.is_admin and context.system_scope is None:
        return context.domain_id
    return domain_id


# Domains ------------------------------------------------------------------------------------------------
@router.get("/v3/domains")
def list_domains(
    request: Request,
    name: str | None = None,
    enabled: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_domains")
    return listing(request, "domains", "domains", identity.api.list_domains(name, query_bool(enabled)))


@router.post("/v3/domains", status_code=201)
def create_domain(
    body: DomainBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_domain")
    fields = set_fields(body.domain)
    _required_name(fields, "domain")
    return {"domain": with_link(request, "domains", identity.api.create_domain(fields))}


@router.get("/v3/domains/{domain_id}")
def show_domain(
    domain_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_domain", {"domain_id": domain_id})
    return {"domain": with_link(request, "domains", identity.api.get_domain(domain_id))}


@router.patch("/v3/domains/{domain_id}")
def update_domain(
    domain_id: str,
    body: DomainBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_domain")
    return {
        "domain": with_link(
            request, "domains", identity.api.update_domain(domain_id, set_fields(body.domain))
        )
    }


@router.delete("/v3/domains/{domain_id}", status_code=204)
def delete_domain(
    domain_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_domain")
    identity.api.delete_domain(domain_id)
    return Response(status_code=204)


# Projects -----------------------------------------------------------------------------------------------
def _tag_list(value: str | None) -> list[str] | None:
    return [tag for tag in value.split(",") if tag] if value else None


@router.get("/v3/projects")
def list_projects(
    request: Request,
    name: str | None = None,
    domain_id: str | None = None,
    enabled: str | None = None,
    parent_id: str | None = None,
    is_domain: str | None = None,
    tags: str | None = None,
    tags_any: str | None = Query(default=None, alias="tags-any"),
    not_tags: str | None = Query(default=None, alias="not-tags"),
    not_tags_any: str | None = Query(default=None, alias="not-tags-any"),
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_projects", {"domain_id": domain_id or context.domain_id})
    projects = identity.api.list_projects(
        _own_domain_unless_everyone(context, domain_id), name, query_bool(enabled)
    )
    if query_bool(is_domain):
        projects = []  # no project here acts as a domain
    wanted = (_tag_list(tags), _tag_list(tags_any), _tag_list(not_tags), _tag_list(not_tags_any))
    projects = [
        project
        for project in projects
        if (parent_id is None or project["parent_id"] == parent_id) and tags_match(project["tags"], *wanted)
    ]
    return listing(request, "projects", "projects", projects)


@router.post("/v3/projects", status_code=201)
def create_project(
    body: ProjectBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    fields = set_fields(body.project)
    _required_name(fields, "project")
    fields["domain_id"] = fields.get("domain_id") or context.domain_id or DEFAULT_DOMAIN_ID
    policy.enforce(context, "identity:manage_project", {"domain_id": fields["domain_id"]})
    return {"project": with_link(request, "projects", identity.api.create_project(fields))}


@router.get("/v3/projects/{project_id}")
def show_project(
    project_id: str,
    request: Request,
    parents_as_list: str | None = None,
    subtree_as_list: str | None = None,
    parents_as_ids: str | None = None,
    subtree_as_ids: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    # Another project is invisible to a non-admin: 404, not 403, so ids cannot be probed.
    policy.enforce(
        context,
        "identity:get_project",
        identity.policy_targets.project(project_id),
        error=lambda _: NotFound(f"Could not find project: {project_id}."),
    )
    project = with_link(request, "projects", identity.api.get_project(project_id))
    parents = _hierarchy_form(parents_as_list, parents_as_ids, "parents")
    subtree = _hierarchy_form(subtree_as_list, subtree_as_ids, "subtree")
    if parents or subtree:
        everyone = context.is_admin or context.system_scope is not None
        around = identity.hierarchy.around(
            project_id, parents=parents, subtree=subtree, viewer=None if everyone else context.user_id
        )
        for key, shown in around.items():
            if isinstance(shown, list):
                for entry in shown:
                    entry["project"] = with_link(request, "projects", entry["project"])
            project[key] = shown
    return {"project": project}


def _hierarchy_form(as_list: str | None, as_ids: str | None, what: str) -> str | None:
    """Which form of the parents or subtree the query asks for (a bare flag counts as asked)."""
    wants_list, wants_ids = query_bool(as_list), query_bool(as_ids)
    if wants_list and wants_ids:
        raise BadRequest(f"Cannot use {what}_as_list and {what}_as_ids query params at the same time.")
    return "list" if wants_list else "ids" if wants_ids else None


@router.patch("/v3/projects/{project_id}")
def update_project(
    project_id: str,
    body: ProjectBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_project", identity.policy_targets.project(project_id))
    project = identity.api.update_project(project_id, set_fields(body.project))
    return {"project": with_link(request, "projects", project)}


@router.delete("/v3/projects/{project_id}", status_code=204)
def delete_project(
    project_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_project", identity.policy_targets.project(project_id))
    identity.api.delete_project(project_id)
    return Response(status_code=204)


# Users --------------------------------------------------------------------------------------------------
@router.get("/v3/users")
def list_users(
    request: Request,
    name: str | None = None,
    domain_id: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_users", {"domain_id": domain_id or context.domain_id})
    users = identity.api.list_users(_own_domain_unless_everyone(context, domain_id), name)
    return listing(request, "users", "users", users)


@router.post("/v3/users", status_code=201)
def create_user(
    body: UserBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    fields = set_fields(body.user)
    _required_name(fields, "user")
    fields["domain_id"] = fields.get("domain_id") or context.domain_id or DEFAULT_DOMAIN_ID
    policy.enforce(context, "identity:manage_user", {"domain_id": fields["domain_id"]})
    password = fields.pop("password", None)
    return {"user": with_link(request, "users", identity.api.create_user(fields, password))}


@router.get("/v3/users/{user_id}")
def show_user(
    user_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_user", identity.policy_targets.user(user_id))
    return {"user": with_link(request, "users", identity.api.get_user(user_id))}


@router.patch("/v3/users/{user_id}")
def update_user(
    user_id: str,
    body: UserBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_user", identity.policy_targets.user(user_id))
    return {"user": with_link(request, "users", identity.api.update_user(user_id, set_fields(body.user)))}


@router.post("/v3/users/{user_id}/password", status_code=204)
def change_password(
    user_id: str,
    body: PasswordChangeBody,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Response:
    policy.enforce(context, "identity:change_password", {"user_id": user_id})
    identity.api.change_password(user_id, body.user.original_password, body.user.password)
    return Response(status_code=204)


@router.delete("/v3/users/{user_id}", status_code=204)
def delete_user(
    user_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_user", identity.policy_targets.user(user_id))
    identity.api.delete_user(user_id)
    return Response(status_code=204)


@router.get("/v3/users/{user_id}/projects")
def list_user_projects(
    user_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_user_projects", identity.policy_targets.user(user_id))
    return listing(request, "projects", "projects", identity.api.list_user_projects(user_id))


# Roles --------------------------------------------------------------------------------------------------
@router.get("/v3/roles")
def list_roles(
    request: Request,
    name: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_roles")
    return listing(request, "roles", "roles", identity.api.list_roles(name))


@router.post("/v3/roles", status_code=201)
def create_role(
    body: RoleBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_role")
    fields = set_fields(body.role)
    _required_name(fields, "role")
    return {"role": with_link(request, "roles", identity.api.create_role(fields))}


@router.get("/v3/roles/{role_id}")
def show_role(
    role_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_role")
    return {"role": with_link(request, "roles", identity.api.get_role(role_id))}


@router.patch("/v3/roles/{role_id}")
def update_role(
    role_id: str,
    body: RoleBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:manage_role")
    return {"role": with_link(request, "roles", identity.api.update_role(role_id, set_fields(body.role)))}


@router.delete("/v3/roles/{role_id}", status_code=204)
def delete_role(
    role_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:manage_role")
    identity.api.delete_role(role_id)
    return Response(status_code=204)
