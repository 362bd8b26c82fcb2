"""The whole cloud in one process (API over real HTTP, conductor, scheduler, two fake compute hosts on
an in-process bus, SQLite) driven by openstacksdk, the client users actually run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from overcast.context import RequestContext
from overcast.scheduler.rpcapi import SchedulerAPI
from overcast.virt.driver import DriverError
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.waiting import WAIT_SECONDS


def boot(conn: Connection, name: str, **extra: Any) -> Any:
    extra.setdefault("networks", "none")  # required from microversion 2.37
    return conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, **extra)


def test_server_lifecycle_through_openstacksdk(demo: Connection) -> None:
    created = boot(demo, "web-1", metadata={"role": "web"})
    assert created.admin_password
    server = demo.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30)
    assert server.name == "web-1"
    assert server.metadata == {"role": "web"}
    assert server.power_state == 1 and server.vm_state == "active" and server.task_state is None
    assert server.launched_at
    assert server.flavor["original_name"] == "m1.tiny" and server.image["id"] == IMAGE_ID

    listed = {item.id: item for item in demo.compute.servers()}
    assert listed[server.id].status == "ACTIVE"
    assert demo.compute.get_server(server.id).name == "web-1"
    demo.compute.update_server(server, name="web-renamed")
    assert demo.compute.get_server(server.id).name == "web-renamed"

    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=0.1, wait=30)
    assert server.id not in {item.id for item in demo.compute.servers()}


def test_failing_spawn_everywhere_ends_in_error_with_a_fault(cloud: InProcessCloud, demo: Connection) -> None:
    for driver in cloud.drivers.values():
        driver.fail_next("spawn", DriverError("the hypervisor is on fire"))
    created = boot(demo, "doomed")
    server = demo.compute.wait_for_server(created, status="ERROR", failures=[], interval=0.1, wait=30)
    assert server.status == "ERROR" and server.task_state is None
    assert server.fault["code"] == 500
    assert "the hypervisor is on fire" in server.fault["message"]
    assert server.fault["created"]
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=0.1, wait=30)


def test_failed_spawn_is_rescheduled_to_the_alternate(cloud: InProcessCloud, admin: Connection) -> None:
    spec = {"vcpus": 1, "memory_mb": 512, "disk_gb": 1}
    first, *_ = SchedulerAPI(cloud.cloud.transport).select_destinations(RequestContext.admin(), spec)
    cloud.drivers[first["host"]].fail_next("spawn", DriverError("transient spawn failure"))
    created = boot(admin, "rescheduled")
    server = admin.compute.wait_for_server(
        created, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30
    )
    assert server.compute_host != first["host"]
    admin.compute.delete_server(server)
    admin.compute.wait_for_delete(server, interval=0.1, wait=30)


def test_another_projects_server_does_not_exist(admin: Connection, demo: Connection) -> None:
    created = boot(admin, "admins-own")
    with pytest.raises(sdk_exceptions.NotFoundException):
        demo.compute.get_server(created.id)
    assert created.id not in {item.id for item in demo.compute.servers()}
    with pytest.raises(sdk_exceptions.NotFoundException):
        demo.compute.delete_server(created.id, ignore_missing=False)
    admin.compute.delete_server(created)
    admin.compute.wait_for_delete(created, interval=0.1, wait=30)


def test_flavors_and_keypairs(admin: Connection, demo: Connection) -> None:
    assert "m1.tiny" in {flavor.name for flavor in demo.compute.flavors()}
    flavor = admin.compute.create_flavor(name="bench.small", ram=256, vcpus=1, disk=1)
    assert admin.compute.get_flavor(flavor.id).ram == 256
    with pytest.raises(sdk_exceptions.ForbiddenException):
        demo.compute.create_flavor(name="nope", ram=256, vcpus=1, disk=1)
    admin.compute.delete_flavor(flavor)

    generated = demo.compute.create_keypair(name="generated")
    assert generated.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert generated.public_key.startswith("ssh-rsa ")
    imported = demo.compute.create_keypair(name="imported", public_key=generated.public_key)
    assert imported.fingerprint == generated.fingerprint and imported.private_key is None
    assert {key.name for key in demo.compute.keypairs()} == {"generated", "imported"}
    assert demo.compute.get_keypair("imported").public_key == generated.public_key
    server = boot(demo, "with-key", key_name="imported")
    server = demo.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30)
    assert server.key_name == "imported"
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=0.1, wait=30)
    for name in ("generated", "imported"):
        demo.compute.delete_keypair(name)
    assert list(demo.compute.keypairs()) == []


def test_microversion_headers_over_http(cloud: InProcessCloud) -> None:
    root = httpx.get(f"{cloud.base_url}/compute/v2.1", timeout=WAIT_SECONDS)
    assert root.status_code == 200
    assert root.headers["OpenStack-API-Version"] == "compute 2.1"
    assert root.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    assert "OpenStack-API-Version" in root.headers["Vary"]
    too_new = httpx.get(
        f"{cloud.base_url}/compute/v2.1",
        headers={"OpenStack-API-Version": "compute 2.101"},
        timeout=WAIT_SECONDS,
    )
    assert too_new.status_code == 406


def test_deleted_servers_give_back_quota_and_host_resources(cloud: InProcessCloud, demo: Connection) -> None:
    server = demo.compute.wait_for_server(boot(demo, "counted"), status="ACTIVE", interval=0.1, wait=30)
    project_id = server.project_id
    assert _usage(cloud, project_id)["instances"] == 1
    assert sum(row["memory_mb_used"] for row in _nodes(cloud)) == 512
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=0.1, wait=30)
    assert _usage(cloud, project_id) == {"instances": 0, "cores": 0, "ram": 0}
    assert [(row["vcpus_used"], row["memory_mb_used"], row["running_vms"]) for row in _nodes(cloud)] == [
        (0, 0, 0),
        (0, 0, 0),
    ]


def _usage(cloud: InProcessCloud, project_id: str) -> dict[str, int]:
    from overcast.quota import QuotaEngine

    with cloud.cloud.db.reader() as session:
        usage = QuotaEngine().get_usage(session, project_id)
    return {name: usage[name] for name in ("instances", "cores", "ram")}


def _nodes(cloud: InProcessCloud) -> list[dict[str, int]]:
    from sqlalchemy import select

    from overcast.db.models.compute import ComputeNode

    with cloud.cloud.db.reader() as session:
        nodes = session.scalars(select(ComputeNode).order_by(ComputeNode.host)).all()
        return [
            {"vcpus_used": n.vcpus_used, "memory_mb_used": n.memory_mb_used, "running_vms": n.running_vms}
            for n in nodes
        ]
