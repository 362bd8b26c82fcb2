"""Security groups on the network service: Create/Describe/DeleteSecurityGroup and
Authorize/RevokeSecurityGroupIngress/Egress.

An EC2 permission (`IpPermissions.N`: a protocol, a port range, CIDR ranges and group pairs) is a set of
Neutron rules, one per range or group (and per address family); DescribeSecurityGroups folds a group's
rules back into permissions. A rule with neither a CIDR nor a remote group is Neutron's "anywhere":
0.0.0.0/0 (or ::/0). ICMP's FromPort/ToPort are its type and code, -1 meaning all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from overcast.ec2 import ids
from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Handler, Response, listing_recorder
from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter
from overcast.ec2.filtering import FilterTable
from overcast.ec2.pagination import page
from overcast.ec2.params import Params, filters_of
from overcast.ec2.tags import set_tags, tag_set, tag_specifications, tags_of
from overcast.ec2.vpcs import private_networks
from overcast.network import policies as network_policies
from overcast.network.api.queries import ListQuery

Record = dict[str, Any]
MAX_NAME = 255
# AWS's protocol names and numbers for Neutron's protocol names.
_PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17", "icmp": "1", "icmpv6": "58"}
_PORTED = ("tcp", "udp")


def _groups(backends: Backends, request: Ec2Request, uuids: Sequence[str] = ()) -> list[Record]:
    query = ListQuery(filters={"id": list(uuids)} if uuids else {"project_id": [request.project_id]})
    return list(backends.compute.network.security_groups.list(request.context, query))


record_visible = listing_recorder(ids.SECURITY_GROUP, _groups)


def _group_uuid(backends: Backends, request: Ec2Request, params: Params) -> str:
    """The group a request names by GroupId, else by GroupName (the caller's own)."""
    group_id = params.get("GroupId")
    if group_id:
        return backends.resolve(request.context, [group_id], (ids.SECURITY_GROUP,))[group_id].uuid
    name = params.get("GroupName")
    if not name:
        raise missing_parameter("GroupId")
    named = [group for group in _groups(backends, request) if group["name"] == name]
    if not named:
        raise Ec2Error("InvalidGroup.NotFound", f"The security group '{name}' does not exist")
    return str(named[0]["id"])


def _arn(backends: Backends, owner: str, group_id: str) -> str:
    return f"arn:aws:ec2:{backends.region}:{owner}:security-group/{group_id}"


# --- create, describe, delete -----------------------------------------------------------------------
def create_security_group(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    name = params.required("GroupName")
    description = params.required("GroupDescription")
    for field, value in (("GroupName", name), ("GroupDescription", description)):
        if len(value) > MAX_NAME:
            raise invalid_value(field, value, f"It is at most {MAX_NAME} characters.")
    if name.lower().startswith("sg-"):
        raise invalid_value("GroupName", name, "Group names may not start with 'sg-'.")
    vpc = params.get("VpcId")
    if vpc:
        network = backends.ids.resolve([vpc], (ids.VPC,))[vpc].uuid
        if not private_networks(backends, request, [network]):
            raise ids.not_found(ids.VPC, [vpc])
    tags = tag_specifications(params, "security-group")
    if any(group["name"] == name for group in _groups(backends, request)):
        raise Ec2Error("InvalidGroup.Duplicate", f"The security group '{name}' already exists")
    record = backends.compute.network.security_groups.create(
        request.context, {"name": name, "description": description}
    )
    group_id = backends.ids.id_of(ids.SECURITY_GROUP, str(record["id"]), request.project_id)
    set_tags(backends, request.project_id, [group_id], tags)
    return {"return": True, "groupId": group_id, "tagSet": tag_set(tags) or None,
            "securityGroupArn": _arn(backends, request.project_id, group_id)}  # fmt: skip


def _range_of(rule: Record) -> tuple[str, int | None, int | None]:
    protocol = rule.get("protocol")
    name = str(protocol) if protocol is not None else "-1"
    if name in ("any", "0"):
        name = "-1"
    if name in _PORTED:
        return name, rule.get("port_range_min"), rule.get("port_range_max")
    if name in ("icmp", "icmpv6", "ipv6-icmp"):
        low, high = rule.get("port_range_min"), rule.get("port_range_max")
        return name, -1 if low is None else low, -1 if high is None else high
    return name, None, None


def permissions_of(rules: Sequence[Record], direction: str, group_ids: dict[str, str],
                   owners: dict[str, str]) -> list[dict[str, Any]]:  # fmt: skip
    """A group's rules in one direction as EC2's IpPermissions (one per protocol and port range)."""
    folded: dict[tuple[str, int | None, int | None], dict[str, Any]] = {}
    for rule in rules:
        if rule["direction"] != direction:
            continue
        key = _range_of(rule)
        permission = folded.setdefault(key, {
            "ipProtocol": key[0], "fromPort": key[1], "toPort": key[2], "groups": [], "ipRanges": [],
            "ipv6Ranges": [], "prefixListIds": [],
        })  # fmt: skip
        remote_group = rule.get("remote_group_id")
        prefix = rule.get("remote_ip_prefix")
        if remote_group:
            pair = {
                "groupId": group_ids.get(str(remote_group), ""),
                "userId": owners.get(str(remote_group), ""),
            }
            permission["groups"].append(pair)
        elif rule["ethertype"] == "IPv6":
            permission["ipv6Ranges"].append({"cidrIpv6": prefix or "::/0"})
        else:
            permission["ipRanges"].append({"cidrIp": prefix or "0.0.0.0/0"})
    return list(folded.values())


def _group_views(backends: Backends, groups: Sequence[Record]) -> list[dict[str, Any]]:
    owners = {str(g["id"]): str(g.get("project_id") or "") for g in groups}
    remote = {
        str(r["remote_group_id"]) for g in groups for r in g["security_group_rules"] if r["remote_group_id"]
    }
    known = {**{group: "" for group in remote}, **owners}
    group_ids = backends.ids.ids_of(
        ids.SECURITY_GROUP, {uuid: owner or None for uuid, owner in known.items()}
    )
    with backends.db.reader() as session:
        tags = tags_of(session, [group_ids[str(g["id"])] for g in groups])
    views = []
    for group in groups:
        group_id = group_ids[str(group["id"])]
        rules = group["security_group_rules"]
        views.append({
            "ownerId": owners[str(group["id"])], "groupName": group["name"], "groupId": group_id,
            "groupDescription": group["description"] or "",
            "ipPermissions": permissions_of(rules, "ingress", group_ids, owners),
            "ipPermissionsEgress": permissions_of(rules, "egress", group_ids, owners),
            "vpcId": None, "tagSet": tag_set(tags.get(group_id, {})) or None,
            "securityGroupArn": _arn(backends, owners[str(group["id"])], group_id),
        })  # fmt: skip
    return views


def _permission_values(field: str, where: str) -> Any:
    def read(view: dict[str, Any]) -> list[object]:
        return [value for permission in view[where] for value in _field(permission, field)]

    return read


def _field(permission: dict[str, Any], field: str) -> list[object]:
    if field == "cidr":
        return [r["cidrIp"] for r in permission["ipRanges"]]
    if field == "ipv6-cidr":
        return [r["cidrIpv6"] for r in permission["ipv6Ranges"]]
    if field == "group-id":
        return [g["groupId"] for g in permission["groups"]]
    if field == "protocol":
        return [permission["ipProtocol"]]
    if field == "from-port":
        return [permission["fromPort"]]
    return [permission["toPort"]]


GROUP_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "description": lambda g: g["groupDescription"],
    "group-id": lambda g: g["groupId"],
    "group-name": lambda g: g["groupName"],
    "owner-id": lambda g: g["ownerId"],
    "vpc-id": lambda g: g["vpcId"],
    **{f"ip-permission.{field}": _permission_values(field, "ipPermissions")
       for field in ("cidr", "ipv6-cidr", "group-id", "protocol", "from-port", "to-port")},
    **{f"egress.ip-permission.{field}": _permission_values(field, "ipPermissionsEgress")
       for field in ("cidr", "ipv6-cidr", "group-id", "protocol", "from-port", "to-port")},
}, tags=lambda g: {tag["key"]: tag["value"] for tag in g["tagSet"] or []})  # fmt: skip


def describe_security_groups(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    wanted = params.strings("GroupId")
    names = params.strings("GroupName")
    filters = filters_of(params)
    GROUP_FILTERS.check(filters)
    backends.compute.network.security_groups.ensure_default(request.project_id)
    if wanted:
        found = backends.resolve(request.context, wanted, (ids.SECURITY_GROUP,))
        groups = _groups(backends, request, [found[group_id].uuid for group_id in wanted])
        owners = {str(g["id"]): g.get("project_id") for g in groups}
        shown = set(backends.ids.ids_of(ids.SECURITY_GROUP, owners).values())
        missing = [group_id for group_id in wanted if group_id not in shown]
        if missing:
            raise ids.not_found(ids.SECURITY_GROUP, missing)
    else:
        groups = _groups(backends, request)
    if names:
        groups = [group for group in groups if group["name"] in names]
        unknown = sorted(set(names) - {str(group["name"]) for group in groups})
        if unknown:
            raise Ec2Error("InvalidGroup.NotFound", f"The security group '{unknown[0]}' does not exist")
    groups.sort(key=lambda group: str(group.get("created_at") or ""))
    views = GROUP_FILTERS.apply(_group_views(backends, groups), filters)
    shown_views, token = page(views, params, key=backends.token_key,
                              scope=f"DescribeSecurityGroups:{request.project_id}")  # fmt: skip
    return {"securityGroupInfo": list(shown_views), "nextToken": token}


def delete_security_group(backends: Backends, request: Ec2Request) -> Response:
    uuid = _group_uuid(backends, request, request.params)
    group = backends.compute.network.security_groups.get(request.context, uuid)
    if group["name"] == "default":
        raise Ec2Error("CannotDelete", 'the specified group: "default" name: "default" cannot be deleted')
    backends.compute.network.security_groups.delete(request.context, uuid)
    return {"return": True}


# --- rules ------------------------------------------------------------------------------------------
def _port(params: Params, name: str) -> int | None:
    return params.integer(name, low=-1, high=65535)


def _protocol(value: str) -> str | None:
    """Neutron's protocol for an EC2 IpProtocol ("-1": all of them)."""
    lowered = value.lower()
    if lowered in ("-1", "all"):
        return None
    numbers = {number: name for name, number in _PROTOCOL_NUMBERS.items()}
    if lowered in _PROTOCOL_NUMBERS:
        return lowered
    if lowered in numbers:
        return numbers[lowered]
    if lowered.isascii() and lowered.isdigit() and 0 <= int(lowered) <= 255:
        return lowered
    raise invalid_value("IpProtocol", value, "It is tcp, udp, icmp, icmpv6, -1 or a protocol number.")


def _permissions(params: Params) -> list[Params]:
    """`IpPermissions.N`, or the flat form (IpProtocol, FromPort, ToPort, CidrIp) older clients send."""
    permissions = params.structs("IpPermissions")
    if permissions:
        return permissions
    if params.get("IpProtocol") or params.get("CidrIp") or params.get("SourceSecurityGroupName"):
        return [params]
    raise missing_parameter("IpPermissions")


def neutron_rules(backends: Backends, request: Ec2Request, group_uuid: str, direction: str) -> list[Record]:
    """The Neutron rules the request's permissions stand for."""
    rules: list[Record] = []
    for permission in _permissions(request.params):
        protocol = _protocol(permission.required("IpProtocol"))
        low, high = _port(permission, "FromPort"), _port(permission, "ToPort")
        if protocol in _PORTED:
            if low is None or high is None or low < 0 or high < low:
                raise invalid_value("FromPort", low, "TCP and UDP need a port range (FromPort <= ToPort).")
            ports: dict[str, int | None] = {"port_range_min": low, "port_range_max": high}
        elif protocol in ("icmp", "icmpv6"):
            ports = {"port_range_min": None if low in (None, -1) else low,
                     "port_range_max": None if high in (None, -1) else high}  # fmt: skip
        else:
            ports = {"port_range_min": None, "port_range_max": None}
        base = {"security_group_id": group_uuid, "direction": direction, "protocol": protocol, **ports}
        remotes: list[dict[str, Any]] = []
        cidrs = [r.required("CidrIp") for r in permission.structs("IpRanges")]
        if permission is request.params and request.params.get("CidrIp"):
            cidrs.append(str(request.params.get("CidrIp")))
        cidrs += [r.required("CidrIpv6") for r in permission.structs("Ipv6Ranges")]
        for cidr in cidrs:
            try:
                network = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise invalid_value("CidrIp", cidr, "It is not a CIDR block.") from None
            ethertype = "IPv6" if network.version == 6 else "IPv4"
            remotes.append({"ethertype": ethertype, "remote_ip_prefix": str(network)})
        pairs = [pair.get("GroupId") or pair.get("GroupName") for pair in permission.structs("Groups")]
        if permission is request.params and request.params.get("SourceSecurityGroupName"):
            pairs.append(request.params.get("SourceSecurityGroupName"))
        for pair in pairs:
            if not pair:
                raise missing_parameter("Groups.GroupId")
            if pair.startswith("sg-"):
                remote = backends.resolve(request.context, [pair], (ids.SECURITY_GROUP,))[pair].uuid
            else:
                named = [g for g in _groups(backends, request) if g["name"] == pair]
                if not named:
                    raise Ec2Error("InvalidGroup.NotFound", f"The security group '{pair}' does not exist")
                remote = str(named[0]["id"])
            remotes.append({"ethertype": "IPv4", "remote_group_id": remote})
        if not remotes:
            raise missing_parameter("IpRanges")
        rules += [{**base, "remote_ip_prefix": None, "remote_group_id": None, **remote} for remote in remotes]
    return rules


def _matches(existing: Record, wanted: Record) -> bool:
    def prefix(value: object) -> str | None:
        return str(ipaddress.ip_network(str(value), strict=False)) if value else None

    return (
        existing["direction"] == wanted["direction"] and existing["ethertype"] == wanted["ethertype"]
        and (existing.get("protocol") or None) == wanted["protocol"]
        and existing.get("port_range_min") == wanted["port_range_min"]
        and existing.get("port_range_max") == wanted["port_range_max"]
        and prefix(existing.get("remote_ip_prefix")) == prefix(wanted["remote_ip_prefix"])
        and existing.get("remote_group_id") == wanted["remote_group_id"]
    )  # fmt: skip


def _authorize(direction: str) -> Handler:
    def authorize(backends: Backends, request: Ec2Request) -> Response:
        group = _group_uuid(backends, request, request.params)
        wanted = neutron_rules(backends, request, group, direction)
        existing = backends.compute.network.security_groups.get(request.context, group)[
            "security_group_rules"
        ]
        if any(_matches(rule, new) for rule in existing for new in wanted):
            raise Ec2Error("InvalidPermission.Duplicate", "the specified rule already exists")
        made = [
            backends.compute.network.security_groups.create_rule(request.context, rule) for rule in wanted
        ]
        group_id = backends.ids.id_of(ids.SECURITY_GROUP, group, request.project_id)
        return {
            "return": True,
            "securityGroupRuleSet": [
                {"securityGroupRuleId": f"sgr-{str(rule['id']).replace('-', '')[:17]}", "groupId": group_id,
                 "isEgress": direction == "egress", "ipProtocol": _range_of(rule)[0],
                 "fromPort": _range_of(rule)[1], "toPort": _range_of(rule)[2],
                 "cidrIpv4": rule["remote_ip_prefix"] if rule["ethertype"] == "IPv4" else None,
                 "cidrIpv6": rule["remote_ip_prefix"] if rule["ethertype"] == "IPv6" else None}
                for rule in made
            ],
        }  # fmt: skip

    return authorize


def _revoke(direction: str) -> Handler:
    def revoke(backends: Backends, request: Ec2Request) -> Response:
        group = _group_uuid(backends, request, request.params)
        wanted = neutron_rules(backends, request, group, direction)
        existing = backends.compute.network.security_groups.get(request.context, group)[
            "security_group_rules"
        ]
        found = [rule for new in wanted for rule in existing if _matches(rule, new)]
        if len(found) < len(wanted):
            raise Ec2Error("InvalidPermission.NotFound",
                           "The specified rule does not exist in this security group.")  # fmt: skip
        for rule in found:
            backends.compute.network.security_groups.delete_rule(request.context, str(rule["id"]))
        return {"return": True}

    return revoke


GROUP_NOT_FOUND, RULE_LIMIT = "InvalidGroup.NotFound", "RulesPerSecurityGroupLimitExceeded"


def _rule_action(name: str, handler: Handler, rule: str, conflict: str = "IncorrectState") -> Action:
    return Action(name, handler, rule=rule, not_found=GROUP_NOT_FOUND, quota=RULE_LIMIT, conflict=conflict)


ACTIONS = (
    Action(
        "CreateSecurityGroup",
        create_security_group,
        rule=network_policies.CREATE_SECURITY_GROUP,
        not_found="InvalidVpcID.NotFound",
        quota="SecurityGroupLimitExceeded",
    ),
    Action(
        "DescribeSecurityGroups",
        describe_security_groups,
        rule=network_policies.GET_SECURITY_GROUP,
        not_found=GROUP_NOT_FOUND,
    ),
    # A group that a port still uses cannot go: Neutron's conflict is AWS's DependencyViolation.
    Action(
        "DeleteSecurityGroup",
        delete_security_group,
        rule=network_policies.DELETE_SECURITY_GROUP,
        not_found=GROUP_NOT_FOUND,
        conflict="DependencyViolation",
    ),
    _rule_action(
        "AuthorizeSecurityGroupIngress",
        _authorize("ingress"),
        network_policies.CREATE_SECURITY_GROUP_RULE,
        "InvalidPermission.Duplicate",
    ),
    _rule_action(
        "AuthorizeSecurityGroupEgress",
        _authorize("egress"),
        network_policies.CREATE_SECURITY_GROUP_RULE,
        "InvalidPermission.Duplicate",
    ),
    _rule_action(
        "RevokeSecurityGroupIngress", _revoke("ingress"), network_policies.DELETE_SECURITY_GROUP_RULE
    ),
    _rule_action("RevokeSecurityGroupEgress", _revoke("egress"), network_policies.DELETE_SECURITY_GROUP_RULE),
)
