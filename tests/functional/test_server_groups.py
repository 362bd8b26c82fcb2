"""os-server-groups and the `group` scheduler hint through openstacksdk against the whole cloud in-process."""

from __future__ import annotations

import time

import httpx
import pytest
from openstack.compute.v2.server import Server
from openstack.connection import Connection

from overcast.virt.driver import DriverError
from overcast.virt.fake import FakeDriver
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.waiting import WAIT_SECONDS


def test_server_group_crud_and_soft_policies_refused_at_2_1(cloud: InProcessCloud, demo: Connection) -> None:
    group = demo.compute.create_server_group(name="web", policies=["affinity"])
    assert (group.name, group.policies, group.member_ids) == ("web", ["affinity"], [])
    assert group.id in {g.id for g in demo.compute.server_groups()}
    assert demo.compute.get_server_group(group.id).name == "web"
    token = demo.session.get_token()
    url = f"{cloud.base_url}/compute/v2.1/os-server-groups"
    headers = {"X-Auth-Token": token}
    soft = httpx.post(url, json={"server_group": {"name": "s", "policies": ["soft-anti-affinity"]}},
                      headers=headers, timeout=WAIT_SECONDS)  # fmt: skip
    assert soft.status_code == 400
    body = httpx.get(f"{url}/{group.id}", headers=headers, timeout=WAIT_SECONDS).json()["server_group"]
    assert set(body) == {"id", "name", "policies", "members", "metadata"}
    demo.compute.delete_server_group(group)
    assert httpx.get(f"{url}/{group.id}", headers=headers, timeout=WAIT_SECONDS).status_code == 404


def test_anti_affinity_group_members_land_on_different_hosts(demo: Connection) -> None:
    group = demo.compute.create_server_group(name="spread", policies=["anti-affinity"])
    servers = [
        demo.compute.create_server(
            name=f"s{i}", image_id=IMAGE_ID, flavor_id=TINY, scheduler_hints={"group": group.id},
            networks="none",
        )
        for i in range(3)
    ]
    # Three builds race for two hosts: whichever is placed last (not necessarily s2) finds none left.
    done = [_built(demo, server) for server in servers]
    active = [server for server in done if server.status == "ACTIVE"]
    refused = [server for server in done if server.status == "ERROR"]
    assert (len(active), len(refused)) == (2, 1)
    assert len({server.host_id for server in active}) == 2
    assert "ServerGroupAntiAffinityFilter: 2 of 2 hosts rejected" in refused[0].fault["message"]
    assert set(demo.compute.get_server_group(group.id).member_ids) == {s.id for s in servers}
    for server in servers:
        demo.compute.delete_server(server)
    for server in servers:
        demo.compute.wait_for_delete(server, interval=0.1, wait=30)
    assert demo.compute.get_server_group(group.id).member_ids == []


def test_a_member_rescheduled_to_its_alternate_never_joins_another_member(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # The bigger host takes the first member; the second, kept off it by the filter, gets the other one.
    big, small = FakeDriver(vcpus=64, memory_mb=262144, local_gb=4000), FakeDriver()
    cloud = InProcessCloud(tmp_path_factory.mktemp("reschedule"), drivers={"big": big, "small": small})
    try:
        demo = cloud.connect("demo")
        group = demo.compute.create_server_group(name="spread", policies=["anti-affinity"])
        big.fail_next("spawn", DriverError("this build fails on the first host"))
        demo.compute.create_server(
            name="member", image_id=IMAGE_ID, flavor_id=TINY, scheduler_hints={"group": group.id},
            networks="none", min_count=2, max_count=2,
        )
        done = [_built(demo, server) for server in demo.compute.servers(name="^member")]
        # The first member's alternate is the host the second holds: one of them must give way.
        assert sorted(server.status for server in done) == ["ACTIVE", "ERROR"]
        refused = next(server for server in done if server.status == "ERROR")
        assert "Anti-affinity instance group policy was violated" in refused.fault["message"]
        assert [len(driver.list_instance_uuids()) for driver in (big, small)] == [0, 1]
    finally:
        cloud.stop()


def _built(conn: Connection, server: Server, wait: float = 30.0) -> Server:
    """The server once its build is over, ACTIVE or ERROR."""
    deadline = time.monotonic() + wait
    while (server := conn.compute.get_server(server.id)).status == "BUILD":
        assert time.monotonic() < deadline, f"server {server.name} still building after {wait} s"
        time.sleep(0.1)
    return server
