"""The scheduler sees operator changes and new compute hosts on its very next decision.

This cloud's scheduler refreshes its host cache only once an hour, so nothing here can pass by waiting
for the refresh: only the notices that os-services, os-aggregates and a starting compute host fan out
to the schedulers can tell it. No test calls anything on the scheduler directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.compute.manager import ComputeManager
from overcast.service import Service
from overcast.virt.fake import FakeDriver
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.compute_api import compute

COMPUTE = "nova-compute"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(
        tmp_path_factory.mktemp("freshness"), scheduler={"host_state_refresh_interval": 3600.0}
    )
    yield running
    running.stop()


def boot(conn: Connection, name: str, **extra: Any) -> Any:
    server = conn.compute.create_server(
        name=name, image_id=IMAGE_ID, flavor_id=TINY, networks="none", **extra
    )
    return conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30)


def delete(conn: Connection, servers: list[Any]) -> None:
    for server in servers:
        conn.compute.delete_server(server)
    for server in servers:
        conn.compute.wait_for_delete(server, interval=0.1, wait=30)


def test_disabling_and_enabling_a_host_counts_at_once(admin: Connection) -> None:
    servers = [boot(admin, "warm-up")]  # the scheduler's cache is loaded and in use
    body = {"host": "compute-1", "binary": COMPUTE}
    assert compute(admin, "PUT", "/os-services/disable", json=body).status_code == 200
    try:
        servers += [boot(admin, f"while-disabled-{index}") for index in range(3)]
    finally:
        assert compute(admin, "PUT", "/os-services/enable", json=body).status_code == 200
    assert {server.compute_host for server in servers[1:]} == {"compute-2"}
    # compute-1 now holds at most one server and compute-2 at least three: spreading picks compute-1.
    servers.append(boot(admin, "after-enable"))
    assert servers[-1].compute_host == "compute-1"
    delete(admin, servers)


def test_a_host_leaving_the_default_zone_counts_at_once(admin: Connection) -> None:
    servers = [boot(admin, "warm-up")]
    rack = admin.compute.create_aggregate(name="rack-1", availability_zone="az1")
    admin.compute.add_host_to_aggregate(rack, "compute-1")
    try:
        servers += [boot(admin, f"in-nova-{index}", availability_zone="nova") for index in range(3)]
        assert {server.compute_host for server in servers[1:]} == {"compute-2"}
    finally:
        admin.compute.remove_host_from_aggregate(rack, "compute-1")
        admin.compute.delete_aggregate(rack)
    delete(admin, servers)


def test_a_new_compute_host_is_a_choice_for_the_next_build(cloud: InProcessCloud, admin: Connection) -> None:
    servers = [boot(admin, "warm-up")]
    big = ComputeManager(
        cloud.cloud, "compute-big", driver=FakeDriver(vcpus=64, memory_mb=262144, local_gb=4000)
    )
    service = Service(cloud.cloud, big)
    service.start()
    cloud.services.append(service)  # stopped with the cloud
    servers.append(boot(admin, "on-the-new-host"))
    assert servers[-1].compute_host == "compute-big"
    delete(admin, servers)
