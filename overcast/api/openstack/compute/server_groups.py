"""/os-server-groups: list, create, show, delete (soft policies from 2.15, owner shown from 2.13)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, parse_bool, parse_int
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.compute.schemas import Name, refuse_fields
from overcast.compute import policies
from overcast.compute.api.server_groups import GroupView, ServerGroupAPI

router = APIRouter()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Policy = Literal["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"]


class GroupRules(_Strict):
    max_server_per_host: Annotated[int, Field(ge=1)] | Annotated[str, Field(pattern=r"^[0-9]*[1-9][0-9]*$")]


class ServerGroupFields(_Strict):
    name: Name
    # Before 2.64 a list of one policy; from 2.64 one `policy` and its `rules`.
    policies: Annotated[list[str], Field(min_length=1, max_length=1)] | None = None
    policy: Policy | None = None
    rules: GroupRules | None = None

    def chosen(self, version: APIVersion) -> tuple[list[str], dict[str, Any]]:
        given = self.model_fields_set
        if version >= v.GROUP_POLICY_RULES:
            refuse_fields(given & {"policies"})
            if self.policy is None:
                raise errors.BadRequest(
                    "Invalid input for field/attribute server_group: 'policy' is a required property"
                )
            rules = {"max_server_per_host": int(self.rules.max_server_per_host)} if self.rules else {}
            return [self.policy], rules
        refuse_fields(given & {"policy", "rules"})
        if self.policies is None:
            raise errors.BadRequest(
                "Invalid input for field/attribute server_group: 'policies' is a required property"
            )
        return list(self.policies), {}


class ServerGroupCreateBody(_Strict):
    server_group: ServerGroupFields


def _api(req: ComputeRequest) -> ServerGroupAPI:
    return ServerGroupAPI(req.service.servers.db, req.service.quotas)


def _target(req: ComputeRequest, project_id: str | None = None) -> dict[str, Any]:
    return {"project_id": project_id or req.context.project_id, "user_id": req.context.user_id}


def _view(view: GroupView, version: APIVersion) -> dict[str, Any]:
    group = view.group
    body: dict[str, Any] = {"id": group.uuid, "name": group.name, "members": view.members}
    if version >= v.GROUP_POLICY_RULES:
        body.update(policy=group.policies[0] if group.policies else None, rules=dict(group.rules or {}))
    else:
        body.update(policies=list(group.policies), metadata=dict(group.metadata_items or {}))
    if version >= v.SERVER_GROUP_OWNER:
        body.update(project_id=group.project_id, user_id=group.user_id)
    return body


@router.get("/os-server-groups")
def list_server_groups(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, policies.SERVER_GROUPS_INDEX, _target(req))
    all_projects = bool(parse_bool("all_projects", request.query_params.get("all_projects")))
    if all_projects:
        policy.enforce(req.context, policies.SERVER_GROUPS_ALL_PROJECTS, _target(req))
    groups = _api(req).list(req.context, all_projects=all_projects)
    offset = parse_int("offset", request.query_params.get("offset") or None) or 0
    limit = parse_int("limit", request.query_params.get("limit") or None)
    groups = groups[offset : offset + limit] if limit else groups[offset:]
    return {"server_groups": [_view(group, req.version) for group in groups]}


@router.post("/os-server-groups")
def create_server_group(
    body: ServerGroupCreateBody, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    policy.enforce(req.context, policies.SERVER_GROUPS_CREATE, _target(req))
    policies_chosen, rules = body.server_group.chosen(req.version)
    created = _api(req).create(req.context, body.server_group.name, policies_chosen,
                               allow_soft=req.version >= v.SOFT_AFFINITY, rules=rules)  # fmt: skip
    return {"server_group": _view(created, req.version)}


@router.get("/os-server-groups/{group_id}")
def show_server_group(group_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    found = _api(req).get(req.context, group_id)
    policy.enforce(req.context, policies.SERVER_GROUPS_SHOW, _target(req, found.group.project_id))
    return {"server_group": _view(found, req.version)}


@router.delete("/os-server-groups/{group_id}", status_code=204)
def delete_server_group(group_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    found = _api(req).get(req.context, group_id)
    policy.enforce(req.context, policies.SERVER_GROUPS_DELETE, _target(req, found.group.project_id))
    _api(req).delete(req.context, group_id)
    return Response(status_code=204)
