"""Elastic IPs on the network service's floating IPs: AllocateAddress, AssociateAddress,
DisassociateAddress, ReleaseAddress, DescribeAddresses (VPC addresses: allocation and association ids).

An address is allocated on an external network the caller sees (the first, or the one PublicIpv4Pool
names); associating it with an instance binds it to the instance's first port, through a router joining
that port's subnet to the external network, as Neutron requires. The association id is the allocation's
own digits after `eipassoc-`: an address has one association at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from overcast.ec2 import ids
from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Handler, Response, listing_recorder
from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter
from overcast.ec2.filtering import FilterTable
from overcast.ec2.pagination import page
from overcast.ec2.params import filters_of
from overcast.ec2.tags import set_tags, tag_set, tag_specifications, tags_of
from overcast.network import policies as network_policies
from overcast.network.api.queries import ListQuery

Record = dict[str, Any]
ASSOCIATION = "eipassoc"


def association_id(allocation_id: str) -> str:
    return f"{ASSOCIATION}-{allocation_id.partition('-')[2]}"


def _external_networks(backends: Backends, request: Ec2Request) -> list[Record]:
    networks = backends.compute.network.networks.list(request.context, ListQuery())
    return [network for network in networks if network.get("router:external")]


def _address_views(
    backends: Backends, request: Ec2Request, records: Sequence[Record]
) -> list[dict[str, Any]]:
    network = backends.compute.network
    allocation_ids = backends.ids.ids_of(ids.ADDRESS, {str(r["id"]): r.get("project_id") for r in records})
    port_uuids = sorted({str(r["port_id"]) for r in records if r.get("port_id")})
    ports = network.ports.list(request.context, ListQuery(filters={"id": port_uuids})) if port_uuids else []
    eni_ids = backends.ids.ids_of(ids.NETWORK_INTERFACE, {str(p["id"]): p.get("project_id") for p in ports})
    servers = {str(p["id"]): str(p["device_id"]) for p in ports
               if str(p.get("device_owner") or "").startswith("compute:")}  # fmt: skip
    instance_ids = backends.ids.ids_of(
        ids.INSTANCE, {server: request.project_id for server in servers.values()}
    )
    pools = {str(n["id"]): str(n["name"] or n["id"]) for n in _external_networks(backends, request)}
    with backends.db.reader() as session:
        tags = tags_of(session, list(allocation_ids.values()))
    views = []
    for record in records:
        allocation = allocation_ids[str(record["id"])]
        port = str(record["port_id"]) if record.get("port_id") else None
        views.append({
            "publicIp": record["floating_ip_address"], "allocationId": allocation, "domain": "vpc",
            "associationId": association_id(allocation) if port else None,
            "instanceId": instance_ids.get(servers.get(port or "", ""), "") if port else None,
            "networkInterfaceId": eni_ids.get(port) if port else None,
            "networkInterfaceOwnerId": record.get("project_id") if port else None,
            "privateIpAddress": record.get("fixed_ip_address"),
            "publicIpv4Pool": pools.get(str(record["floating_network_id"]), ""),
            "networkBorderGroup": backends.region,
            "tagSet": tag_set(tags.get(allocation, {})) or None,
        })  # fmt: skip
    return views


def _own_addresses(backends: Backends, request: Ec2Request) -> list[Record]:
    query = ListQuery(filters={"project_id": [request.project_id]})
    return list(backends.compute.network.floating_ips.list(request.context, query))


record_visible = listing_recorder(ids.ADDRESS, _own_addresses)


def _find(
    backends: Backends, request: Ec2Request, *, allocation: str | None, public_ip: str | None
) -> Record:
    """The floating IP an AllocationId (or, for the classic form, a PublicIp) names."""
    floating_ips = backends.compute.network.floating_ips
    if allocation:
        uuid = backends.resolve(request.context, [allocation], (ids.ADDRESS,))[allocation].uuid
        return floating_ips.get(request.context, uuid)
    if not public_ip:
        raise missing_parameter("AllocationId")
    found = floating_ips.list(request.context, ListQuery(filters={"floating_ip_address": [public_ip]}))
    if not found:
        raise Ec2Error("InvalidAddress.NotFound", f"Address '{public_ip}' not found.")
    return found[0]


def allocate_address(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    domain = params.get("Domain", "vpc")
    if domain not in ("vpc", "standard"):
        raise invalid_value("Domain", domain, "It is vpc or standard.")
    tags = tag_specifications(params, "elastic-ip")
    external = _external_networks(backends, request)
    pool = params.get("PublicIpv4Pool")
    if pool:
        external = [n for n in external if pool in (n["id"], n["name"])]
    if not external:
        raise Ec2Error("InvalidParameterValue", "This cloud has no external network to allocate addresses on"
                                                + (f" named '{pool}'." if pool else "."))  # fmt: skip
    attrs: Record = {"floating_network_id": external[0]["id"]}
    if params.get("Address"):
        attrs["floating_ip_address"] = params.get("Address")
    record = backends.compute.network.floating_ips.create(request.context, attrs)
    [view] = _address_views(backends, request, [record])
    if tags:
        set_tags(backends, request.project_id, [view["allocationId"]], tags)
        view["tagSet"] = tag_set(tags)
    return {"publicIp": view["publicIp"], "allocationId": view["allocationId"], "domain": "vpc",
            "publicIpv4Pool": view["publicIpv4Pool"], "networkBorderGroup": backends.region,
            "tagSet": view["tagSet"]}  # fmt: skip


def associate_address(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    record = _find(backends, request, allocation=params.get("AllocationId"), public_ip=params.get("PublicIp"))
    instance, interface = params.get("InstanceId"), params.get("NetworkInterfaceId")
    network = backends.compute.network
    if interface:
        port_uuid = backends.resolve(request.context, [interface], (ids.NETWORK_INTERFACE,))[interface].uuid
        ports = [network.ports.get(request.context, port_uuid)]
    elif instance:
        server = backends.resolve(request.context, [instance], (ids.INSTANCE,))[instance].uuid
        backends.compute.servers.find(
            request.context, server
        )  # another project's: InvalidInstanceID.NotFound
        ports = network.ports.list(request.context, ListQuery(filters={"device_id": [server]}))
        if not ports:
            raise Ec2Error("InvalidInstanceID", f"The instance '{instance}' has no network interface.")
    else:
        raise missing_parameter("InstanceId")
    port = ports[0]
    private = params.get("PrivateIpAddress")
    if private and private not in [f["ip_address"] for f in port["fixed_ips"]]:
        raise invalid_value("PrivateIpAddress", private, "It is not an address of the network interface.")
    current = record.get("port_id")
    if current and current != port["id"] and not params.boolean("AllowReassociation"):
        address = record["floating_ip_address"]
        message = f"Address {address} is already associated (AllowReassociation is not set)."
        raise Ec2Error("Resource.AlreadyAssociated", message)
    attrs: Record = {"port_id": port["id"]}
    if private:
        attrs["fixed_ip_address"] = private
    if current and current != port["id"]:
        network.floating_ips.update(request.context, str(record["id"]), {"port_id": None})
    network.floating_ips.update(request.context, str(record["id"]), attrs)
    allocation = backends.ids.id_of(ids.ADDRESS, str(record["id"]), record.get("project_id"))
    return {"return": True, "associationId": association_id(allocation)}


def _by_association(backends: Backends, request: Ec2Request) -> Record:
    association = request.params.get("AssociationId")
    if association is None:
        return _find(backends, request, allocation=None, public_ip=request.params.get("PublicIp"))
    prefix, _, digits = association.partition("-")
    if prefix != ASSOCIATION:
        raise Ec2Error("InvalidAssociationID.Malformed", f'Invalid id: "{association}"')
    try:
        record = _find(backends, request, allocation=f"{ids.ADDRESS}-{digits}", public_ip=None)
    except Ec2Error as error:
        message = f"The association ID '{association}' does not exist"
        raise Ec2Error("InvalidAssociationID.NotFound", message) from error
    if not record.get("port_id"):
        raise Ec2Error("InvalidAssociationID.NotFound", f"The association ID '{association}' does not exist")
    return record


def disassociate_address(backends: Backends, request: Ec2Request) -> Response:
    record = _by_association(backends, request)
    backends.compute.network.floating_ips.update(request.context, str(record["id"]), {"port_id": None})
    return {"return": True}


def release_address(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    record = _find(backends, request, allocation=params.get("AllocationId"), public_ip=params.get("PublicIp"))
    if record.get("port_id"):
        raise Ec2Error("InvalidIPAddress.InUse", f"Address {record['floating_ip_address']} is in use.")
    backends.compute.network.floating_ips.delete(request.context, str(record["id"]))
    return {"return": True}


ADDRESS_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "allocation-id": lambda a: a["allocationId"],
    "association-id": lambda a: a["associationId"],
    "domain": lambda a: a["domain"],
    "instance-id": lambda a: a["instanceId"],
    "network-border-group": lambda a: a["networkBorderGroup"],
    "network-interface-id": lambda a: a["networkInterfaceId"],
    "network-interface-owner-id": lambda a: a["networkInterfaceOwnerId"],
    "private-ip-address": lambda a: a["privateIpAddress"],
    "public-ip": lambda a: a["publicIp"],
}, tags=lambda a: {tag["key"]: tag["value"] for tag in a["tagSet"] or []})  # fmt: skip


def describe_addresses(backends: Backends, request: Ec2Request) -> Response:
    params = request.params
    filters = filters_of(params)
    ADDRESS_FILTERS.check(filters)
    allocations = params.strings("AllocationId")
    public_ips = params.strings("PublicIp")
    floating_ips = backends.compute.network.floating_ips
    if allocations:
        found = backends.resolve(request.context, allocations, (ids.ADDRESS,))
        records = [floating_ips.get(request.context, found[a].uuid) for a in allocations]
    else:
        query = ListQuery(filters={"project_id": [request.project_id]})
        records = list(floating_ips.list(request.context, query))
    if public_ips:
        records = [r for r in records if r["floating_ip_address"] in public_ips]
        missing = sorted(set(public_ips) - {str(r["floating_ip_address"]) for r in records})
        if missing:
            raise Ec2Error("InvalidAddress.NotFound", f"Address '{missing[0]}' not found.")
    views = ADDRESS_FILTERS.apply(_address_views(backends, request, records), filters)
    shown, token = page(views, params, key=backends.token_key,
                        scope=f"DescribeAddresses:{request.project_id}")  # fmt: skip
    return {"addressesSet": list(shown), "nextToken": token}


def _address_action(name: str, handler: Handler, rule: str) -> Action:
    return Action(
        name, handler, rule=rule, not_found="InvalidAllocationID.NotFound", quota="AddressLimitExceeded"
    )


ACTIONS = (
    _address_action("AllocateAddress", allocate_address, network_policies.CREATE_FLOATING_IP),
    _address_action("AssociateAddress", associate_address, network_policies.UPDATE_FLOATING_IP),
    _address_action("DisassociateAddress", disassociate_address, network_policies.UPDATE_FLOATING_IP),
    _address_action("ReleaseAddress", release_address, network_policies.DELETE_FLOATING_IP),
    _address_action("DescribeAddresses", describe_addresses, network_policies.GET_FLOATING_IP),
)
