"""Discovery: the version document (no token), v2.0's resource list, and the extensions implemented.

Clients decide what they may send from GET /v2.0/extensions, so it lists exactly what this API serves:
no network agent wires any of it yet (ports and floating IPs stay DOWN).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from overcast import policy
from overcast.api.deps import get_context, get_settings
from overcast.api.versions import CURRENT, link
from overcast.config import Settings
from overcast.context import RequestContext
from overcast.network import policies
from overcast.network.api.errors import ExtensionNotFound, PolicyNotAuthorized

router = APIRouter()
ROOT = "/networking"
RESOURCES = (
    ("network", "networks"),
    ("subnet", "subnets"),
    ("port", "ports"),
    ("security_group", "security-groups"),
    ("security_group_rule", "security-group-rules"),
    ("router", "routers"),
    ("floatingip", "floatingips"),
    ("address_scope", "address-scopes"),
    ("subnetpool", "subnetpools"),
)
UPDATED = "2026-12-05T00:00:00-00:00"

# (alias, name, what it adds here)
EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("external-net", "Neutron external network", "The router:external attribute of networks."),
    (
        "provider",
        "Provider Network",
        "Admin-only provider:network_type (flat, vxlan), physical_network and segmentation_id of networks.",
    ),
    ("net-mtu", "Network MTU", "The mtu attribute of networks."),
    ("net-mtu-writable", "Network MTU (writable)", "A network's mtu may be set and changed."),
    ("port-security", "Port Security", "port_security_enabled on networks and ports."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Addresses besides its own a port may send from."),
    (
        "binding",
        "Port Binding",
        "The host a port is bound to (binding:host_id, admins) and its binding details.",
    ),
    ("project-id", "project_id field enabled", "Resources carry project_id beside tenant_id."),
    ("standard-attr-description", "standard-attr-description", "A description on every resource."),
    ("standard-attr-revisions", "Resource revision numbers", "revision_number, raised by every change."),
    (
        "revision-if-match",
        "If-Match constraints based on revision_number",
        "If-Match: revision_number=N on an update or delete changes only that revision (else 412).",
    ),
    ("standard-attr-timestamp", "Resource timestamps", "created_at and updated_at on every resource."),
    (
        "standard-attr-tag",
        "Tag support for resources with standard attribute",
        "Tags on networks, subnets, ports, security groups, routers, floating IPs and subnet pools, and the "
        "tags, tags-any, not-tags and not-tags-any filters.",
    ),
    ("sorting", "Sorting support", "sort_key and sort_dir on lists."),
    ("pagination", "Pagination support", "limit and marker on lists, with a next link."),
    ("filter-validation", "Filter parameters validation", "A filter on an unknown attribute is a 400."),
    ("router", "Neutron L3 Router", "Routers with an external gateway and interfaces, and floating IPs."),
    (
        "fip-port-details",
        "Floating IP Port Details Extension",
        "port_details of a floating IP: the associated port's name, network, MAC address, state and device.",
    ),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "enable_snat on a router's gateway."),
    ("extraroute", "Neutron Extra Route", "Static routes on routers (nexthops on their subnets)."),
    (
        "quotas",
        "Quota management support",
        "Per-project limits on networks, subnets, subnet pools, ports, routers, floating IPs, security "
        "groups and rules.",
    ),
    (
        "quota_details",
        "Quota details management support",
        "Each limit with its usage at /quotas/{id}/details.",
    ),
    ("quota-check-limit", "Quota check limit", "check_limit refuses a limit below the current usage."),
    (
        "security-group",
        "security-group",
        "Security groups and their rules; each project has a default group.",
    ),
    ("stateful-security-group", "Stateful security group", "A security group's stateful attribute."),
    (
        "availability_zone",
        "Availability Zone",
        "GET /availability_zones: the zones of the network agents, for networks and routers.",
    ),
    (
        "service-type",
        "Neutron Service Type Management",
        "GET /service-providers: the one kind of router (L3_ROUTER_NAT single_node, the default).",
    ),
    (
        "address-scope",
        "Address scope",
        "Address scopes: subnet pools in one scope never share a prefix; shared scopes are everyone's.",
    ),
    (
        "subnet_allocation",
        "Subnet Allocation",
        "Subnet pools: a subnet created with subnetpool_id (and prefixlen) is given the first free CIDR.",
    ),
    (
        "subnetpool-prefix-ops",
        "Subnet Pool Prefix Operations",
        "PUT /subnetpools/{id}/add_prefixes and /remove_prefixes (a prefix a subnet uses stays).",
    ),
    (
        "default-subnetpools",
        "Default Subnetpools",
        "use_default_subnetpool on a subnet takes its CIDR from the pool an admin made is_default.",
    ),
    (
        "auto-allocated-topology",
        "Auto Allocated Topology Services",
        "Get-me-a-network: a project's network, subnet and router on the is_default external network, "
        "made at its first GET.",
    ),
)


def _base(settings: Settings) -> str:
    return settings.base_url + ROOT


def extension_document(alias: str, name: str, description: str) -> dict[str, Any]:
    return {"alias": alias, "name": name, "description": description, "updated": UPDATED, "links": []}


@router.get(ROOT)
@router.get(ROOT + "/")
def list_versions(settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    return {"versions": [{"id": "v2.0", "status": CURRENT, "links": [link(_base(settings) + "/v2.0/")]}]}


@router.get(ROOT + "/v2.0")
@router.get(ROOT + "/v2.0/")
def list_resources(settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    return {
        "resources": [
            {"name": name, "collection": plural, "links": [link(f"{_base(settings)}/v2.0/{plural}")]}
            for name, plural in RESOURCES
        ]
    }


@router.get(policies.EXTENSIONS)
def list_extensions(ctxt: RequestContext = Depends(get_context)) -> dict[str, Any]:
    policy.enforce(ctxt, policies.GET_EXTENSIONS, error=PolicyNotAuthorized)
    return {"extensions": [extension_document(*extension) for extension in EXTENSIONS]}


@router.get(policies.EXTENSIONS + "/{alias}")
def show_extension(alias: str, ctxt: RequestContext = Depends(get_context)) -> dict[str, Any]:
    policy.enforce(ctxt, policies.GET_EXTENSIONS, error=PolicyNotAuthorized)
    for extension in EXTENSIONS:
        if extension[0] == alias:
            return {"extension": extension_document(*extension)}
    raise ExtensionNotFound(f"Extension with alias {alias} does not exist")
