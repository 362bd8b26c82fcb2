"""VPCs, subnets and network interfaces on the network service: DescribeVpcs (its networks),
DescribeSubnets (their IPv4 subnets), DescribeNetworkInterfaces (its ports).

A VPC is a network the caller sees that is not external (external networks are where elastic IPs come
from); its CIDR block is its first IPv4 subnet's, as a Neutron network has no range of its own. The
network service (`NetworkAPI`, in-process) decides what the caller sees, with Neutron's rules.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.db.models.network import IPAllocation
from overcast.db.value_sets import in_values
from overcast.ec2 import ids
from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Recorder, Response, listing_recorder
from overcast.ec2.filtering import FilterTable
from overcast.ec2.pagination import PageRules, page
from overcast.ec2.params import filters_of
from overcast.ec2.tags import tag_set, tags_of
from overcast.network import policies as network_policies
from overcast.network.api.queries import ListQuery

Record = dict[str, Any]


def _time(text: object) -> datetime | None:
    """A network record's timestamp (ISO 8601, UTC) as the datetime the XML renders."""
    if not text:
        return None
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tags(v: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in v["tagSet"] or []}


def _ids_for(backends: Backends, kind: str, records: Sequence[Record]) -> dict[str, str]:
    return backends.ids.ids_of(kind, {str(r["id"]): r.get("project_id") for r in records})


def _resolve(backends: Backends, request: Ec2Request, ec2_ids: Sequence[str], kind: str) -> list[str]:
    found = backends.resolve(request.context, ec2_ids, (kind,))
    return [found[ec2_id].uuid for ec2_id in ec2_ids]


def _listed(request: Ec2Request, name: str, views: list[dict[str, Any]], backends: Backends,
            table: FilterTable[dict[str, Any]], rules: PageRules = PageRules()) -> Response:  # fmt: skip
    """Filtered, then paged as MaxResults and NextToken ask."""
    selected = table.apply(views, filters_of(request.params))
    shown, token = page(selected, request.params, key=backends.token_key,
                        scope=f"{request.action}:{request.project_id}", rules=rules)  # fmt: skip
    return {name: list(shown), "nextToken": token}


def _own_ports(backends: Backends, request: Ec2Request, query: ListQuery) -> list[Record]:
    return [port for port in backends.compute.network.ports.list(request.context, query)
            if port.get("project_id") == request.project_id]  # fmt: skip


def private_networks(
    backends: Backends, request: Ec2Request, network_ids: Sequence[str] = ()
) -> list[Record]:
    query = ListQuery(filters={"id": list(network_ids)} if network_ids else {})
    networks = backends.compute.network.networks.list(request.context, query)
    return [network for network in networks if not network.get("router:external")]


def ipv4_subnets(backends: Backends, request: Ec2Request, filters: dict[str, list[str]]) -> list[Record]:
    subnets = backends.compute.network.subnets.list(request.context, ListQuery(filters=filters))
    return [subnet for subnet in subnets if subnet["ip_version"] == 4]


# --- VPCs -------------------------------------------------------------------------------------------
VPC_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "cidr": lambda v: v["cidrBlock"],
    "cidr-block-association.cidr-block": lambda v: [a["cidrBlock"] for a in v["cidrBlockAssociationSet"]],
    "dhcp-options-id": lambda v: v["dhcpOptionsId"],
    "is-default": lambda v: v["isDefault"],
    "owner-id": lambda v: v["ownerId"],
    "state": lambda v: v["state"],
    "vpc-id": lambda v: v["vpcId"],
}, tags=_tags)  # fmt: skip


def describe_vpcs(backends: Backends, request: Ec2Request) -> Response:
    wanted = request.params.strings("VpcId")
    networks = private_networks(
        backends, request, _resolve(backends, request, wanted, ids.VPC) if wanted else ()
    )
    if wanted and len(networks) < len(wanted):
        shown = set(_ids_for(backends, ids.VPC, networks).values())
        raise ids.not_found(ids.VPC, [vpc for vpc in wanted if vpc not in shown])
    vpc_ids = _ids_for(backends, ids.VPC, networks)
    subnets = ipv4_subnets(backends, request, {"network_id": [n["id"] for n in networks]}) if networks else []
    cidrs: dict[str, list[str]] = {}
    for subnet in sorted(subnets, key=lambda s: str(s.get("created_at") or "")):
        cidrs.setdefault(str(subnet["network_id"]), []).append(str(subnet["cidr"]))
    with backends.db.reader() as session:
        tags = tags_of(session, list(vpc_ids.values()))
    views = []
    for network in networks:
        vpc_id = vpc_ids[str(network["id"])]
        blocks = cidrs.get(str(network["id"]), [])
        views.append({
            "vpcId": vpc_id, "ownerId": network.get("project_id") or "", "state": "available",
            "cidrBlock": blocks[0] if blocks else "", "dhcpOptionsId": "default",
            "instanceTenancy": "default",
            "isDefault": bool(network.get("is_default")),
            "cidrBlockAssociationSet": [
                {"associationId": f"vpc-cidr-assoc-{vpc_id[4:]}{index or ''}", "cidrBlock": block,
                 "cidrBlockState": {"state": "associated"}}
                for index, block in enumerate(blocks)
            ],
            "tagSet": tag_set(tags.get(vpc_id, {})) or None,
        })  # fmt: skip
    return _listed(request, "vpcSet", views, backends, VPC_FILTERS)


# --- subnets ----------------------------------------------------------------------------------------
def _free_addresses(backends: Backends, subnets: Sequence[Record]) -> dict[str, int]:
    """Addresses of each subnet's pools that no port holds (AWS's availableIpAddressCount)."""
    with backends.db.reader() as session:
        held = dict(session.execute(
            select(IPAllocation.subnet_id, func.count()).where(
                in_values(session, IPAllocation.subnet_id, [str(s["id"]) for s in subnets])
            ).group_by(IPAllocation.subnet_id)
        ).all()) if subnets else {}  # fmt: skip
    free = {}
    for subnet in subnets:
        size = sum(
            int(ipaddress.ip_address(pool["end"])) - int(ipaddress.ip_address(pool["start"])) + 1
            for pool in subnet.get("allocation_pools") or []
        )
        free[str(subnet["id"])] = max(0, size - int(held.get(str(subnet["id"]), 0)))
    return free


SUBNET_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "availability-zone": lambda s: s["availabilityZone"],
    "availability-zone-id": lambda s: s["availabilityZoneId"],
    "available-ip-address-count": lambda s: s["availableIpAddressCount"],
    "cidr-block": lambda s: s["cidrBlock"],
    "default-for-az": lambda s: s["defaultForAz"],
    "map-public-ip-on-launch": lambda s: s["mapPublicIpOnLaunch"],
    "owner-id": lambda s: s["ownerId"],
    "state": lambda s: s["state"],
    "subnet-id": lambda s: s["subnetId"],
    "vpc-id": lambda s: s["vpcId"],
}, tags=_tags)  # fmt: skip


def describe_subnets(backends: Backends, request: Ec2Request) -> Response:
    wanted = request.params.strings("SubnetId")
    networks = private_networks(backends, request)
    vpc_ids = _ids_for(backends, ids.VPC, networks)
    filters: dict[str, list[str]] = {"network_id": list(vpc_ids)}
    if wanted:
        filters["id"] = _resolve(backends, request, wanted, ids.SUBNET)
    subnets = ipv4_subnets(backends, request, filters) if vpc_ids else []
    subnet_ids = _ids_for(backends, ids.SUBNET, subnets)
    if wanted and len(subnets) < len(wanted):
        raise ids.not_found(ids.SUBNET, [s for s in wanted if s not in set(subnet_ids.values())])
    free = _free_addresses(backends, subnets)
    with backends.db.reader() as session:
        tags = tags_of(session, list(subnet_ids.values()))
    views = []
    for subnet in subnets:
        subnet_id = subnet_ids[str(subnet["id"])]
        views.append({
            "subnetId": subnet_id, "vpcId": vpc_ids[str(subnet["network_id"])], "state": "available",
            "cidrBlock": subnet["cidr"], "availableIpAddressCount": free[str(subnet["id"])],
            "availabilityZone": DEFAULT_AVAILABILITY_ZONE, "availabilityZoneId": DEFAULT_AVAILABILITY_ZONE,
            "defaultForAz": False, "mapPublicIpOnLaunch": False, "ownerId": subnet.get("project_id") or "",
            "assignIpv6AddressOnCreation": False, "ipv6CidrBlockAssociationSet": [], "ipv6Native": False,
            "subnetArn": f"arn:aws:ec2:{backends.region}:{subnet.get('project_id') or ''}:subnet/{subnet_id}",
            "privateDnsNameOptionsOnLaunch": {
                "hostnameType": "ip-name", "enableResourceNameDnsARecord": False,
                "enableResourceNameDnsAAAARecord": False,
            },
            "tagSet": tag_set(tags.get(subnet_id, {})) or None,
        })  # fmt: skip
    return _listed(request, "subnetSet", views, backends, SUBNET_FILTERS)


# --- network interfaces -----------------------------------------------------------------------------
INTERFACE_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "attachment.instance-id": lambda i: (i.get("attachment") or {}).get("instanceId"),
    "attachment.status": lambda i: (i.get("attachment") or {}).get("status"),
    "availability-zone": lambda i: i["availabilityZone"],
    "description": lambda i: i["description"],
    "group-id": lambda i: [g["groupId"] for g in i["groupSet"]],
    "mac-address": lambda i: i["macAddress"],
    "network-interface-id": lambda i: i["networkInterfaceId"],
    "owner-id": lambda i: i["ownerId"],
    "private-ip-address": lambda i: [a["privateIpAddress"] for a in i["privateIpAddressesSet"]],
    "status": lambda i: i["status"],
    "subnet-id": lambda i: i["subnetId"],
    "vpc-id": lambda i: i["vpcId"],
    "association.public-ip": lambda i: (i.get("association") or {}).get("publicIp"),
}, tags=_tags)  # fmt: skip


def describe_network_interfaces(backends: Backends, request: Ec2Request) -> Response:
    wanted = request.params.strings("NetworkInterfaceId")
    network = backends.compute.network
    query = ListQuery(
        filters={"id": _resolve(backends, request, wanted, ids.NETWORK_INTERFACE)} if wanted else {}
    )
    ports = _own_ports(backends, request, query)
    eni_ids = _ids_for(backends, ids.NETWORK_INTERFACE, ports)
    if wanted and len(ports) < len(wanted):
        raise ids.not_found(ids.NETWORK_INTERFACE, [e for e in wanted if e not in set(eni_ids.values())])
    subnet_uuids = {str(f["subnet_id"]) for port in ports for f in port["fixed_ips"]}
    subnets = ipv4_subnets(backends, request, {"id": sorted(subnet_uuids)}) if subnet_uuids else []
    subnet_ids = _ids_for(backends, ids.SUBNET, subnets)
    vpc_ids = backends.ids.ids_of(ids.VPC, {str(p["network_id"]): p.get("project_id") for p in ports})
    servers = {str(p["device_id"]): p.get("project_id") for p in ports
               if str(p.get("device_owner") or "").startswith("compute:")}  # fmt: skip
    instance_ids = backends.ids.ids_of(ids.INSTANCE, servers)
    group_uuids = sorted({str(g) for port in ports for g in port.get("security_groups") or []})
    groups = network.security_groups.list(request.context, ListQuery(filters={"id": group_uuids})) if (
        group_uuids) else []  # fmt: skip
    group_ids = _ids_for(backends, ids.SECURITY_GROUP, groups)
    group_names = {str(g["id"]): str(g["name"]) for g in groups}
    floating = network.floating_ips.list(request.context, ListQuery(filters={"port_id": list(eni_ids)})) if (
        eni_ids) else []  # fmt: skip
    addresses = {str(f["port_id"]): f for f in floating}
    allocation_ids = _ids_for(backends, ids.ADDRESS, floating)
    with backends.db.reader() as session:
        tags = tags_of(session, list(eni_ids.values()))
    views = []
    for port in ports:
        eni_id = eni_ids[str(port["id"])]
        fixed = [f for f in port["fixed_ips"] if ipaddress.ip_address(f["ip_address"]).version == 4]
        instance = instance_ids.get(str(port["device_id"]))
        address = addresses.get(str(port["id"]))
        views.append({
            "networkInterfaceId": eni_id,
            "subnetId": subnet_ids.get(str(fixed[0]["subnet_id"]), "") if fixed else "",
            "vpcId": vpc_ids[str(port["network_id"])],
            "availabilityZone": DEFAULT_AVAILABILITY_ZONE,
            "description": port.get("description") or "",
            "ownerId": port.get("project_id") or "",
            "requesterManaged": str(port.get("device_owner") or "").startswith("network:"),
            "status": "in-use" if port.get("device_id") else "available",
            "macAddress": port["mac_address"],
            "privateIpAddress": fixed[0]["ip_address"] if fixed else None,
            "sourceDestCheck": True,
            "interfaceType": "interface",
            "groupSet": [{"groupId": group_ids[g], "groupName": group_names[g]}
                         for g in port.get("security_groups") or [] if g in group_ids],
            "attachment": {
                "attachmentId": f"eni-attach-{eni_id[4:]}", "instanceId": instance, "deviceIndex": 0,
                "networkCardIndex": 0, "attachTime": _time(port.get("created_at")),
                "status": "attached", "deleteOnTermination": True, "instanceOwnerId": port.get("project_id"),
            } if instance else None,
            "association": {
                "publicIp": address["floating_ip_address"], "ipOwnerId": address.get("project_id"),
                "allocationId": allocation_ids[str(address["id"])],
                "associationId": "eipassoc-" + allocation_ids[str(address["id"])].partition("-")[2],
            } if address else None,
            "privateIpAddressesSet": [
                {"privateIpAddress": f["ip_address"], "primary": index == 0} for index, f in enumerate(fixed)
            ],
            "tagSet": tag_set(tags.get(eni_id, {})) or None,
        })  # fmt: skip
    return _listed(request, "networkInterfaceSet", views, backends, INTERFACE_FILTERS)


ACTIONS = (
    Action(
        "DescribeVpcs", describe_vpcs, rule=network_policies.GET_NETWORK, not_found="InvalidVpcID.NotFound"
    ),
    Action(
        "DescribeSubnets",
        describe_subnets,
        rule=network_policies.GET_SUBNET,
        not_found="InvalidSubnetID.NotFound",
    ),
    Action(
        "DescribeNetworkInterfaces",
        describe_network_interfaces,
        rule=network_policies.GET_PORT,
        not_found="InvalidNetworkInterfaceID.NotFound",
    ),
)


RECORDERS: dict[str, Recorder] = {
    ids.VPC: listing_recorder(ids.VPC, lambda backends, request: private_networks(backends, request)),
    ids.SUBNET: listing_recorder(ids.SUBNET, lambda backends, request: ipv4_subnets(backends, request, {})),
    ids.NETWORK_INTERFACE: listing_recorder(
        ids.NETWORK_INTERFACE, lambda backends, request: _own_ports(backends, request, ListQuery())
    ),
}
