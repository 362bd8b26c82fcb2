"""Address scopes, subnet pools and subnets allocated from them over real HTTP: openstacksdk and the CLI."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from openstack import exceptions
from openstack.connection import Connection

from tests.support.cloud import InProcessCloud


def _error(conn: Connection, method: str, path: str, body: dict[str, Any]) -> requests.Response:
    url = str(conn.network.get_endpoint()).rstrip("/") + path
    return requests.request(method, url, headers={"X-Auth-Token": conn.auth_token}, json=body, timeout=30)


def test_a_subnet_takes_its_cidr_from_a_pool_in_a_scope(demo: Connection, admin: Connection) -> None:
    scope = demo.network.create_address_scope(name="fn-scope", ip_version=4)
    pool = demo.network.create_subnet_pool(
        name="fn-pool", prefixes=["10.140.0.0/24"], default_prefixlen=26, address_scope_id=scope.id
    )
    assert (pool.ip_version, pool.minimum_prefix_length, pool.maximum_prefix_length) == (4, 8, 32)
    assert pool.address_scope_id == scope.id and pool.prefixes == ["10.140.0.0/24"]
    network = demo.network.create_network(name="fn-pooled")
    first = demo.network.create_subnet(network_id=network.id, ip_version=4, subnetpool_id=pool.id)
    second = demo.network.create_subnet(
        network_id=network.id, ip_version=4, subnetpool_id=pool.id, prefixlen=28
    )
    assert (first.cidr, first.gateway_ip, first.subnet_pool_id) == ("10.140.0.0/26", "10.140.0.1", pool.id)
    assert second.cidr == "10.140.0.64/28"
    assert demo.network.get_subnet(first.id).subnet_pool_id == pool.id
    shown = demo.network.get_network(network.id)
    assert (shown.ipv4_address_scope_id, shown.ipv6_address_scope_id) == (scope.id, None)

    overlapping = _error(
        demo,
        "POST",
        "/subnetpools",
        {"subnetpool": {"name": "clash", "prefixes": ["10.140.0.128/25"], "address_scope_id": scope.id}},
    )
    assert overlapping.status_code == 409
    assert overlapping.json()["NeutronError"]["type"] == "AddressScopePrefixConflict"
    too_long = _error(
        demo,
        "POST",
        "/subnets",
        {"subnet": {"network_id": network.id, "ip_version": 4, "subnetpool_id": pool.id, "prefixlen": 33}},
    )
    assert too_long.status_code == 400
    assert too_long.json()["NeutronError"]["type"] == "MaxPrefixSubnetAllocationError"

    with pytest.raises(exceptions.ConflictException, match="existing allocations"):
        demo.network.delete_subnet_pool(pool.id)
    with pytest.raises(exceptions.ConflictException, match="subnet pools in use"):
        demo.network.delete_address_scope(scope.id)
    demo.network.delete_network(network.id)
    demo.network.delete_subnet_pool(pool.id)
    demo.network.delete_address_scope(scope.id)
    assert demo.network.find_address_scope("fn-scope") is None


def test_an_exhausted_pool_is_a_409(demo: Connection) -> None:
    pool = demo.network.create_subnet_pool(name="fn-small", prefixes=["10.141.0.0/28"], default_prefixlen=28)
    network = demo.network.create_network(name="fn-small-net")
    demo.network.create_subnet(network_id=network.id, ip_version=4, subnetpool_id=pool.id)
    full = _error(
        demo,
        "POST",
        "/subnets",
        {"subnet": {"network_id": network.id, "ip_version": 4, "subnetpool_id": pool.id}},
    )
    assert full.status_code == 409
    assert full.json()["NeutronError"]["type"] == "SubnetAllocationError"
    demo.network.delete_network(network.id)
    demo.network.delete_subnet_pool(pool.id)


def test_shared_scopes_and_pools_are_an_admins_and_visible_to_all(
    demo: Connection, admin: Connection
) -> None:
    with pytest.raises(exceptions.ForbiddenException):
        demo.network.create_address_scope(name="fn-mine-shared", ip_version=4, shared=True)
    scope = admin.network.create_address_scope(name="fn-shared-scope", ip_version=4, shared=True)
    pool = admin.network.create_subnet_pool(
        name="fn-shared-pool", prefixes=["10.142.0.0/16"], shared=True, address_scope_id=scope.id
    )
    assert demo.network.get_address_scope(scope.id).is_shared
    assert pool.id in {found.id for found in demo.network.subnet_pools()}
    network = demo.network.create_network(name="fn-shared-net")
    subnet = demo.network.create_subnet(
        network_id=network.id, ip_version=4, subnetpool_id=pool.id, prefixlen=24
    )
    assert subnet.cidr == "10.142.0.0/24"
    demo.network.delete_network(network.id)
    admin.network.delete_subnet_pool(pool.id)
    admin.network.delete_address_scope(scope.id)


def test_the_cli_makes_a_pooled_subnet(cloud: InProcessCloud) -> None:
    scope = cloud.openstack("address", "scope", "create", "--ip-version", "4", "cli-scope", "-f", "json")
    pool = cloud.openstack(
        "subnet", "pool", "create", "--pool-prefix", "10.150.0.0/22", "--default-prefix-length", "24",
        "--address-scope", "cli-scope", "cli-pool", "-f", "json",
    )  # fmt: skip
    assert pool["address_scope_id"] == scope["id"] and pool["prefixes"] == ["10.150.0.0/22"]
    cloud.openstack("network", "create", "cli-pooled", "-f", "json")
    subnet = cloud.openstack(
        "subnet", "create", "--network", "cli-pooled", "--subnet-pool", "cli-pool", "--prefix-length", "23",
        "cli-pooled-subnet", "-f", "json",
    )  # fmt: skip
    assert (subnet["cidr"], subnet["subnetpool_id"]) == ("10.150.0.0/23", pool["id"])
    refused = cloud.openstack("subnet", "pool", "delete", "cli-pool", check=False)
    assert refused.returncode != 0 and "existing allocations" in refused.stderr
    cloud.openstack("network", "delete", "cli-pooled")
    cloud.openstack("subnet", "pool", "delete", "cli-pool")
    cloud.openstack("address", "scope", "delete", "cli-scope")
