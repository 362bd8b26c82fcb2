"""The whole cloud in one process (API over real HTTP, conductor, scheduler, two fake compute hosts on
an in-process bus, SQLite) driven by openstacksdk, the client users actually run."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openstack
import pytest
import uvicorn
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from overcast.api.assembly import build_api
from overcast.cloud import Cloud
from overcast.compute.manager import ComputeManager
from overcast.conductor.manager import ConductorManager
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.identity.bootstrap import BootstrapResult, bootstrap
from overcast.identity.catalog import DEFAULT_SERVICES
from overcast.identity.passwords import PasswordHasher
from overcast.scheduler.manager import SchedulerManager
from overcast.scheduler.rpcapi import SchedulerAPI
from overcast.service import Service
from overcast.virt.driver import DriverError
from overcast.virt.fake import FakeDriver

# The seeded placeholder image (migration 0003) and m1.tiny.
IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"
TINY = "1"
COMPUTE_HOSTS = ("compute-1", "compute-2")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class InProcessCloud:
    def __init__(self, data_dir: Path) -> None:
        port = free_port()
        settings = load_settings(
            data_dir=data_dir, listen=f"127.0.0.1:{port}", transport_url=f"inproc://compute-{uuid.uuid4().hex}",
            report_interval=1.0, rpc_timeout=10.0,
        )  # fmt: skip
        self.cloud = Cloud.from_settings(settings)
        served = tuple(entry for entry in DEFAULT_SERVICES if entry.type in ("identity", "compute"))
        hasher = PasswordHasher(time_cost=1, memory_cost_kib=1024)
        self.credentials: BootstrapResult = bootstrap(settings, self.cloud.db, served, hasher=hasher)
        self.drivers = {host: FakeDriver() for host in COMPUTE_HOSTS}
        managers = [
            ConductorManager(self.cloud, "conductor-1"),
            SchedulerManager(self.cloud, "scheduler-1"),
            *(ComputeManager(self.cloud, host, driver=driver) for host, driver in self.drivers.items()),
        ]
        self.services = [Service(self.cloud, manager) for manager in managers]
        for service in self.services:
            service.start()
        config = uvicorn.Config(build_api(self.cloud), host="127.0.0.1", port=port, log_level="warning",
                                lifespan="off")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        self.base_url = settings.base_url

    def connect(self, user: str) -> Connection:
        password = self.credentials.admin_password if user == "admin" else self.credentials.demo_password
        return openstack.connect(
            auth_url=f"{self.base_url}/identity", username=user, password=password, project_name=user,
            user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
            identity_api_version="3",
        )  # fmt: skip

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        for service in reversed(self.services):
            service.stop()
        self.cloud.close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("compute-cloud"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def demo(cloud: InProcessCloud) -> Connection:
    return cloud.connect("demo")


@pytest.fixture(scope="module")
def admin(cloud: InProcessCloud) -> Connection:
    return cloud.connect("admin")


def boot(conn: Connection, name: str, **extra: Any) -> Any:
    return conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, **extra)


def test_server_lifecycle_through_openstacksdk(demo: Connection) -> None:
    created = boot(demo, "web-1", metadata={"role": "web"})
    assert created.admin_password
    server = demo.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30)
    assert server.name == "web-1"
    assert server.metadata == {"role": "web"}
    assert server.power_state == 1 and server.vm_state == "active" and server.task_state is None
    assert server.launched_at
    assert server.flavor["id"] == TINY and server.image["id"] == IMAGE_ID

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
    root = httpx.get(f"{cloud.base_url}/compute/v2.1")
    assert root.status_code == 200
    assert root.headers["OpenStack-API-Version"] == "compute 2.1"
    assert root.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    assert "OpenStack-API-Version" in root.headers["Vary"]
    too_new = httpx.get(f"{cloud.base_url}/compute/v2.1", headers={"OpenStack-API-Version": "compute 2.99"})
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
