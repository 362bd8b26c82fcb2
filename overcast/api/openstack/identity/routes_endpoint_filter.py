"""/v3/OS-EP-FILTER: endpoint groups and the endpoints and endpoint groups of projects."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, listing, new_router, with_link
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)

EP = "/v3/OS-EP-FILTER"
GROUPS = "OS-EP-FILTER/endpoint_groups"


class EndpointGroupBody(BaseModel):
    endpoint_group: dict[str, Any]


def _read(context: RequestContext) -> None:
    policy.enforce(context, "identity:get_endpoint_filter")


def _write(context: RequestContext) -> None:
    policy.enforce(context, "identity:manage_endpoint_filter")


def _no_content() -> Response:
    return Response(status_code=204)


@router.get(f"{EP}/endpoint_groups")
def list_endpoint_groups(
    request: Request,
    name: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _read(context)
    return listing(request, "endpoint_groups", GROUPS, identity.endpoint_filter.list_groups(name))


@router.post(f"{EP}/endpoint_groups", status_code=201)
def create_endpoint_group(
    body: EndpointGroupBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _write(context)
    fields = body.endpoint_group
    if not isinstance(fields.get("name"), str) or not fields["name"]:
        raise BadRequest("Invalid input for field 'name': 'name' is a required property.")
    return {"endpoint_group": with_link(request, GROUPS, identity.endpoint_filter.create_group(fields))}


@router.get(f"{EP}/endpoint_groups/{{endpoint_group_id}}")
def show_endpoint_group(
    endpoint_group_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _read(context)
    return {
        "endpoint_group": with_link(request, GROUPS, identity.endpoint_filter.get_group(endpoint_group_id))
    }


@router.head(f"{EP}/endpoint_groups/{{endpoint_group_id}}", status_code=200)
def check_endpoint_group(
    endpoint_group_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _read(context)
    identity.endpoint_filter.get_group(endpoint_group_id)
    return Response(status_code=200)


@router.patch(f"{EP}/endpoint_groups/{{endpoint_group_id}}")
def update_endpoint_group(
    endpoint_group_id: str,
    body: EndpointGroupBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _write(context)
    group = identity.endpoint_filter.update_group(endpoint_group_id, body.endpoint_group)
    return {"endpoint_group": with_link(request, GROUPS, group)}


@router.delete(f"{EP}/endpoint_groups/{{endpoint_group_id}}", status_code=204)
def delete_endpoint_group(
    endpoint_group_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context)
    identity.endpoint_filter.delete_group(endpoint_group_id)
    return _no_content()


@router.get(f"{EP}/endpoint_groups/{{endpoint_group_id}}/endpoints")
def list_endpoint_group_endpoints(
    endpoint_group_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _read(context)
    return listing(
        request, "endpoints", "endpoints", identity.endpoint_filter.group_endpoints(endpoint_group_id)
    )


@router.get(f"{EP}/endpoint_groups/{{endpoint_group_id}}/projects")
def list_endpoint_group_projects(
    endpoint_group_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _read(context)
    return listing(
        request, "projects", "projects", identity.endpoint_filter.group_projects(endpoint_group_id)
    )


GROUP_PROJECT = f"{EP}/endpoint_groups/{{endpoint_group_id}}/projects/{{project_id}}"


@router.put(GROUP_PROJECT, status_code=204)
def add_endpoint_group_to_project(
    endpoint_group_id: str,
    project_id: str,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Response:
    _write(context)
    identity.endpoint_filter.associate_group(endpoint_group_id, project_id)
    return _no_content()


@router.head(GROUP_PROJECT, status_code=200)
@router.get(GROUP_PROJECT, status_code=200)
def check_endpoint_group_in_project(
    endpoint_group_id: str,
    project_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Any:
    _read(context)
    identity.endpoint_filter.check_group(endpoint_group_id, project_id)
    if request.method == "HEAD":
        return Response(status_code=200)
    project = identity.api.get_project(project_id)
    return {"project": with_link(request, "projects", project)}


@router.delete(GROUP_PROJECT, status_code=204)
def remove_endpoint_group_from_project(
    endpoint_group_id: str,
    project_id: str,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Response:
    _write(context)
    identity.endpoint_filter.dissociate_group(endpoint_group_id, project_id)
    return _no_content()


@router.get(f"{EP}/projects/{{project_id}}/endpoint_groups")
def list_project_endpoint_groups(
    project_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return listing(request, "endpoint_groups", GROUPS, identity.endpoint_filter.project_groups(project_id))


PROJECT_ENDPOINT = f"{EP}/projects/{{project_id}}/endpoints/{{endpoint_id}}"


@router.put(PROJECT_ENDPOINT, status_code=204)
def add_endpoint_to_project(
    project_id: str, endpoint_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context)
    identity.endpoint_filter.associate_endpoint(project_id, endpoint_id)
    return _no_content()


@router.head(PROJECT_ENDPOINT, status_code=204)
@router.get(PROJECT_ENDPOINT, status_code=204)
def check_endpoint_in_project(
    project_id: str, endpoint_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _read(context)
    identity.endpoint_filter.check_endpoint(project_id, endpoint_id)
    return _no_content()


@router.delete(PROJECT_ENDPOINT, status_code=204)
def remove_endpoint_from_project(
    project_id: str, endpoint_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context)
    identity.endpoint_filter.dissociate_endpoint(project_id, endpoint_id)
    return _no_content()


@router.get(f"{EP}/projects/{{project_id}}/endpoints")
def list_project_endpoints(
    project_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return listing(request, "endpoints", "endpoints", identity.endpoint_filter.project_endpoints(project_id))


@router.get(f"{EP}/endpoints/{{endpoint_id}}/projects")
def list_endpoint_projects(
    endpoint_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return listing(request, "projects", "projects", identity.endpoint_filter.endpoint_projects(endpoint_id))
