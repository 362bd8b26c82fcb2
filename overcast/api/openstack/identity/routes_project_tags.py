"""/v3/projects/{project_id}/tags: a project's tags, one by one or all at once, as in Keystone."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, new_router
from overcast.context import RequestContext
from overcast.errors import NotFound
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)

TAGS = "/v3/projects/{project_id}/tags"
TAG = "/v3/projects/{project_id}/tags/{tag}"


class TagsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[str]


def _read(context: RequestContext, identity: IdentityService, project_id: str) -> None:
    policy.enforce(
        context,
        "identity:get_project_tags",
        identity.policy_targets.project(project_id),
        error=lambda _: NotFound(f"Could not find project: {project_id}."),
    )


def _write(context: RequestContext, identity: IdentityService, project_id: str) -> None:
    policy.enforce(context, "identity:manage_project_tags", identity.policy_targets.project(project_id))


@router.get(TAGS)
def list_project_tags(
    project_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context, identity, project_id)
    return {"tags": identity.project_tags.list_tags(project_id), "links": {"self": str(request.url)}}


@router.put(TAGS)
def replace_project_tags(
    project_id: str,
    body: TagsBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _write(context, identity, project_id)
    return {"tags": identity.project_tags.replace(project_id, body.tags), "links": {"self": str(request.url)}}


@router.delete(TAGS, status_code=204)
def delete_project_tags(
    project_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context, identity, project_id)
    identity.project_tags.delete_all(project_id)
    return Response(status_code=204)


@router.put(TAG, status_code=201)
def add_project_tag(
    project_id: str,
    tag: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Response:
    _write(context, identity, project_id)
    identity.project_tags.add(project_id, tag)
    return Response(status_code=201, headers={"Location": str(request.url)})


@router.head(TAG, status_code=204)
@router.get(TAG, status_code=204)
def check_project_tag(
    project_id: str, tag: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _read(context, identity, project_id)
    identity.project_tags.check(project_id, tag)
    return Response(status_code=204)


@router.delete(TAG, status_code=204)
def delete_project_tag(
    project_id: str, tag: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context, identity, project_id)
    identity.project_tags.delete(project_id, tag)
    return Response(status_code=204)
