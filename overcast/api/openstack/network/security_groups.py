"""/networking/v2.0/security-groups and /security-group-rules (rules are created and deleted, never
changed, as in Neutron)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.api.openstack.network.schemas import (
    SecurityGroupCreateBody,
    SecurityGroupRuleCreateBody,
    SecurityGroupUpdateBody,
)
from overcast.context import RequestContext
from overcast.network import policies
from overcast.network.api.service import NetworkAPI

router = APIRouter()


@router.post(policies.SECURITY_GROUPS, status_code=201)
def create_security_group(
    body: SecurityGroupCreateBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"security_group": api.security_groups.create(ctxt, body.security_group.given())}


@router.get(policies.SECURITY_GROUPS)
def list_security_groups(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    query = common.list_query(request)
    return common.collection(request, "security_groups", api.security_groups.list(ctxt, query), query)


@router.get(policies.SECURITY_GROUP)
def show_security_group(
    security_group_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return common.single(request, "security_group", api.security_groups.get(ctxt, security_group_id))


@router.put(policies.SECURITY_GROUP)
def update_security_group(
    security_group_id: str,
    body: SecurityGroupUpdateBody,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    changed = api.security_groups.update(
        ctxt, security_group_id, body.security_group.given(), revision=revision
    )
    return {"security_group": changed}


@router.delete(policies.SECURITY_GROUP, status_code=204)
def delete_security_group(
    security_group_id: str,
    ctxt: RequestContext = Depends(get_context),
    revision: int | None = Depends(common.if_match_revision),
    api: NetworkAPI = Depends(common.service),
) -> Response:
    api.security_groups.delete(ctxt, security_group_id, revision=revision)
    return Response(status_code=204)


@router.post(policies.SECURITY_GROUP_RULES, status_code=201)
def create_security_group_rule(
    body: SecurityGroupRuleCreateBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"security_group_rule": api.security_groups.create_rule(ctxt, body.security_group_rule.given())}


@router.get(policies.SECURITY_GROUP_RULES)
def list_security_group_rules(
    request: Request, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    query = common.list_query(request)
    found = api.security_groups.list_rules(ctxt, query)
    return common.collection(request, "security_group_rules", found, query)


@router.get(policies.SECURITY_GROUP_RULE)
def show_security_group_rule(
    security_group_rule_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return common.single(
        request, "security_group_rule", api.security_groups.get_rule(ctxt, security_group_rule_id)
    )


@router.delete(policies.SECURITY_GROUP_RULE, status_code=204)
def delete_security_group_rule(
    security_group_rule_id: str,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> Response:
    api.security_groups.delete_rule(ctxt, security_group_rule_id)
    return Response(status_code=204)
