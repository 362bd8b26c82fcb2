"""The Networking v2 API through real HTTP with openstacksdk and raw requests (Neutron's contract)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from openstack import exceptions
from openstack.connection import Connection

from tests.support.cloud import InProcessCloud
from tests.support.waiting import WAIT_SECONDS


def _v2_url(conn: Connection) -> str:
    """The catalog names /networking; openstacksdk finds v2.0 below it from the version document."""
    return str(conn.network.get_endpoint()).rstrip("/")


def _neutron_error(response: requests.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["NeutronError"]
    assert set(error) == {"type", "message", "detail"}
    return error


def _raw(conn: Connection, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"X-Auth-Token": conn.auth_token, **kwargs.pop("headers", {})}
    return requests.request(method, f"{_v2_url(conn)}{path}", headers=headers, timeout=30, **kwargs)


def test_version_documents_answer_without_a_token(cloud: InProcessCloud) -> None:
    root = requests.get(f"{cloud.base_url}/networking/", timeout=WAIT_SECONDS)
    assert root.status_code == 200
    (version,) = root.json()["versions"]
    assert version["id"] == "v2.0" and version["status"] == "CURRENT"
    assert version["links"][0]["href"] == f"{cloud.base_url}/networking/v2.0/"
    resources = requests.get(f"{cloud.base_url}/networking/v2.0/", timeout=WAIT_SECONDS).json()["resources"]
    assert {resource["collection"] for resource in resources} == {
        "networks",
        "subnets",
        "ports",
        "security-groups",
        "security-group-rules",
        "routers",
        "floatingips",
        "address-scopes",
        "subnetpools",
    }
    unauthenticated = requests.get(f"{cloud.base_url}/networking/v2.0/networks", timeout=WAIT_SECONDS)
    assert unauthenticated.status_code == 401
    assert _neutron_error(unauthenticated)["type"] == "HTTPUnauthorized"


def test_catalog_and_extensions(demo: Connection) -> None:
    catalog = demo.session.auth.get_access(demo.session).service_catalog
    assert catalog.url_for(service_type="network").endswith("/networking")
    assert _v2_url(demo).endswith("/networking/v2.0")
    aliases = {extension.alias for extension in demo.network.extensions()}
    assert {
        "external-net",
        "provider",
        "net-mtu",
        "port-security",
        "standard-attr-tag",
        "binding",
        "security-group",
    } <= aliases
    # Only what is implemented: clients switch features on from this list.
    assert {"quotas", "quota_details"} <= aliases
    assert {"router", "ext-gw-mode", "extraroute"} <= aliases
    assert {"address-scope", "subnet_allocation", "subnetpool-prefix-ops", "default-subnetpools"} <= aliases
    assert not aliases & {"dhcp_agent_scheduler", "dvr", "l3-ha", "qos"}
    assert demo.network.find_extension("external-net") is not None
    missing = _raw(demo, "GET", "/extensions/dvr")
    assert missing.status_code == 404 and _neutron_error(missing)["type"] == "ExtensionNotFound"


def test_network_subnet_lifecycle(demo: Connection) -> None:
    network = demo.network.create_network(name="lifecycle", description="first")
    assert network.status == "ACTIVE" and network.mtu == 1450 and network.is_port_security_enabled
    assert network.revision_number == 0 and network.created_at and network.project_id
    assert network.provider_network_type is None  # provider attributes are an admin's
    subnet = demo.network.create_subnet(
        network_id=network.id,
        ip_version=4,
        cidr="10.20.0.0/24",
        name="lifecycle-v4",
        dns_nameservers=["10.20.0.53"],
        host_routes=[{"destination": "10.30.0.0/24", "nexthop": "10.20.0.254"}],
    )
    assert subnet.gateway_ip == "10.20.0.1"
    assert subnet.allocation_pools == [{"start": "10.20.0.2", "end": "10.20.0.254"}]
    assert subnet.is_dhcp_enabled
    shown = demo.network.get_network(network.id)
    assert shown.subnet_ids == [subnet.id] and shown.revision_number == 1
    updated = demo.network.update_network(network, name="renamed", mtu=1400)
    assert updated.name == "renamed" and updated.mtu == 1400 and updated.revision_number == 2
    # The DHCP server holds the first pool address.
    (dhcp,) = demo.network.ports(network_id=network.id, device_owner="network:dhcp")
    assert dhcp.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "10.20.0.2"}]
    demo.network.delete_subnet(subnet)
    assert list(demo.network.ports(network_id=network.id)) == []
    demo.network.delete_network(network)
    with pytest.raises(exceptions.NotFoundException):
        demo.network.get_network(network.id)


def test_lookups_by_name_and_non_uuid_ids(demo: Connection) -> None:
    network = demo.network.create_network(name="findable")
    assert demo.network.find_network("findable").id == network.id
    response = _raw(demo, "GET", "/networks/findable")
    assert response.status_code == 404
    assert _neutron_error(response)["type"] == "NetworkNotFound"
    demo.network.delete_network(network)


def test_admin_provider_attributes_and_vxlan_ids(admin: Connection, demo: Connection) -> None:
    first = admin.network.create_network(name="p1")
    second = admin.network.create_network(
        name="p2", provider_network_type="vxlan", provider_segmentation_id=777
    )
    assert first.provider_network_type == "vxlan" and first.provider_segmentation_id is not None
    assert second.provider_segmentation_id == 777
    clash = _raw(
        admin,
        "POST",
        "/networks",
        json={"network": {"provider:network_type": "vxlan", "provider:segmentation_id": 777}},
    )
    assert clash.status_code == 409 and _neutron_error(clash)["type"] == "TunnelIdInUse"
    refused = _raw(demo, "POST", "/networks", json={"network": {"provider:network_type": "vxlan"}})
    assert refused.status_code == 403 and _neutron_error(refused)["type"] == "PolicyNotAuthorized"
    external = admin.network.create_network(
        name="public",
        is_router_external=True,
        provider_network_type="flat",
        provider_physical_network="public",
    )
    assert external.is_router_external and external.mtu == 1500 and external.provider_segmentation_id is None
    # Every project sees an external network; a member sees no provider attribute of it.
    seen = demo.network.get_network(external.id)
    assert seen.is_router_external and seen.provider_network_type is None
    for network in (first, second, external):
        admin.network.delete_network(network)


def test_project_isolation(admin: Connection, demo: Connection) -> None:
    private = admin.network.create_network(name="admin-private")
    shared = admin.network.create_network(name="admin-shared", is_shared=True)
    demo_ids = {network.id for network in demo.network.networks()}
    assert private.id not in demo_ids and shared.id in demo_ids
    hidden = _raw(demo, "GET", f"/networks/{private.id}")
    assert hidden.status_code == 404 and _neutron_error(hidden)["type"] == "NetworkNotFound"
    assert _raw(demo, "DELETE", f"/networks/{shared.id}").status_code == 403
    assert _raw(demo, "PUT", f"/networks/{private.id}", json={"network": {"name": "x"}}).status_code == 404
    on_private = _raw(
        demo,
        "POST",
        "/subnets",
        json={"subnet": {"network_id": private.id, "ip_version": 4, "cidr": "10.9.0.0/24"}},
    )
    assert on_private.status_code == 404
    for network in (private, shared):
        admin.network.delete_network(network)


def test_filters_fields_sorting_and_pages(demo: Connection) -> None:
    names = [f"page-{index}" for index in range(5)]
    created = [
        demo.network.create_network(name=name, is_admin_state_up=index % 2 == 0)
        for index, name in enumerate(names)
    ]
    listed = _raw(
        demo,
        "GET",
        "/networks",
        params=[
            ("sort_key", "name"),
            ("sort_dir", "desc"),
            ("limit", "2"),
            ("fields", "id"),
            ("fields", "name"),
        ],
    )
    body = listed.json()
    mine = [network for network in body["networks"] if network["name"].startswith("page-")]
    assert [network["name"] for network in mine] == ["page-4", "page-3"]
    assert set(body["networks"][0]) == {"id", "name"}
    assert body["networks_links"][0]["rel"] == "next"
    # openstacksdk follows the links through every page.
    paged = [network.name for network in demo.network.networks(sort_key="name", sort_dir="asc", limit=2)]
    assert [name for name in paged if name.startswith("page-")] == names
    down = {network.name for network in demo.network.networks(is_admin_state_up=False)}
    assert down >= {"page-1", "page-3"} and not down & {"page-0", "page-2", "page-4"}
    bad_filter = _raw(demo, "GET", "/networks", params={"colour": "blue"})
    assert bad_filter.status_code == 400 and _neutron_error(bad_filter)["type"] == "InvalidInput"
    bad_time = _raw(demo, "GET", "/networks", params={"created_at": "yesterday"})
    assert bad_time.status_code == 400 and _neutron_error(bad_time)["type"] == "InvalidInput"
    since = _raw(demo, "GET", "/networks", params={"created_at": created[0].created_at, "name": "page-0"})
    assert [network["id"] for network in since.json()["networks"]] == [created[0].id]
    bad_sort = _raw(demo, "GET", "/networks", params={"sort_key": "subnets", "sort_dir": "asc"})
    assert bad_sort.status_code == 400
    for network in created:
        demo.network.delete_network(network)


def test_standard_tags(demo: Connection) -> None:
    network = demo.network.create_network(name="tagged")
    demo.network.set_tags(network, ["blue", "green"])
    assert demo.network.get_network(network.id).tags == ["blue", "green"]
    assert _raw(demo, "PUT", f"/networks/{network.id}/tags/red").status_code == 201
    assert _raw(demo, "GET", f"/networks/{network.id}/tags/red").status_code == 204
    assert _raw(demo, "GET", f"/networks/{network.id}/tags/black").status_code == 404
    assert [n.id for n in demo.network.networks(tags="blue,red")] == [network.id]
    assert network.id not in {n.id for n in demo.network.networks(not_any_tags="green")}
    assert _raw(demo, "DELETE", f"/networks/{network.id}/tags").status_code == 204
    assert demo.network.get_network(network.id).tags == []
    demo.network.delete_network(network)


@pytest.mark.parametrize(
    ("subnet", "status", "kind"),
    [
        ({"cidr": "10.0.0.0/33"}, 400, "InvalidInput"),
        ({"cidr": "not-a-cidr"}, 400, "InvalidInput"),
        ({"cidr": "10.50.0.0/24", "gateway_ip": "10.51.0.1"}, 400, "InvalidInput"),
        (
            {"cidr": "10.50.0.0/24", "allocation_pools": [{"start": "10.50.0.10", "end": "10.50.1.5"}]},
            400,
            "InvalidInput",
        ),
        (
            {"cidr": "10.50.0.0/24", "allocation_pools": [{"start": "10.50.0.1", "end": "10.50.0.9"}]},
            409,
            "GatewayConflictWithAllocationPools",
        ),
        ({"cidr": "10.50.0.0/24", "dns_nameservers": ["1.2.3"]}, 400, "InvalidInput"),
        (
            {"cidr": "10.50.0.0/24", "host_routes": [{"destination": "10.1.0.0/33", "nexthop": "10.50.0.9"}]},
            400,
            "InvalidInput",
        ),
        ({"cidr": "10.50.0.0/24", "ip_version": 6}, 400, "InvalidInput"),
        ({"cidr": "10.50.0.0/24", "enable_dhcp": "maybe"}, 400, "HTTPBadRequest"),
        ({"cidr": "10.50.0.0/24", "colour": "blue"}, 400, "HTTPBadRequest"),
        ({"cidr": "10.10.0.128/25"}, 409, "SubnetOverlap"),
    ],
)
def test_bad_subnets_are_refused_and_create_nothing(
    demo: Connection, subnet: dict[str, Any], status: int, kind: str
) -> None:
    network = demo.network.create_network(name="bad-subnets")
    demo.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.10.0.0/16")
    response = _raw(
        demo, "POST", "/subnets", json={"subnet": {"network_id": network.id, "ip_version": 4, **subnet}}
    )
    assert response.status_code == status, response.text
    assert _neutron_error(response)["type"] == kind
    assert len(list(demo.network.subnets(network_id=network.id))) == 1
    for existing in demo.network.subnets(network_id=network.id):
        demo.network.delete_subnet(existing)
    demo.network.delete_network(network)


def test_quotas_with_openstacksdk(admin: Connection, demo: Connection) -> None:
    project = demo.current_project_id
    assert demo.network.get_quota(project).networks == 100
    admin.network.update_quota(project, networks=1, security_group_rules=50)
    try:
        details = demo.network.get_quota(project, details=True)
        assert details.networks == {"limit": 1, "used": 0, "reserved": 0}
        assert details.security_group_rules["limit"] == 50
        network = demo.network.create_network(name="counted")
        over = _raw(demo, "POST", "/networks", json={"network": {"name": "over"}})
        assert over.status_code == 409 and _neutron_error(over)["type"] == "OverQuota"
        assert demo.network.get_quota(project, details=True).networks["used"] == 1
        below = _raw(admin, "PUT", f"/quotas/{project}", json={"quota": {"network": 0, "check_limit": True}})
        assert below.status_code == 400 and _neutron_error(below)["type"] == "InvalidQuotaValue"
        demo.network.delete_network(network)
    finally:
        admin.network.delete_quota(project)
    assert demo.network.get_quota(project).networks == 100
    assert demo.network.get_quota_default(project).ports == 500
    refused = _raw(demo, "PUT", f"/quotas/{project}", json={"quota": {"network": 1000}})
    assert refused.status_code == 403 and _neutron_error(refused)["type"] == "PolicyNotAuthorized"
    other = _raw(demo, "GET", f"/quotas/{admin.current_project_id}")
    assert other.status_code == 403
    unchanged = _raw(admin, "PUT", f"/quotas/{project}", json={"quota": {}})
    assert unchanged.status_code == 200 and unchanged.json()["quota"]["network"] == 100
    for bad in ({"colour": 1}, {"network": -2}, {"network": "lots"}, {"network": True}):
        response = _raw(admin, "PUT", f"/quotas/{project}", json={"quota": bad})
        assert response.status_code == 400, bad
    assert demo.network.get_quota(project).networks == 100


def test_security_groups_with_openstacksdk(demo: Connection) -> None:
    default = demo.network.find_security_group("default")
    assert default is not None and len(default.security_group_rules) == 4
    group = demo.network.create_security_group(name="ssh", description="ssh in")
    rule = demo.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    assert rule.protocol == "tcp" and rule.ether_type == "IPv4"
    duplicate = _raw(
        demo,
        "POST",
        "/security-group-rules",
        json={
            "security_group_rule": {
                "security_group_id": group.id,
                "direction": "ingress",
                "protocol": "6",
                "port_range_min": 22,
                "port_range_max": 22,
                "remote_ip_prefix": "0.0.0.0/0",
            }
        },
    )
    assert duplicate.status_code == 409 and _neutron_error(duplicate)["type"] == "SecurityGroupRuleExists"
    bad_range = _raw(
        demo,
        "POST",
        "/security-group-rules",
        json={
            "security_group_rule": {
                "security_group_id": group.id,
                "direction": "ingress",
                "protocol": "udp",
                "port_range_min": 53,
                "port_range_max": 52,
            }
        },
    )
    assert bad_range.status_code == 400 and _neutron_error(bad_range)["type"] == "InvalidInput"
    network = demo.network.create_network(name="sg-net")
    demo.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.77.0.0/24")
    port = demo.network.create_port(network_id=network.id, security_group_ids=[group.id])
    assert port.security_group_ids == [group.id]
    in_use = _raw(demo, "DELETE", f"/security-groups/{group.id}")
    assert in_use.status_code == 409 and _neutron_error(in_use)["type"] == "SecurityGroupInUse"
    demo.network.delete_port(port)
    demo.network.delete_security_group_rule(rule)
    demo.network.delete_security_group(group)
    for subnet in demo.network.subnets(network_id=network.id):
        demo.network.delete_subnet(subnet)
    demo.network.delete_network(network)


def test_router_and_floating_ip_with_openstacksdk(admin: Connection, demo: Connection) -> None:
    public = admin.network.create_network(name="sdk-public", is_router_external=True)
    admin.network.create_subnet(
        network_id=public.id, ip_version=4, cidr="198.51.100.0/24", is_dhcp_enabled=False
    )
    private = demo.network.create_network(name="sdk-private")
    subnet = demo.network.create_subnet(network_id=private.id, ip_version=4, cidr="10.60.0.0/24")
    router = demo.network.create_router(name="sdk-router", external_gateway_info={"network_id": public.id})
    assert router.external_gateway_info["external_fixed_ips"][0]["ip_address"] == "198.51.100.2"
    demo.network.add_interface_to_router(router, subnet=subnet.id)
    port = demo.network.create_port(network_id=private.id)
    fip = demo.network.create_ip(floating_network_id=public.id, port_id=port.id)
    assert fip.fixed_ip_address == port.fixed_ips[0]["ip_address"] and fip.router_id == router.id
    assert fip.status == "DOWN"  # no network agent wires it yet
    assert [ip.id for ip in demo.network.ips(port_id=port.id)] == [fip.id]
    in_use = _raw(demo, "DELETE", f"/routers/{router.id}")
    assert in_use.status_code == 409 and _neutron_error(in_use)["type"] == "RouterInUse"
    not_external = _raw(
        demo, "POST", "/floatingips", json={"floatingip": {"floating_network_id": private.id}}
    )
    assert not_external.status_code == 400 and _neutron_error(not_external)["type"] == "BadRequest"
    demo.network.delete_ip(fip)
    demo.network.delete_port(port)
    demo.network.remove_interface_from_router(router, subnet=subnet.id)
    demo.network.delete_router(router)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(private)
    admin.network.delete_network(public)


def test_bulk_creates_are_all_or_nothing(demo: Connection) -> None:
    made = _raw(demo, "POST", "/networks", json={"networks": [{"name": "bulk-1"}, {"name": "bulk-2"}]})
    assert made.status_code == 201, made.text
    first, second = made.json()["networks"]
    assert (first["name"], second["name"]) == ("bulk-1", "bulk-2")
    subnet = demo.network.create_subnet(network_id=first["id"], ip_version=4, cidr="10.70.0.0/24")
    ports = list(
        demo.network.create_ports([{"network_id": first["id"]}, {"network_id": first["id"], "name": "b"}])
    )
    assert [port.fixed_ips[0]["ip_address"] for port in ports] == ["10.70.0.3", "10.70.0.4"]
    half_bad = _raw(
        demo,
        "POST",
        "/ports",
        json={
            "ports": [
                {"network_id": first["id"], "name": "fine"},
                {"network_id": first["id"], "fixed_ips": [{"ip_address": "10.70.0.3"}]},
            ]
        },
    )
    assert half_bad.status_code == 409 and _neutron_error(half_bad)["type"] == "IpAddressAlreadyAllocated"
    assert not list(demo.network.ports(name="fine"))
    both = _raw(demo, "POST", "/networks", json={"network": {"name": "x"}, "networks": [{"name": "y"}]})
    assert both.status_code == 400
    for port in ports:
        demo.network.delete_port(port)
    demo.network.delete_subnet(subnet)
    demo.network.delete_network(first["id"])
    demo.network.delete_network(second["id"])


def test_if_match_revision_number(demo: Connection) -> None:
    network = demo.network.create_network(name="guarded")
    stale = _raw(
        demo,
        "PUT",
        f"/networks/{network.id}",
        json={"network": {"name": "x"}},
        headers={"If-Match": "revision_number=7"},
    )
    assert stale.status_code == 412 and _neutron_error(stale)["type"] == "RevisionNumberConstraintFailed"
    current = _raw(
        demo,
        "PUT",
        f"/networks/{network.id}",
        json={"network": {"name": "renamed"}},
        headers={"If-Match": "revision_number=0"},
    )
    assert current.status_code == 200 and current.json()["network"]["revision_number"] == 1
    malformed = _raw(demo, "DELETE", f"/networks/{network.id}", headers={"If-Match": "etag-ish"})
    assert malformed.status_code == 400
    assert (
        _raw(demo, "DELETE", f"/networks/{network.id}", headers={"If-Match": "revision_number=0"}).status_code
        == 412
    )
    assert (
        _raw(demo, "DELETE", f"/networks/{network.id}", headers={"If-Match": "revision_number=1"}).status_code
        == 204
    )
