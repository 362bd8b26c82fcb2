"""Networking v2 policy rules (Neutron's names and defaults), enforced by the network service layer.

The service layer enforces them, not the routers: compute will create and delete ports on a user's
behalf in-process, and those calls must meet the same rules as HTTP ones. Reads name a rule that allows
anyone: what the caller may see (its own, shared and external networks; its own ports and those on its
networks) is the lookup's question, which answers 404. Targets carry {"project_id": ...}: the resource's
own project, or for the `network owner` rules the project of the network the resource is on.
"""

from __future__ import annotations

from overcast.policy import ADMIN, ANYONE, OWN_PROJECT, DocumentedRule, HasRole, documented

OWNER_MEMBER = ADMIN | ((HasRole("member") | HasRole("admin")) & OWN_PROJECT)

V2 = "/networking/v2.0"
NETWORKS = f"{V2}/networks"
NETWORK = f"{NETWORKS}/{{network_id}}"
SUBNETS = f"{V2}/subnets"
SUBNET = f"{SUBNETS}/{{subnet_id}}"
PORTS = f"{V2}/ports"
PORT = f"{PORTS}/{{port_id}}"
EXTENSIONS = f"{V2}/extensions"
ROUTERS = f"{V2}/routers"
ROUTER = f"{ROUTERS}/{{router_id}}"
FLOATING_IPS = f"{V2}/floatingips"
FLOATING_IP = f"{FLOATING_IPS}/{{floatingip_id}}"
QUOTAS = f"{V2}/quotas"
QUOTA = f"{QUOTAS}/{{project_id}}"
SECURITY_GROUPS = f"{V2}/security-groups"
SECURITY_GROUP = f"{SECURITY_GROUPS}/{{security_group_id}}"
SECURITY_GROUP_RULES = f"{V2}/security-group-rules"
SECURITY_GROUP_RULE = f"{SECURITY_GROUP_RULES}/{{security_group_rule_id}}"
AUTO_ALLOCATED_TOPOLOGY = f"{V2}/auto-allocated-topology/{{project_id}}"
AVAILABILITY_ZONES = f"{V2}/availability_zones"
ADDRESS_SCOPES = f"{V2}/address-scopes"
ADDRESS_SCOPE = f"{ADDRESS_SCOPES}/{{address_scope_id}}"
SUBNETPOOLS = f"{V2}/subnetpools"
SUBNETPOOL = f"{SUBNETPOOLS}/{{subnetpool_id}}"
SERVICE_PROVIDERS = f"{V2}/service-providers"

GET_EXTENSIONS = "get_extensions"
GET_AVAILABILITY_ZONE = "get_availability_zone"
GET_SERVICE_PROVIDER = "get_service_provider"
GET_AUTO_ALLOCATED_TOPOLOGY = "get_auto_allocated_topology"
DELETE_AUTO_ALLOCATED_TOPOLOGY = "delete_auto_allocated_topology"
CREATE_NETWORK = "create_network"
GET_NETWORK = "get_network"
UPDATE_NETWORK = "update_network"
DELETE_NETWORK = "delete_network"
CREATE_SUBNET = "create_subnet"
GET_SUBNET = "get_subnet"
UPDATE_SUBNET = "update_subnet"
DELETE_SUBNET = "delete_subnet"
CREATE_ADDRESS_SCOPE = "create_address_scope"
GET_ADDRESS_SCOPE = "get_address_scope"
UPDATE_ADDRESS_SCOPE = "update_address_scope"
DELETE_ADDRESS_SCOPE = "delete_address_scope"
CREATE_SUBNETPOOL = "create_subnetpool"
GET_SUBNETPOOL = "get_subnetpool"
UPDATE_SUBNETPOOL = "update_subnetpool"
DELETE_SUBNETPOOL = "delete_subnetpool"
ADD_PREFIXES = "add_prefixes"
REMOVE_PREFIXES = "remove_prefixes"
CREATE_PORT = "create_port"
GET_PORT = "get_port"
UPDATE_PORT = "update_port"
DELETE_PORT = "delete_port"
CREATE_ROUTER = "create_router"
GET_ROUTER = "get_router"
UPDATE_ROUTER = "update_router"
DELETE_ROUTER = "delete_router"
ADD_ROUTER_INTERFACE = "add_router_interface"
REMOVE_ROUTER_INTERFACE = "remove_router_interface"
CREATE_FLOATING_IP = "create_floatingip"
CREATE_FLOATING_IP_ADDRESS = "create_floatingip:floating_ip_address"
GET_FLOATING_IP = "get_floatingip"
UPDATE_FLOATING_IP = "update_floatingip"
DELETE_FLOATING_IP = "delete_floatingip"
GET_QUOTA = "get_quota"
UPDATE_QUOTA = "update_quota"
DELETE_QUOTA = "delete_quota"
CREATE_SECURITY_GROUP = "create_security_group"
GET_SECURITY_GROUP = "get_security_group"
UPDATE_SECURITY_GROUP = "update_security_group"
DELETE_SECURITY_GROUP = "delete_security_group"
CREATE_SECURITY_GROUP_RULE = "create_security_group_rule"
GET_SECURITY_GROUP_RULE = "get_security_group_rule"
DELETE_SECURITY_GROUP_RULE = "delete_security_group_rule"

# Attributes only some callers may set (create_network:shared, ...) or see (get_port:binding:host_id).
NETWORK_ADMIN_ATTRIBUTES = (
    "shared",
    "router:external",
    "is_default",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
)
PROVIDER_ATTRIBUTES = NETWORK_ADMIN_ATTRIBUTES[2:]
CREATE_PORT_MAC = "create_port:mac_address"
CREATE_PORT_FIXED_IP = "create_port:fixed_ips:ip_address"
CREATE_PORT_BINDING = "create_port:binding:host_id"
UPDATE_PORT_MAC = "update_port:mac_address"
UPDATE_PORT_FIXED_IP = "update_port:fixed_ips:ip_address"
UPDATE_PORT_BINDING = "update_port:binding:host_id"
GET_PORT_BINDING = "get_port:binding:host_id"

TAGGED_COLLECTIONS = (
    "networks",
    "subnets",
    "ports",
    "security-groups",
    "routers",
    "floatingips",
    "subnetpools",
)


def attribute_rule(action: str, attribute: str) -> str:
    """e.g. create_network:shared, get_network:provider:network_type."""
    return f"{action}:{attribute}"


def tags_rule(action: str, collection: str) -> str:
    """Neutron's tag rules: get_networks_tags, create_ports_tags, ..."""
    return f"{action}_{collection.replace('-', '_')}_tags"


def _tag_rules() -> tuple[DocumentedRule, ...]:
    rules = []
    for collection in TAGGED_COLLECTIONS:
        tags = f"{V2}/{collection}/{{resource_id}}/tags"
        tag = f"{tags}/{{tag}}"
        rules += [
            documented(
                tags_rule("get", collection),
                ANYONE,
                f"List or check the tags of {collection} one may see.",
                ("GET", tags),
                ("GET", tag),
            ),
            documented(
                tags_rule("create", collection),
                OWNER_MEMBER,
                f"Add a tag to one of the project's {collection}.",
                ("PUT", tag),
            ),
            documented(
                tags_rule("update", collection),
                OWNER_MEMBER,
                f"Replace the tags of one of the project's {collection}.",
                ("PUT", tags),
            ),
            documented(
                tags_rule("delete", collection),
                OWNER_MEMBER,
                f"Remove one or every tag of one of the project's {collection}.",
                ("DELETE", tags),
                ("DELETE", tag),
            ),
        ]
    return tuple(rules)


def _network_attribute_rules() -> tuple[DocumentedRule, ...]:
    rules = []
    for attribute in NETWORK_ADMIN_ATTRIBUTES:
        rules.append(
            documented(
                attribute_rule(CREATE_NETWORK, attribute),
                ADMIN,
                f"Set {attribute} on a new network.",
                ("POST", NETWORKS),
            )
        )
    for attribute in ("shared", "router:external", "is_default"):
        rules.append(
            documented(
                attribute_rule(UPDATE_NETWORK, attribute),
                ADMIN,
                f"Change a network's {attribute}.",
                ("PUT", NETWORK),
            )
        )
    for attribute in PROVIDER_ATTRIBUTES:
        rules.append(
            documented(
                attribute_rule(GET_NETWORK, attribute),
                ADMIN,
                f"See a network's {attribute}.",
                ("GET", NETWORKS),
                ("GET", NETWORK),
            )
        )
    return tuple(rules)


RULES: tuple[DocumentedRule, ...] = (
    documented(
        GET_EXTENSIONS,
        ANYONE,
        "List or show the API extensions this cloud implements.",
        ("GET", EXTENSIONS),
        ("GET", f"{EXTENSIONS}/{{alias}}"),
    ),
    documented(
        GET_AVAILABILITY_ZONE,
        ANYONE,
        "List the availability zones of the network agents (networks and routers).",
        ("GET", AVAILABILITY_ZONES),
    ),
    documented(
        GET_SERVICE_PROVIDER,
        ANYONE,
        "List the service providers (the kind of router this cloud makes).",
        ("GET", SERVICE_PROVIDERS),
    ),
    documented(CREATE_NETWORK, OWNER_MEMBER, "Create a network in one's project.", ("POST", NETWORKS)),
    documented(
        GET_NETWORK,
        ANYONE,
        "List or show the networks one may see (own, shared, external).",
        ("GET", NETWORKS),
        ("GET", NETWORK),
    ),
    documented(UPDATE_NETWORK, OWNER_MEMBER, "Change a network of one's project.", ("PUT", NETWORK)),
    documented(DELETE_NETWORK, OWNER_MEMBER, "Delete a network of one's project.", ("DELETE", NETWORK)),
    *_network_attribute_rules(),
    documented(
        CREATE_SUBNET, OWNER_MEMBER, "Create a subnet on a network of one's project.", ("POST", SUBNETS)
    ),
    documented(
        GET_SUBNET,
        ANYONE,
        "List or show the subnets one may see (own, on shared networks).",
        ("GET", SUBNETS),
        ("GET", SUBNET),
    ),
    documented(UPDATE_SUBNET, OWNER_MEMBER, "Change a subnet of one's network.", ("PUT", SUBNET)),
    documented(DELETE_SUBNET, OWNER_MEMBER, "Delete a subnet of one's network.", ("DELETE", SUBNET)),
    documented(
        CREATE_ADDRESS_SCOPE,
        OWNER_MEMBER,
        "Create an address scope in one's project.",
        ("POST", ADDRESS_SCOPES),
    ),
    documented(
        attribute_rule(CREATE_ADDRESS_SCOPE, "shared"),
        ADMIN,
        "Create a shared address scope.",
        ("POST", ADDRESS_SCOPES),
    ),
    documented(
        GET_ADDRESS_SCOPE,
        ANYONE,
        "List or show the address scopes one may see (own, shared).",
        ("GET", ADDRESS_SCOPES),
        ("GET", ADDRESS_SCOPE),
    ),
    documented(
        UPDATE_ADDRESS_SCOPE,
        OWNER_MEMBER,
        "Change an address scope of one's project.",
        ("PUT", ADDRESS_SCOPE),
    ),
    documented(
        attribute_rule(UPDATE_ADDRESS_SCOPE, "shared"),
        ADMIN,
        "Share or unshare an address scope.",
        ("PUT", ADDRESS_SCOPE),
    ),
    documented(
        DELETE_ADDRESS_SCOPE,
        OWNER_MEMBER,
        "Delete an address scope no subnet pool uses.",
        ("DELETE", ADDRESS_SCOPE),
    ),
    documented(
        CREATE_SUBNETPOOL, OWNER_MEMBER, "Create a subnet pool in one's project.", ("POST", SUBNETPOOLS)
    ),
    *(
        documented(
            attribute_rule(CREATE_SUBNETPOOL, attribute),
            ADMIN,
            f"Create a subnet pool with {attribute} set.",
            ("POST", SUBNETPOOLS),
        )
        for attribute in ("shared", "is_default")
    ),
    documented(
        GET_SUBNETPOOL,
        ANYONE,
        "List or show the subnet pools one may see (own, shared).",
        ("GET", SUBNETPOOLS),
        ("GET", SUBNETPOOL),
    ),
    documented(
        UPDATE_SUBNETPOOL, OWNER_MEMBER, "Change a subnet pool of one's project.", ("PUT", SUBNETPOOL)
    ),
    documented(
        attribute_rule(UPDATE_SUBNETPOOL, "is_default"),
        ADMIN,
        "Make a subnet pool its IP version's default, or not.",
        ("PUT", SUBNETPOOL),
    ),
    documented(
        DELETE_SUBNETPOOL,
        OWNER_MEMBER,
        "Delete a subnet pool no subnet was allocated from.",
        ("DELETE", SUBNETPOOL),
    ),
    documented(
        ADD_PREFIXES,
        OWNER_MEMBER,
        "Add prefixes to a subnet pool of one's project.",
        ("PUT", f"{SUBNETPOOL}/add_prefixes"),
    ),
    documented(
        REMOVE_PREFIXES,
        OWNER_MEMBER,
        "Remove unallocated prefixes from a subnet pool of one's project.",
        ("PUT", f"{SUBNETPOOL}/remove_prefixes"),
    ),
    documented(
        CREATE_PORT,
        OWNER_MEMBER,
        "Create a port in one's project (on its own or a shared network).",
        ("POST", PORTS),
    ),
    documented(
        CREATE_PORT_MAC,
        OWNER_MEMBER,
        "Choose a new port's MAC address (the network's owner).",
        ("POST", PORTS),
    ),
    documented(
        CREATE_PORT_FIXED_IP,
        OWNER_MEMBER,
        "Choose a new port's IP address (the network's owner).",
        ("POST", PORTS),
    ),
    documented(CREATE_PORT_BINDING, ADMIN, "Bind a new port to a host.", ("POST", PORTS)),
    documented(
        GET_PORT,
        ANYONE,
        "List or show the ports one may see (own, on one's networks).",
        ("GET", PORTS),
        ("GET", PORT),
    ),
    documented(GET_PORT_BINDING, ADMIN, "See the host a port is bound to.", ("GET", PORTS), ("GET", PORT)),
    documented(UPDATE_PORT, OWNER_MEMBER, "Change a port of one's project.", ("PUT", PORT)),
    documented(UPDATE_PORT_MAC, ADMIN, "Change a port's MAC address.", ("PUT", PORT)),
    documented(
        UPDATE_PORT_FIXED_IP,
        OWNER_MEMBER,
        "Choose a port's IP addresses (the network's owner).",
        ("PUT", PORT),
    ),
    documented(UPDATE_PORT_BINDING, ADMIN, "Bind a port to another host.", ("PUT", PORT)),
    documented(
        DELETE_PORT, OWNER_MEMBER, "Delete a port of one's project or on one's network.", ("DELETE", PORT)
    ),
    documented(
        CREATE_SECURITY_GROUP,
        OWNER_MEMBER,
        "Create a security group in one's project.",
        ("POST", SECURITY_GROUPS),
    ),
    documented(
        GET_SECURITY_GROUP,
        ANYONE,
        "List or show one's security groups (made the project's default first).",
        ("GET", SECURITY_GROUPS),
        ("GET", SECURITY_GROUP),
    ),
    documented(
        UPDATE_SECURITY_GROUP,
        OWNER_MEMBER,
        "Change a security group of one's project.",
        ("PUT", SECURITY_GROUP),
    ),
    documented(
        DELETE_SECURITY_GROUP,
        OWNER_MEMBER,
        "Delete a security group no port uses.",
        ("DELETE", SECURITY_GROUP),
    ),
    documented(
        CREATE_SECURITY_GROUP_RULE,
        OWNER_MEMBER,
        "Add a rule to a security group of one's project.",
        ("POST", SECURITY_GROUP_RULES),
    ),
    documented(
        GET_SECURITY_GROUP_RULE,
        ANYONE,
        "List or show the rules of one's security groups.",
        ("GET", SECURITY_GROUP_RULES),
        ("GET", SECURITY_GROUP_RULE),
    ),
    documented(
        DELETE_SECURITY_GROUP_RULE,
        OWNER_MEMBER,
        "Remove a rule from a security group of one's project.",
        ("DELETE", SECURITY_GROUP_RULE),
    ),
    documented(CREATE_ROUTER, OWNER_MEMBER, "Create a router in one's project.", ("POST", ROUTERS)),
    *(
        documented(
            attribute_rule(action, f"external_gateway_info:{attribute}"),
            ADMIN,
            f"Choose a router gateway's {attribute}.",
            ("POST", ROUTERS) if action == CREATE_ROUTER else ("PUT", ROUTER),
        )
        for action in (CREATE_ROUTER, UPDATE_ROUTER)
        for attribute in ("enable_snat", "external_fixed_ips")
    ),
    documented(GET_ROUTER, ANYONE, "List or show one's routers.", ("GET", ROUTERS), ("GET", ROUTER)),
    documented(UPDATE_ROUTER, OWNER_MEMBER, "Change a router: gateway, routes, name.", ("PUT", ROUTER)),
    documented(DELETE_ROUTER, OWNER_MEMBER, "Delete a router with no interfaces.", ("DELETE", ROUTER)),
    documented(
        ADD_ROUTER_INTERFACE,
        OWNER_MEMBER,
        "Attach a router to a subnet or a port.",
        ("PUT", f"{ROUTER}/add_router_interface"),
    ),
    documented(
        REMOVE_ROUTER_INTERFACE,
        OWNER_MEMBER,
        "Detach a router from a subnet or a port.",
        ("PUT", f"{ROUTER}/remove_router_interface"),
    ),
    documented(
        CREATE_FLOATING_IP, OWNER_MEMBER, "Allocate a floating IP to one's project.", ("POST", FLOATING_IPS)
    ),
    documented(
        CREATE_FLOATING_IP_ADDRESS, ADMIN, "Choose a new floating IP's address.", ("POST", FLOATING_IPS)
    ),
    documented(
        GET_FLOATING_IP,
        ANYONE,
        "List or show one's floating IPs.",
        ("GET", FLOATING_IPS),
        ("GET", FLOATING_IP),
    ),
    documented(
        UPDATE_FLOATING_IP, OWNER_MEMBER, "Associate or disassociate a floating IP.", ("PUT", FLOATING_IP)
    ),
    documented(DELETE_FLOATING_IP, OWNER_MEMBER, "Release a floating IP.", ("DELETE", FLOATING_IP)),
    documented(
        GET_QUOTA,
        ADMIN | OWN_PROJECT,
        "Read a project's networking quotas, usage and defaults (admins: any project's).",
        ("GET", QUOTAS),
        ("GET", QUOTA),
        ("GET", f"{QUOTA}/details"),
        ("GET", f"{QUOTA}/default"),
    ),
    documented(UPDATE_QUOTA, ADMIN, "Set a project's networking quotas.", ("PUT", QUOTA)),
    documented(
        DELETE_QUOTA, ADMIN, "Reset a project's networking quotas to the defaults.", ("DELETE", QUOTA)
    ),
    documented(
        GET_AUTO_ALLOCATED_TOPOLOGY,
        ADMIN | OWN_PROJECT,
        "Get (making it at first) a project's auto-allocated network, subnet and router.",
        ("GET", AUTO_ALLOCATED_TOPOLOGY),
    ),
    documented(
        DELETE_AUTO_ALLOCATED_TOPOLOGY,
        ADMIN | OWN_PROJECT,
        "Delete a project's auto-allocated topology.",
        ("DELETE", AUTO_ALLOCATED_TOPOLOGY),
    ),
    *_tag_rules(),
)
