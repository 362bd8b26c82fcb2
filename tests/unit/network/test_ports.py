"""Ports and their addresses through the network service on a real database (SQLite here; the same
concurrency test runs on PostgreSQL in tests/integration/test_network_postgres.py)."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.errors import OvercastError
from overcast.network.api.errors import (
    AddressPairAndPortSecurityRequired,
    InvalidInput,
    IpAddressAlreadyAllocated,
    IpAddressGenerationFailure,
    MacAddressInUse,
    NetworkInUse,
    NetworkNotFound,
    PolicyNotAuthorized,
    SubnetInUse,
)
from overcast.network.api.queries import ListQuery
from overcast.network.api.service import NetworkAPI

ALICE = RequestContext(user_id="alice", project_id="project-a", roles=("member",))
BOB = RequestContext(user_id="bob", project_id="project-b", roles=("member",))
ADMIN = RequestContext(user_id="root", project_id="admin", roles=("admin", "member"), is_admin=True)


def network_api(db: Database, data_dir: Path) -> NetworkAPI:
    transport = get_transport(f"inproc://network-{uuid.uuid4().hex}")
    cloud = Cloud(settings=load_settings(data_dir=data_dir), db=db, transport=transport)
    return NetworkAPI(cloud, rng=random.Random(1))


@pytest.fixture
def api(db: Database, tmp_path: Path) -> NetworkAPI:
    return network_api(db, tmp_path)


def make_subnet(
    api: NetworkAPI, ctxt: RequestContext, cidr: str = "10.0.0.0/28", **extra: Any
) -> tuple[str, str]:
    network = api.networks.create(ctxt, {"name": "net", **extra})
    subnet = api.subnets.create(ctxt, {"network_id": network["id"], "ip_version": 4, "cidr": cidr})
    return network["id"], subnet["id"]


def addresses(port: dict[str, Any]) -> list[str]:
    return [fixed["ip_address"] for fixed in port["fixed_ips"]]


def test_addresses_come_from_the_pool_after_gateway_and_dhcp(api: NetworkAPI) -> None:
    network_id, subnet_id = make_subnet(api, ALICE)
    first = api.ports.create(ALICE, {"network_id": network_id})
    assert first["fixed_ips"] == [{"subnet_id": subnet_id, "ip_address": "10.0.0.3"}]
    assert first["status"] == "DOWN" and first["mac_address"].startswith("fa:16:3e:")
    assert "binding:host_id" not in first  # an admin's attribute
    chosen = api.ports.create(ALICE, {"network_id": network_id, "fixed_ips": [{"ip_address": "10.0.0.9"}]})
    assert chosen["fixed_ips"] == [{"subnet_id": subnet_id, "ip_address": "10.0.0.9"}]
    api.ports.delete(ALICE, first["id"])
    # Released on delete: the next port gets the address back.
    assert addresses(api.ports.create(ALICE, {"network_id": network_id})) == ["10.0.0.3"]


def test_a_subnet_runs_out_with_a_409(api: NetworkAPI) -> None:
    network_id, _ = make_subnet(api, ALICE, "10.0.0.0/29")  # .1 gateway, .2 DHCP, .3-.6 for ports
    made = [addresses(api.ports.create(ALICE, {"network_id": network_id})) for _ in range(4)]
    assert made == [["10.0.0.3"], ["10.0.0.4"], ["10.0.0.5"], ["10.0.0.6"]]
    with pytest.raises(IpAddressGenerationFailure):
        api.ports.create(ALICE, {"network_id": network_id})
    assert len(api.ports.list(ALICE, ListQuery(filters={"network_id": [network_id]}))) == 5


@pytest.mark.parametrize(
    ("fixed_ips", "error"),
    [
        ([{"ip_address": "10.0.0.2"}], IpAddressAlreadyAllocated),  # the DHCP port's
        ([{"ip_address": "10.0.0.1"}], IpAddressAlreadyAllocated),  # the gateway
        ([{"ip_address": "10.0.0.15"}], InvalidInput),  # the broadcast address
        ([{"ip_address": "10.1.0.5"}], InvalidInput),  # on no subnet of the network
        ([{"ip_address": "10.0.0.300"}], InvalidInput),
        ([{"subnet_id": str(uuid.uuid4())}], InvalidInput),
        ([{"ip_address": "10.0.0.5"}, {"ip_address": "10.0.0.5"}], InvalidInput),
        ([{"mac": "x"}], InvalidInput),
        ("10.0.0.5", InvalidInput),
    ],
)
def test_bad_fixed_ips_create_nothing(api: NetworkAPI, fixed_ips: Any, error: type[OvercastError]) -> None:
    network_id, _ = make_subnet(api, ALICE)
    with pytest.raises(error):
        api.ports.create(ALICE, {"network_id": network_id, "fixed_ips": fixed_ips})
    ports = api.ports.list(ALICE, ListQuery(filters={"network_id": [network_id]}))
    assert [port["device_owner"] for port in ports] == ["network:dhcp"]


def test_ip_outside_the_subnet_given_with_it(api: NetworkAPI) -> None:
    network_id, subnet_id = make_subnet(api, ALICE)
    with pytest.raises(InvalidInput, match="not a valid IP for the specified subnet"):
        api.ports.create(
            ALICE,
            {"network_id": network_id, "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.0.1.4"}]},
        )


def test_mac_addresses_are_unique_per_network(api: NetworkAPI) -> None:
    network_id, _ = make_subnet(api, ALICE)
    other_id, _ = make_subnet(api, ALICE, "10.0.1.0/28")
    api.ports.create(ALICE, {"network_id": network_id, "mac_address": "fa:16:3e:aa:bb:cc"})
    with pytest.raises(MacAddressInUse):
        api.ports.create(ALICE, {"network_id": network_id, "mac_address": "FA:16:3E:AA:BB:CC"})
    assert api.ports.create(ALICE, {"network_id": other_id, "mac_address": "fa:16:3e:aa:bb:cc"})
    with pytest.raises(InvalidInput):
        api.ports.create(ALICE, {"network_id": network_id, "mac_address": "01:00:5e:00:00:01"})


def test_in_use_deletes_are_409s(api: NetworkAPI) -> None:
    network_id, subnet_id = make_subnet(api, ALICE)
    port = api.ports.create(ALICE, {"network_id": network_id})
    with pytest.raises(NetworkInUse):
        api.networks.delete(ALICE, network_id)
    with pytest.raises(SubnetInUse):
        api.subnets.delete(ALICE, subnet_id)
    api.ports.delete(ALICE, port["id"])
    api.networks.delete(ALICE, network_id)  # the DHCP port goes with it
    with pytest.raises(NetworkNotFound):
        api.networks.get(ALICE, network_id)
    assert api.ports.list(ADMIN, ListQuery()) == []


def test_shared_networks_and_their_owners(api: NetworkAPI) -> None:
    network_id, _ = make_subnet(api, ADMIN, shared=True)
    private_id, _ = make_subnet(api, ALICE, "10.0.2.0/28")
    mine = api.ports.create(BOB, {"network_id": network_id})
    assert mine["project_id"] == "project-b"
    # Choosing an address or a MAC on someone else's network is its owner's right.
    with pytest.raises(PolicyNotAuthorized):
        api.ports.create(BOB, {"network_id": network_id, "fixed_ips": [{"ip_address": "10.0.0.9"}]})
    with pytest.raises(PolicyNotAuthorized):
        api.ports.create(BOB, {"network_id": network_id, "mac_address": "fa:16:3e:00:00:09"})
    with pytest.raises(NetworkNotFound):
        api.ports.create(BOB, {"network_id": private_id})
    with pytest.raises(PolicyNotAuthorized):
        api.ports.create(BOB, {"network_id": network_id, "binding:host_id": "compute-1"})
    # Un-sharing a network another project uses is refused.
    with pytest.raises(OvercastError, match="Multiple tenants"):
        api.networks.update(ADMIN, network_id, {"shared": False})


def test_binding_and_address_pairs(api: NetworkAPI) -> None:
    network_id, _ = make_subnet(api, ALICE)
    bound = api.ports.create(
        ADMIN, {"network_id": network_id, "binding:host_id": "compute-1", "project_id": "project-a"}
    )
    assert bound["binding:host_id"] == "compute-1" and bound["project_id"] == "project-a"
    pairs = [{"ip_address": "10.0.0.0/28"}, {"ip_address": "10.9.9.9", "mac_address": "fa:16:3e:00:00:01"}]
    port = api.ports.create(ALICE, {"network_id": network_id, "allowed_address_pairs": pairs})
    assert port["allowed_address_pairs"] == pairs
    with pytest.raises(AddressPairAndPortSecurityRequired):
        api.ports.update(ALICE, port["id"], {"port_security_enabled": False})
    with pytest.raises(AddressPairAndPortSecurityRequired):
        api.ports.create(
            ALICE, {"network_id": network_id, "port_security_enabled": False, "allowed_address_pairs": pairs}
        )
    for bad in ([{"ip_address": "10.0.0.1/24"}], [{"mac_address": "fa:16:3e:00:00:01"}], pairs + pairs[:1]):
        with pytest.raises(InvalidInput):
            api.ports.update(ALICE, port["id"], {"allowed_address_pairs": bad})


def test_updating_fixed_ips_keeps_releases_and_allocates(api: NetworkAPI) -> None:
    network_id, subnet_id = make_subnet(api, ALICE)
    port = api.ports.create(ALICE, {"network_id": network_id, "fixed_ips": [{"ip_address": "10.0.0.5"}]})
    changed = api.ports.update(
        ALICE, port["id"], {"fixed_ips": [{"ip_address": "10.0.0.5"}, {"subnet_id": subnet_id}]}
    )
    assert addresses(changed) == ["10.0.0.3", "10.0.0.5"] and changed["revision_number"] == 1
    moved = api.ports.update(ALICE, port["id"], {"fixed_ips": [{"ip_address": "10.0.0.7"}]})
    assert addresses(moved) == ["10.0.0.7"]
    assert addresses(api.ports.create(ALICE, {"network_id": network_id})) == ["10.0.0.3"]


def test_disabling_dhcp_frees_its_address(api: NetworkAPI) -> None:
    network_id, subnet_id = make_subnet(api, ALICE)
    api.subnets.update(ALICE, subnet_id, {"enable_dhcp": False})
    assert api.ports.list(ALICE, ListQuery(filters={"network_id": [network_id]})) == []
    assert addresses(api.ports.create(ALICE, {"network_id": network_id})) == ["10.0.0.2"]
    api.subnets.update(ALICE, subnet_id, {"enable_dhcp": True})
    (dhcp,) = api.ports.list(ALICE, ListQuery(filters={"device_owner": ["network:dhcp"]}))
    assert addresses(dhcp) == ["10.0.0.3"]


def create_concurrently(work: Callable[[], dict[str, Any]], count: int) -> list[dict[str, Any] | Exception]:
    """Run `work` on `count` threads released at once; each result or error, in no particular order."""
    start = threading.Barrier(count)
    results: list[dict[str, Any] | Exception] = []
    lock = threading.Lock()

    def run() -> None:
        start.wait()
        try:
            outcome: dict[str, Any] | Exception = work()
        except Exception as error:
            outcome = error
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def check_parallel_ports_get_distinct_addresses(api: NetworkAPI) -> None:
    network_id, _ = make_subnet(api, ALICE, "10.0.0.0/28")  # 12 addresses for ports
    results = create_concurrently(lambda: api.ports.create(ALICE, {"network_id": network_id}), 16)
    ports = [result for result in results if isinstance(result, dict)]
    failures = [result for result in results if not isinstance(result, dict)]
    assert len(ports) == 12, failures
    assert all(isinstance(failure, IpAddressGenerationFailure) for failure in failures), failures
    held = [address for port in ports for address in addresses(port)]
    assert len(set(held)) == 12
    # And the same address asked for by many: exactly one wins.
    api.ports.delete(ALICE, ports[0]["id"])
    wanted = addresses(ports[0])[0]
    results = create_concurrently(
        lambda: api.ports.create(ALICE, {"network_id": network_id, "fixed_ips": [{"ip_address": wanted}]}), 8
    )
    assert sum(isinstance(result, dict) for result in results) == 1
    assert all(isinstance(r, IpAddressAlreadyAllocated) for r in results if not isinstance(r, dict)), results


def test_parallel_creates_never_share_an_address(api: NetworkAPI) -> None:
    check_parallel_ports_get_distinct_addresses(api)


@pytest.mark.parametrize(
    "change",
    [
        lambda api, ids: api.networks.create(ALICE, {"admin_state_up": None}),
        lambda api, ids: api.networks.update(ALICE, ids[0], {"admin_state_up": None}),
        lambda api, ids: api.subnets.update(ALICE, ids[1], {"enable_dhcp": None}),
        lambda api, ids: api.ports.create(ALICE, {"network_id": ids[0], "port_security_enabled": None}),
        lambda api, ids: api.security_groups.create(ALICE, {"name": "x", "stateful": None}),
    ],
)
def test_null_is_no_boolean(api: NetworkAPI, change: Callable[[NetworkAPI, tuple[str, str]], Any]) -> None:
    ids = make_subnet(api, ALICE)
    with pytest.raises(InvalidInput, match="not a valid boolean"):
        change(api, ids)


def test_compute_hears_of_a_deleted_port_only_when_a_host_bound_it(api: NetworkAPI) -> None:
    told: list[tuple[str, str]] = []
    api.ports.compute.connect(lambda ctxt, server, port: told.append((server, port)))
    network_id, _ = make_subnet(api, ADMIN)
    server = str(uuid.uuid4())
    device = {"network_id": network_id, "device_id": server, "device_owner": "compute:nova"}
    unbound = api.ports.create(ADMIN, device)
    bound = api.ports.create(ADMIN, {**device, "binding:host_id": "compute-1"})
    api.ports.delete(ADMIN, unbound["id"])  # never plugged into the server: nothing to unplug
    api.ports.delete(ADMIN, bound["id"])
    assert told == [(server, bound["id"])]
