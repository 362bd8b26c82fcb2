"""Nova's security-group proxies: /os-security-groups and /os-security-group-rules (up to 2.35, 404
after, as Nova), and /servers/{id}/os-security-groups (every version), in Nova's legacy format.

Rules show Nova's fields (`ip_protocol`, `from_port`/`to_port` with -1 for none, `ip_range: {"cidr"}` or
`group: {"name", "tenant_id"}`, `parent_group_id`); only ingress rules are shown, as Nova does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import (
    ComputeRequest,
    compute_request,
    parse_bool,
    parse_int,
    require_version,
)
from overcast.api.openstack.compute.microversion import MIN_VERSION
from overcast.compute import policies as rules
from overcast.compute.api.security_group_proxy import WHOLE_RANGE_PROTOCOLS, LegacyRule, SecurityGroupProxy
from overcast.network.api.records import Record

router = APIRouter()


def _proxy(req: ComputeRequest, rule: str) -> SecurityGroupProxy:
    require_version(req, MIN_VERSION, v.NETWORK_QUOTAS_GONE)
    policy.enforce(req.context, rule, {"project_id": req.context.project_id})
    return req.service.security_group_proxy


def _ports(rule: Record) -> tuple[int | None, int | None]:
    low, high = rule["port_range_min"], rule["port_range_max"]
    protocol = rule["protocol"]
    if protocol and low is None and high is None:
        return (1, 65535) if protocol.lower() in WHOLE_RANGE_PROTOCOLS else (-1, -1)
    if protocol == "icmp":
        return (-1 if low is None else low), (-1 if high is None else high)
    return low, high


def rule_view(rule: Record, groups: dict[str, Record]) -> dict[str, Any]:
    from_port, to_port = _ports(rule)
    body: dict[str, Any] = {
        "id": rule["id"],
        "parent_group_id": rule["security_group_id"],
        "ip_protocol": rule["protocol"],
        "from_port": from_port,
        "to_port": to_port,
        "group": {},
        "ip_range": {},
    }
    remote = rule["remote_group_id"]
    if remote is not None:
        source = groups.get(remote)
        body["group"] = {
            "name": source["name"] if source else None,
            "tenant_id": source["project_id"] if source else None,
        }
    else:
        body["ip_range"] = {
            "cidr": rule["remote_ip_prefix"] or ("::/0" if rule["ethertype"] == "IPv6" else "0.0.0.0/0")
        }
    return body


def group_view(group: Record, groups: dict[str, Record]) -> dict[str, Any]:
    known = {**groups, group["id"]: group}
    return {
        "id": group["id"],
        "name": group["name"],
        "description": group["description"],
        "tenant_id": group["project_id"],
        "rules": [
            rule_view(rule, known) for rule in group["security_group_rules"] if rule["direction"] == "ingress"
        ],
    }


def _views(req: ComputeRequest, found: list[Record]) -> list[dict[str, Any]]:
    remotes = {
        rule["remote_group_id"]
        for group in found
        for rule in group["security_group_rules"]
        if rule["remote_group_id"] is not None
    } - {group["id"] for group in found}
    named = req.service.security_group_proxy.names(req.context, remotes)
    by_id = {group["id"]: group for group in found} | named
    return [group_view(group, by_id) for group in found]


def _object(body: Any, key: str) -> dict[str, Any]:
    inner = body.get(key) if isinstance(body, dict) else None
    if not isinstance(inner, dict):
        raise errors.BadRequest(
            f"Invalid input for field/attribute {key}. Value: {body}. '{key}' is a required property"
        )
    return inner


def _text(fields: dict[str, Any], name: str, required: bool = True) -> str:
    value = fields.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > 255 or (required and not value.strip()):
        raise errors.BadRequest(f"Security group {name} must be a string of 1 to 255 characters.")
    return value


def _port(fields: dict[str, Any], name: str) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"{name} must be an integer.") from None


@router.get("/os-security-groups")
def list_groups(request: Request, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    proxy = _proxy(req, rules.SECURITY_GROUPS_GET)
    everyone = parse_bool("all_tenants", request.query_params.get("all_tenants")) or False
    found = proxy.list(req.context, everyone)
    offset = parse_int("offset", request.query_params.get("offset")) or 0
    limit = parse_int("limit", request.query_params.get("limit"))
    page = found[offset:] if limit is None else found[offset : offset + limit]
    return {"security_groups": _views(req, page)}


@router.get("/os-security-groups/{group_id}")
def show_group(group_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    proxy = _proxy(req, rules.SECURITY_GROUPS_SHOW)
    return {"security_group": _views(req, [proxy.get(req.context, group_id)])[0]}


@router.post("/os-security-groups")
def create_group(body: Any = Body(None), req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    proxy = _proxy(req, rules.SECURITY_GROUPS_CREATE)
    fields = _object(body, "security_group")
    created = proxy.create(req.context, _text(fields, "name"), _text(fields, "description", required=False))
    return {"security_group": _views(req, [created])[0]}


@router.put("/os-security-groups/{group_id}")
def update_group(
    group_id: str, body: Any = Body(None), req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    proxy = _proxy(req, rules.SECURITY_GROUPS_UPDATE)
    fields = _object(body, "security_group")
    updated = proxy.update(
        req.context, group_id, _text(fields, "name"), _text(fields, "description", required=False)
    )
    return {"security_group": _views(req, [updated])[0]}


@router.delete("/os-security-groups/{group_id}", status_code=202)
def delete_group(group_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    _proxy(req, rules.SECURITY_GROUPS_DELETE).delete(req.context, group_id)
    return Response(status_code=202)


@router.post("/os-security-group-rules")
def create_rule(body: Any = Body(None), req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    proxy = _proxy(req, rules.SECURITY_GROUP_RULES_CREATE)
    fields = _object(body, "security_group_rule")
    parent = fields.get("parent_group_id")
    if not isinstance(parent, str) or not parent:
        raise errors.BadRequest("Security group id should be uuid")
    protocol = fields.get("ip_protocol")
    group_id = fields.get("group_id")
    cidr = fields.get("cidr")
    legacy = LegacyRule(
        parent_group_id=parent,
        ip_protocol=str(protocol) if protocol is not None else None,
        from_port=_port(fields, "from_port"),
        to_port=_port(fields, "to_port"),
        cidr=str(cidr) if cidr else None,
        group_id=str(group_id) if group_id else None,
    )
    created = proxy.create_rule(req.context, legacy)
    remote = created["remote_group_id"]
    named = proxy.names(req.context, {remote} if remote else set())
    return {"security_group_rule": rule_view(created, named)}


@router.delete("/os-security-group-rules/{rule_id}", status_code=202)
def delete_rule(rule_id: str, req: ComputeRequest = Depends(compute_request)) -> Response:
    _proxy(req, rules.SECURITY_GROUP_RULES_DELETE).delete_rule(req.context, rule_id)
    return Response(status_code=202)


@router.get("/servers/{server_id}/os-security-groups")
def server_groups(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    project_id, found = req.service.security_group_proxy.of_server(req.context, server_id)
    policy.enforce(req.context, rules.SERVER_SECURITY_GROUPS_LIST, {"project_id": project_id})
    return {"security_groups": _views(req, found)}
