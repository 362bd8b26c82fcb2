"""Address scopes, subnet pools and subnets allocated from them, through the network service."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from overcast.db import Database
from overcast.network.api.errors import (
    AddressScopeInUse,
    AddressScopeNotFound,
    AddressScopePrefixConflict,
    AddressScopeUpdateError,
    IllegalSubnetPoolAssociationToAddressScope,
    IllegalSubnetPoolIpVersionAssociationToAddressScope,
    IllegalSubnetPoolPrefixUpdate,
    InvalidInput,
    MaxPrefixSubnetAllocationError,
    MinPrefixSubnetAllocationError,
    NetworkSubnetPoolAffinityError,
    OverQuota,
    PolicyNotAuthorized,
    SubnetAllocationError,
    SubnetPoolInUse,
    SubnetPoolNotFound,
    SubnetPoolQuotaExceeded,
)
from overcast.network.api.queries import ListQuery
from overcast.network.api.service import NetworkAPI
from tests.unit.network.test_ports import ADMIN, ALICE, BOB, network_api


@pytest.fixture
def api(db: Database, tmp_path: Path) -> NetworkAPI:
    return network_api(db, tmp_path)


def make_pool(api: NetworkAPI, ctxt: Any = ALICE, **attrs: Any) -> dict[str, Any]:
    body = {
        "name": "pool",
        "prefixes": ["10.100.0.0/24"],
        "min_prefixlen": 8,
        "default_prefixlen": 24,
        **attrs,
    }
    return api.subnet_pools.create(ctxt, body)


def pooled_subnet(api: NetworkAPI, pool_id: str, ctxt: Any = ALICE, **attrs: Any) -> dict[str, Any]:
    network = api.networks.create(ctxt, {"name": "net"})
    body = {"network_id": network["id"], "ip_version": 4, "subnetpool_id": pool_id, **attrs}
    return api.subnets.create(ctxt, body)


def test_address_scope_lifecycle_and_visibility(api: NetworkAPI) -> None:
    scope = api.address_scopes.create(ALICE, {"name": "scope", "ip_version": 4})
    assert scope == {
        "id": scope["id"],
        "name": "scope",
        "ip_version": 4,
        "shared": False,
        "tenant_id": "project-a",
        "project_id": "project-a",
    }
    with pytest.raises(AddressScopeNotFound):
        api.address_scopes.get(BOB, scope["id"])
    with pytest.raises(PolicyNotAuthorized):
        api.address_scopes.create(ALICE, {"ip_version": 4, "shared": True})
    unshared = api.address_scopes.create(ALICE, {"name": "explicit", "ip_version": 4, "shared": False})
    api.address_scopes.delete(ALICE, unshared["id"])
    shared = api.address_scopes.create(ADMIN, {"name": "everyone", "ip_version": 6, "shared": True})
    assert {found["id"] for found in api.address_scopes.list(BOB, ListQuery())} == {shared["id"]}
    assert api.address_scopes.list(ALICE, ListQuery(filters={"ip_version": ["4"]})) == [scope]
    assert api.address_scopes.update(ALICE, scope["id"], {"name": "renamed"})["name"] == "renamed"
    with pytest.raises(AddressScopeUpdateError):
        api.address_scopes.update(ADMIN, shared["id"], {"shared": False})
    with pytest.raises(InvalidInput):
        api.address_scopes.create(ALICE, {"ip_version": 5})
    api.address_scopes.delete(ALICE, scope["id"])
    with pytest.raises(AddressScopeNotFound):
        api.address_scopes.get(ALICE, scope["id"])


def test_pool_defaults_and_rules(api: NetworkAPI) -> None:
    pool = api.subnet_pools.create(ALICE, {"name": "p", "prefixes": ["10.1.0.0/24", "10.0.0.0/16"]})
    assert pool["prefixes"] == ["10.0.0.0/16", "10.1.0.0/24"]
    assert (pool["ip_version"], pool["min_prefixlen"], pool["max_prefixlen"], pool["default_prefixlen"]) == (
        4,
        8,
        32,
        8,
    )
    assert pool["default_quota"] is None and pool["address_scope_id"] is None and pool["revision_number"] == 0
    assert pool["tags"] == [] and not pool["shared"] and not pool["is_default"]
    with pytest.raises(InvalidInput, match="name"):
        api.subnet_pools.create(ALICE, {"prefixes": ["10.0.0.0/8"]})
    with pytest.raises(PolicyNotAuthorized):
        make_pool(api, shared=True)
    with pytest.raises(PolicyNotAuthorized):
        make_pool(api, is_default=True)
    # Their defaults are anyone's to send.
    assert not make_pool(api, prefixes=["10.2.0.0/16"], shared=False, is_default=False)["shared"]
    with pytest.raises(SubnetPoolNotFound):
        api.subnet_pools.get(BOB, pool["id"])
    shared = make_pool(api, ADMIN, shared=True, prefixes=["172.16.0.0/12"])
    assert [found["id"] for found in api.subnet_pools.list(BOB, ListQuery())] == [shared["id"]]
    with pytest.raises(InvalidInput, match="read-only attribute shared"):
        api.subnet_pools.update(ADMIN, shared["id"], {"shared": False})


def test_subnets_take_the_first_free_cidr_of_their_size(api: NetworkAPI) -> None:
    pool = make_pool(api)
    first = pooled_subnet(api, pool["id"], prefixlen=28)
    assert (first["cidr"], first["gateway_ip"], first["subnetpool_id"]) == (
        "10.100.0.0/28",
        "10.100.0.1",
        pool["id"],
    )
    assert first["allocation_pools"] == [{"start": "10.100.0.2", "end": "10.100.0.14"}]
    assert pooled_subnet(api, pool["id"], prefixlen="28")["cidr"] == "10.100.0.16/28"
    assert pooled_subnet(api, pool["id"], prefixlen=26)["cidr"] == "10.100.0.64/26"
    named = pooled_subnet(api, pool["id"], cidr="10.100.0.32/27")
    assert named["cidr"] == "10.100.0.32/27" and named["subnetpool_id"] == pool["id"]
    with pytest.raises(SubnetAllocationError, match="available set of prefixes"):
        pooled_subnet(api, pool["id"], cidr="10.100.0.32/28")
    with pytest.raises(SubnetAllocationError, match="Insufficient prefix space to allocate subnet size /24"):
        pooled_subnet(api, pool["id"])  # the default /24 is the whole, partly used, pool
    found = api.subnets.list(ALICE, ListQuery(filters={"subnetpool_id": [pool["id"]]}))
    assert len(found) == 4


def test_an_exhausted_pool_is_a_conflict_until_a_subnet_goes(api: NetworkAPI) -> None:
    pool = make_pool(api, prefixes=["10.9.0.0/27"])
    one = pooled_subnet(api, pool["id"], prefixlen=28)
    pooled_subnet(api, pool["id"], prefixlen=28)
    with pytest.raises(SubnetAllocationError):
        pooled_subnet(api, pool["id"], prefixlen=28)
    api.subnets.delete(ALICE, one["id"])
    assert pooled_subnet(api, pool["id"], prefixlen=28)["cidr"] == one["cidr"]


def test_prefix_lengths_outside_the_pool_bounds_are_refused(api: NetworkAPI) -> None:
    pool = make_pool(api, prefixes=["10.0.0.0/16"], min_prefixlen=20, max_prefixlen=28, default_prefixlen=24)
    with pytest.raises(MinPrefixSubnetAllocationError):
        pooled_subnet(api, pool["id"], prefixlen=18)
    with pytest.raises(MaxPrefixSubnetAllocationError):
        pooled_subnet(api, pool["id"], prefixlen=29)
    with pytest.raises(InvalidInput, match="cidr and prefixlen"):
        pooled_subnet(api, pool["id"], prefixlen=24, cidr="10.0.0.0/24")
    wide = make_pool(api, prefixes=["10.50.0.0/24"], max_prefixlen=32, default_prefixlen=32, min_prefixlen=24)
    with pytest.raises(InvalidInput, match="prefix length"):
        pooled_subnet(api, wide["id"])
    with pytest.raises(InvalidInput, match="prefix length"):
        pooled_subnet(api, wide["id"], prefixlen=31)


def test_a_pool_with_subnets_cannot_be_deleted(api: NetworkAPI) -> None:
    pool = make_pool(api)
    subnet = pooled_subnet(api, pool["id"], prefixlen=28)
    with pytest.raises(SubnetPoolInUse):
        api.subnet_pools.delete(ALICE, pool["id"])
    api.subnets.delete(ALICE, subnet["id"])
    api.subnet_pools.delete(ALICE, pool["id"])
    with pytest.raises(SubnetPoolNotFound):
        api.subnet_pools.get(ALICE, pool["id"])


def test_other_projects_use_only_shared_pools(api: NetworkAPI) -> None:
    private = make_pool(api)
    with pytest.raises(SubnetPoolNotFound):
        pooled_subnet(api, private["id"], BOB, prefixlen=28)
    with pytest.raises(InvalidInput, match="not a valid UUID"):
        pooled_subnet(api, "pool-name", BOB, prefixlen=28)
    shared = make_pool(api, ADMIN, prefixes=["10.200.0.0/16"], shared=True)
    assert pooled_subnet(api, shared["id"], BOB, prefixlen=24)["cidr"] == "10.200.0.0/24"


def test_the_default_pool_serves_use_default_subnetpool(api: NetworkAPI) -> None:
    network = api.networks.create(ALICE, {"name": "net"})
    body = {"network_id": network["id"], "ip_version": 4, "use_default_subnetpool": True, "prefixlen": 26}
    with pytest.raises(InvalidInput, match="No default subnetpools"):
        api.subnets.create(ALICE, body)
    default = make_pool(api, ADMIN, prefixes=["10.60.0.0/16"], shared=True, is_default=True)
    with pytest.raises(InvalidInput, match="Only one default"):
        make_pool(api, ADMIN, prefixes=["10.61.0.0/16"], is_default=True)
    subnet = api.subnets.create(ALICE, body)
    assert (subnet["cidr"], subnet["subnetpool_id"]) == ("10.60.0.0/26", default["id"])
    with pytest.raises(InvalidInput, match="cannot both"):
        api.subnets.create(ALICE, {**body, "subnetpool_id": default["id"]})


def test_a_network_takes_its_subnets_from_one_pool(api: NetworkAPI) -> None:
    pool = make_pool(api)
    subnet = pooled_subnet(api, pool["id"], prefixlen=28)
    with pytest.raises(NetworkSubnetPoolAffinityError):
        api.subnets.create(
            ALICE, {"network_id": subnet["network_id"], "ip_version": 4, "cidr": "10.7.0.0/24"}
        )
    other = make_pool(api, prefixes=["10.8.0.0/16"])
    with pytest.raises(NetworkSubnetPoolAffinityError):
        api.subnets.create(
            ALICE, {"network_id": subnet["network_id"], "ip_version": 4, "subnetpool_id": other["id"]}
        )
    second = api.subnets.create(
        ALICE,
        {"network_id": subnet["network_id"], "ip_version": 4, "subnetpool_id": pool["id"], "prefixlen": 28},
    )
    assert second["cidr"] == "10.100.0.16/28"


def test_default_quota_counts_a_projects_addresses_in_the_pool(api: NetworkAPI) -> None:
    pool = make_pool(api, ADMIN, prefixes=["10.70.0.0/16"], shared=True, default_quota=48)
    pooled_subnet(api, pool["id"], ALICE, prefixlen=27)
    pooled_subnet(api, pool["id"], ALICE, prefixlen=28)
    with pytest.raises(SubnetPoolQuotaExceeded):
        pooled_subnet(api, pool["id"], ALICE, prefixlen=28)
    assert pooled_subnet(api, pool["id"], BOB, prefixlen=28)["cidr"] == "10.70.0.48/28"


def test_pools_in_one_scope_never_share_a_prefix(api: NetworkAPI) -> None:
    scope = api.address_scopes.create(ALICE, {"name": "s", "ip_version": 4})
    first = make_pool(api, prefixes=["10.0.0.0/16"], address_scope_id=scope["id"])
    assert first["address_scope_id"] == scope["id"]
    subnet = pooled_subnet(api, first["id"], prefixlen=24)
    network = api.networks.get(ALICE, subnet["network_id"])
    assert (network["ipv4_address_scope"], network["ipv6_address_scope"]) == (scope["id"], None)
    assert api.networks.create(ALICE, {"name": "bare"})["ipv4_address_scope"] is None
    with pytest.raises(AddressScopePrefixConflict):
        make_pool(api, prefixes=["10.0.128.0/24"], address_scope_id=scope["id"])
    outside = make_pool(api, prefixes=["10.0.128.0/24"])
    with pytest.raises(AddressScopePrefixConflict):
        api.subnet_pools.update(ALICE, outside["id"], {"address_scope_id": scope["id"]})
    with pytest.raises(AddressScopePrefixConflict):
        api.subnet_pools.add_prefixes(
            ALICE,
            make_pool(api, prefixes=["10.1.0.0/16"], address_scope_id=scope["id"])["id"],
            ["10.0.0.0/8"],
        )
    v6 = api.address_scopes.create(ALICE, {"name": "six", "ip_version": 6})
    with pytest.raises(IllegalSubnetPoolIpVersionAssociationToAddressScope):
        make_pool(api, address_scope_id=v6["id"], prefixes=["10.5.0.0/16"])
    bobs = api.address_scopes.create(BOB, {"name": "bob's", "ip_version": 4})
    with pytest.raises(IllegalSubnetPoolAssociationToAddressScope):
        make_pool(api, ADMIN, project_id="project-a", prefixes=["10.6.0.0/16"], address_scope_id=bobs["id"])
    with pytest.raises(InvalidInput, match="not a valid UUID"):
        make_pool(api, prefixes=["10.6.0.0/16"], address_scope_id="scope-name")
    with pytest.raises(AddressScopeInUse):
        api.address_scopes.delete(ALICE, scope["id"])
    api.subnet_pools.update(ALICE, first["id"], {"address_scope_id": None})
    assert api.networks.get(ALICE, subnet["network_id"])["ipv4_address_scope"] is None


def test_prefixes_grow_by_update_or_add_and_shrink_only_where_unused(api: NetworkAPI) -> None:
    pool = make_pool(api, prefixes=["10.0.0.0/24"])
    with pytest.raises(IllegalSubnetPoolPrefixUpdate, match="subset"):
        api.subnet_pools.update(ALICE, pool["id"], {"prefixes": ["10.1.0.0/24"]})
    updated = api.subnet_pools.update(ALICE, pool["id"], {"prefixes": ["10.0.0.0/24", "10.1.0.0/24"]})
    assert updated["prefixes"] == ["10.0.0.0/24", "10.1.0.0/24"] and updated["revision_number"] == 1
    assert api.subnet_pools.add_prefixes(ALICE, pool["id"], ["10.0.1.0/24"]) == ["10.0.0.0/23", "10.1.0.0/24"]
    pooled_subnet(api, pool["id"], prefixlen=28)
    with pytest.raises(IllegalSubnetPoolPrefixUpdate, match=r"10\.0\.0\.0/28"):
        api.subnet_pools.remove_prefixes(ALICE, pool["id"], ["10.0.0.0/24"])
    assert api.subnet_pools.remove_prefixes(ALICE, pool["id"], ["10.1.0.0/24", "10.0.1.0/24"]) == [
        "10.0.0.0/24"
    ]
    with pytest.raises(PolicyNotAuthorized):
        api.subnet_pools.update(ALICE, pool["id"], {"is_default": True})
    with pytest.raises(SubnetPoolNotFound):
        api.subnet_pools.add_prefixes(BOB, pool["id"], ["10.9.0.0/24"])


def test_subnetpool_quota_and_tags(api: NetworkAPI) -> None:
    api.quota_api.update(ADMIN, "project-a", {"subnetpool": 1})
    pool = make_pool(api, tags=["blue"])
    assert pool["tags"] == ["blue"]
    with pytest.raises(OverQuota):
        make_pool(api, prefixes=["10.3.0.0/16"])
    api.tags.add(ALICE, "subnetpools", pool["id"], "red")
    assert api.tags.get(ALICE, "subnetpools", pool["id"]) == ["blue", "red"]
    found = api.subnet_pools.list(ALICE, ListQuery(filters={"tags": ["red"]}))
    assert [one["id"] for one in found] == [pool["id"]]
    api.subnet_pools.delete(ALICE, pool["id"])
    make_pool(api, prefixes=["10.3.0.0/16"])


def test_concurrent_allocations_from_one_pool_never_overlap(api: NetworkAPI) -> None:
    pool = make_pool(api, prefixes=["10.100.0.0/24"])
    networks = [api.networks.create(ALICE, {"name": f"n{index}"})["id"] for index in range(8)]

    def allocate(network_id: str) -> str:
        body = {"network_id": network_id, "ip_version": 4, "subnetpool_id": pool["id"], "prefixlen": 28}
        return str(api.subnets.create(ALICE, body)["cidr"])

    with ThreadPoolExecutor(max_workers=4) as executor:
        cidrs = [ipaddress.ip_network(cidr) for cidr in executor.map(allocate, networks)]
    assert len(set(cidrs)) == 8
    assert not any(a.overlaps(b) for a in cidrs for b in cidrs if a != b)
