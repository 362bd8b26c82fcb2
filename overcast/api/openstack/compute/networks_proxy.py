"""Nova's os-networks proxy (list and show, up to 2.35, 404 after), answered from the network service
in Nova's network format: a network's name is its `label`, its first IPv4 and IPv6 subnets give `cidr`,
`gateway`, `netmask`, `cidr_v6`, `gateway_v6` and `netmask_v6`; nova-network's other fields are null.
os-floating-ip-pools (up to 2.35 too) names the external networks, where floating IPs come from."""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter, Depends

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, require_version
from overcast.api.openstack.compute.microversion import MIN_VERSION
from overcast.compute import policies as rules
from overcast.network.api import queries
from overcast.network.api.records import Record

router = APIRouter()

FIELDS = ("id", "cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6", "gateway_v6", "label",
          "netmask_v6")  # fmt: skip
ADMIN_FIELDS = ("created_at", "updated_at", "deleted_at", "deleted", "injected", "bridge", "vlan",
                "vpn_public_address", "vpn_public_port", "vpn_private_address", "dhcp_start", "project_id",
                "host", "bridge_interface", "multi_host", "priority", "rxtx_base", "mtu", "dhcp_server",
                "enable_dhcp", "share_address")  # fmt: skip


def _subnet_fields(subnets: list[Record]) -> dict[str, Any]:
    known: dict[str, Any] = {}
    for subnet in subnets:
        network = ipaddress.ip_network(subnet["cidr"], strict=False)
        suffix = "" if network.version == 4 else "_v6"
        if f"cidr{suffix}" in known:
            continue
        known[f"cidr{suffix}"] = subnet["cidr"]
        known[f"gateway{suffix}"] = subnet.get("gateway_ip")
        known[f"netmask{suffix}"] = str(network.netmask) if network.version == 4 else str(network.prefixlen)
        if network.version == 4:
            known["broadcast"] = str(network.broadcast_address)
            servers = list(subnet.get("dns_nameservers") or [])
            known["dns1"], known["dns2"] = [*servers, None, None][:2]
            known["enable_dhcp"] = subnet.get("enable_dhcp")
    return known


def network_view(req: ComputeRequest, network: Record, subnets: list[Record]) -> dict[str, Any]:
    names = FIELDS + (ADMIN_FIELDS if req.context.is_admin else ())
    known: dict[str, Any] = {"id": network["id"], "label": network["name"], **_subnet_fields(subnets)}
    if req.context.is_admin:
        known.update(project_id=network["project_id"], mtu=network.get("mtu"), deleted=False,
                     created_at=network.get("created_at"), updated_at=network.get("updated_at"))  # fmt: skip
    return {name: known.get(name) for name in names}


def _subnets_of(req: ComputeRequest, network_ids: list[str]) -> dict[str, list[Record]]:
    found: dict[str, list[Record]] = {network_id: [] for network_id in network_ids}
    if network_ids:
        query = queries.ListQuery(filters={"network_id": network_ids})
        for subnet in req.service.network.subnets.list(req.context, query):
            found.setdefault(subnet["network_id"], []).append(subnet)
    return found


@router.get("/os-networks")
def list_networks(req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    require_version(req, MIN_VERSION, v.NETWORK_QUOTAS_GONE)
    policy.enforce(req.context, rules.NETWORKS_LIST, {"project_id": req.context.project_id})
    networks = req.service.network.networks.list(req.context, queries.ListQuery())
    subnets = _subnets_of(req, [network["id"] for network in networks])
    return {"networks": [network_view(req, network, subnets[network["id"]]) for network in networks]}


@router.get("/os-networks/{network_id}")
def show_network(network_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    require_version(req, MIN_VERSION, v.NETWORK_QUOTAS_GONE)
    policy.enforce(req.context, rules.NETWORKS_SHOW, {"project_id": req.context.project_id})
    try:
        network = req.service.network.networks.get(req.context, network_id)
    except errors.NotFound:
        raise errors.NotFound("Network could not be found.") from None
    return {"network": network_view(req, network, _subnets_of(req, [network["id"]])[network["id"]])}


@router.get("/os-floating-ip-pools")
def list_floating_ip_pools(req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    require_version(req, MIN_VERSION, v.NETWORK_QUOTAS_GONE)
    policy.enforce(req.context, rules.FLOATING_IP_POOLS, {"project_id": req.context.project_id})
    external = queries.ListQuery(filters={"router:external": ["true"]})
    networks = req.service.network.networks.list(req.context, external)
    return {"floating_ip_pools": [{"name": network["name"]} for network in networks]}
