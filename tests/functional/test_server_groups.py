"""os-server-groups and the `group` scheduler hint through openstacksdk against the whole cloud in-process."""

from __future__ import annotations

import httpx
from openstack.connection import Connection

from tests.functional.cloud import IMAGE_ID, TINY, InProcessCloud


def test_server_group_crud_and_soft_policies_refused_at_2_1(cloud: InProcessCloud, demo: Connection) -> None:
    group = demo.compute.create_server_group(name="web", policies=["affinity"])
    assert (group.name, group.policies, group.member_ids) == ("web", ["affinity"], [])
    assert group.id in {g.id for g in demo.compute.server_groups()}
    assert demo.compute.get_server_group(group.id).name == "web"
    token = demo.session.get_token()
    url = f"{cloud.base_url}/compute/v2.1/os-server-groups"
    headers = {"X-Auth-Token": token}
    soft = httpx.post(url, json={"server_group": {"name": "s", "policies": ["soft-anti-affinity"]}},
                      headers=headers)  # fmt: skip
    assert soft.status_code == 400
    body = httpx.get(f"{url}/{group.id}", headers=headers).json()["server_group"]
    assert set(body) == {"id", "name", "policies", "members", "metadata"}
    demo.compute.delete_server_group(group)
    assert httpx.get(f"{url}/{group.id}", headers=headers).status_code == 404


def test_anti_affinity_group_members_land_on_different_hosts(demo: Connection) -> None:
    group = demo.compute.create_server_group(name="spread", policies=["anti-affinity"])
    servers = [
        demo.compute.create_server(
            name=f"s{i}", image_id=IMAGE_ID, flavor_id=TINY, scheduler_hints={"group": group.id},
            networks="none",
        )
        for i in range(3)
    ]
    done = [
        demo.compute.wait_for_server(
            s, status="ACTIVE" if i < 2 else "ERROR", failures=[], interval=0.1, wait=30
        )
        for i, s in enumerate(servers)
    ]
    assert len({demo.compute.get_server(s.id).host_id for s in done[:2]}) == 2
    assert "ServerGroupAntiAffinityFilter: 2 of 2 hosts rejected" in done[2].fault["message"]
    assert set(demo.compute.get_server_group(group.id).member_ids) == {s.id for s in servers}
    for server in servers:
        demo.compute.delete_server(server)
    for server in servers:
        demo.compute.wait_for_delete(server, interval=0.1, wait=30)
    assert demo.compute.get_server_group(group.id).member_ids == []
