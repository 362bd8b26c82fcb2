"""Get-me-a-network through the network service: one topology per project, made once, even when two
first requests race, and gone with its delete."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from overcast.compute.api.requested_networks import allocate_auto_network, resolve_networks
from overcast.db import Database
from overcast.db.models.network import AutoAllocatedTopology, Network, Port, Router
from overcast.errors import BadRequest
from overcast.network.api.auto_topology import (
    NETWORK_NAME,
    ROUTER_NAME,
    AutoAllocationFailure,
)
from overcast.network.api.errors import DefaultExternalNetworkExists, InvalidInput, PolicyNotAuthorized
from overcast.network.api.queries import ListQuery
from overcast.network.api.routers import INTERFACE_OWNER
from overcast.network.api.service import NetworkAPI
from tests.unit.network.test_ports import ADMIN, ALICE, BOB, network_api


@pytest.fixture
def api(db: Database, tmp_path: Path) -> NetworkAPI:
    return network_api(db, tmp_path)


def make_external(api: NetworkAPI, *, default: bool) -> str:
    network = api.networks.create(
        ADMIN,
        {
            "name": "public",
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
            "is_default": default,
        },
    )
    api.subnets.create(
        ADMIN, {"network_id": network["id"], "ip_version": 4, "cidr": "203.0.113.0/24", "enable_dhcp": False}
    )
    return str(network["id"])


@pytest.fixture
def public(api: NetworkAPI) -> str:
    return make_external(api, default=True)


def test_first_get_makes_network_subnet_and_router_on_the_default_external_network(
    api: NetworkAPI, public: str
) -> None:
    topology = api.auto_topology.get(ALICE, "project-a")

    network = api.networks.get(ALICE, topology["id"])
    assert (network["name"], network["project_id"]) == (NETWORK_NAME, "project-a")
    (subnet,) = [api.subnets.get(ALICE, subnet_id) for subnet_id in network["subnets"]]
    assert subnet["cidr"] == api.settings.auto_allocated_cidr
    (router,) = [r for r in api.routers.list(ALICE, ListQuery()) if r["name"] == ROUTER_NAME]
    assert router["external_gateway_info"]["network_id"] == public
    with api.db.reader() as session:
        interfaces = session.scalars(
            select(Port.network_id).where(
                Port.device_id == router["id"], Port.device_owner == INTERFACE_OWNER
            )
        )
        assert list(interfaces) == [topology["id"]]


def test_later_gets_return_the_same_topology_and_make_nothing(api: NetworkAPI, public: str) -> None:
    first = api.auto_topology.get(ALICE, "project-a")
    second = api.auto_topology.get(ALICE, "project-a")

    assert first == second == {"id": first["id"], "tenant_id": "project-a", "project_id": "project-a"}
    with api.db.reader() as session:
        assert len(list(session.scalars(select(Network.id).where(Network.project_id == "project-a")))) == 1
        assert len(list(session.scalars(select(Router.id).where(Router.project_id == "project-a")))) == 1


def test_concurrent_first_gets_make_one_topology(api: NetworkAPI, public: str) -> None:
    results: list[str] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def first_server() -> None:
        start.wait()
        try:
            results.append(api.auto_topology.allocate(ALICE, "project-a"))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=first_server) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(set(results)) == 1 and len(results) == 4
    with api.db.reader() as session:
        assert (
            list(session.scalars(select(Network.id).where(Network.project_id == "project-a"))) == results[:1]
        )
        assert len(list(session.scalars(select(Router.id).where(Router.project_id == "project-a")))) == 1


def test_each_project_gets_its_own(api: NetworkAPI, public: str) -> None:
    assert api.auto_topology.get(ALICE, "project-a")["id"] != api.auto_topology.get(BOB, "project-b")["id"]


def test_dry_run_passes_with_a_default_external_network_and_makes_nothing(
    api: NetworkAPI, public: str
) -> None:
    assert api.auto_topology.get(ALICE, "project-a", ["dry-run"])["id"] == "dry-run=pass"
    assert api.auto_topology.exists("project-a") is None


def test_without_a_default_external_network_it_is_a_409_and_leaves_nothing(api: NetworkAPI) -> None:
    make_external(api, default=False)

    for fields in (None, ["dry-run"]):
        with pytest.raises(AutoAllocationFailure, match="No default router:external network"):
            api.auto_topology.get(ALICE, "project-a", fields)
    with api.db.reader() as session:
        assert session.get(AutoAllocatedTopology, "project-a") is None


def test_a_failed_build_removes_what_it_made_and_its_claim(api: NetworkAPI, public: str) -> None:
    api.quota_api.update(ADMIN, "project-a", {"router": 0})

    with pytest.raises(Exception, match=r"[Qq]uota"):
        api.auto_topology.get(ALICE, "project-a")

    with api.db.reader() as session:
        assert list(session.scalars(select(Network.id).where(Network.project_id == "project-a"))) == []
        assert session.get(AutoAllocatedTopology, "project-a") is None


def test_delete_removes_router_subnet_and_network_and_the_next_get_makes_a_new_one(
    api: NetworkAPI, public: str
) -> None:
    first = api.auto_topology.get(ALICE, "project-a")["id"]

    api.auto_topology.delete(ALICE, "project-a")

    with api.db.reader() as session:
        assert list(session.scalars(select(Network.id).where(Network.project_id == "project-a"))) == []
        assert list(session.scalars(select(Router.id).where(Router.project_id == "project-a"))) == []
    assert api.auto_topology.get(ALICE, "project-a")["id"] != first
    api.auto_topology.delete(BOB, "project-b")  # none: nothing to do


def test_another_projects_topology_is_refused_to_members(api: NetworkAPI, public: str) -> None:
    with pytest.raises(PolicyNotAuthorized):
        api.auto_topology.get(BOB, "project-a")
    with pytest.raises(PolicyNotAuthorized):
        api.auto_topology.delete(BOB, "project-a")
    assert api.auto_topology.get(ADMIN, "project-a")["project_id"] == "project-a"


def test_an_unknown_field_is_a_400(api: NetworkAPI, public: str) -> None:
    with pytest.raises(Exception, match="Unrecognized field"):
        api.auto_topology.get(ALICE, "project-a", ["name"])


def test_only_one_external_network_is_the_default_and_only_admins_choose_it(
    api: NetworkAPI, public: str
) -> None:
    with pytest.raises(DefaultExternalNetworkExists, match=f"since {public} is already the default"):
        api.networks.create(
            ADMIN, {"router:external": True, "is_default": True, "provider:network_type": "vxlan"}
        )
    with pytest.raises(InvalidInput, match="router:external"):
        api.networks.create(ADMIN, {"is_default": True})
    with pytest.raises(PolicyNotAuthorized):
        api.networks.create(ALICE, {"is_default": False})
    assert api.networks.update(ADMIN, public, {"is_default": False})["is_default"] is False
    with pytest.raises(AutoAllocationFailure):
        api.auto_topology.get(ALICE, "project-a", ["dry-run"])


def test_compute_auto_allocates_only_for_auto_without_a_usable_network(api: NetworkAPI, public: str) -> None:
    allocate_auto_network(api, ALICE, None)
    allocate_auto_network(api, ALICE, "none")
    assert api.auto_topology.exists("project-a") is None

    allocate_auto_network(api, ALICE, "auto")

    network_id = api.auto_topology.exists("project-a")
    with api.db.reader() as session:
        assert resolve_networks(session, ALICE, "auto", 1) == [{"network_id": network_id}]
    own = api.networks.create(BOB, {"name": "own"})
    api.subnets.create(BOB, {"network_id": own["id"], "ip_version": 4, "cidr": "10.9.0.0/24"})
    allocate_auto_network(api, BOB, "auto")
    assert api.auto_topology.exists("project-b") is None


def test_compute_auto_keeps_user_mode_without_a_default_external_network(api: NetworkAPI) -> None:
    make_external(api, default=False)

    allocate_auto_network(api, ALICE, "auto")

    assert api.auto_topology.exists("project-a") is None
    with api.db.reader() as session:
        assert resolve_networks(session, ALICE, "auto", 1) == []


def test_compute_auto_that_cannot_be_made_is_novas_400(api: NetworkAPI, public: str) -> None:
    api.quota_api.update(ADMIN, "project-a", {"router": 0})

    with pytest.raises(BadRequest, match="Unable to automatically allocate a network for project project-a"):
        allocate_auto_network(api, ALICE, "auto")
