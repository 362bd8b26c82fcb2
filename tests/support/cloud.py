"""The whole cloud in one process, as the functional tests meet it.

The API is the real app (`build_api`: identity, compute, image) served by uvicorn on a free loopback
port; conductor, scheduler and compute hosts (fake drivers unless a test passes its own, e.g. QEMU) run
as real Services on a private in-process bus; state lives in SQLite under the test's directory. Clients
are the real ones: openstacksdk and the `openstack` CLI (each command forked from one warmed
process: tests/support/openstack_cli.py).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import openstack
import uvicorn
from openstack.connection import Connection

from overcast import servicegroup
from overcast.api.app import IDLE_CONNECTION_SECONDS
from overcast.api.assembly import build_api
from overcast.cloud import Cloud
from overcast.compute.manager import ComputeManager
from overcast.conductor.manager import ConductorManager
from overcast.config import load_settings
from overcast.identity.bootstrap import BootstrapResult, bootstrap
from overcast.identity.passwords import PasswordHasher
from overcast.image.api import ImageAPI
from overcast.image.settings import ImageSettings
from overcast.scheduler.manager import SchedulerManager
from overcast.scheduler.rpcapi import notify_host_states_changed
from overcast.service import Service
from overcast.virt.driver import ComputeDriver
from overcast.virt.fake import FakeDriver
from tests.support.clock import FakeClock
from tests.support.openstack_cli import OPENSTACK as OPENSTACK
from tests.support.openstack_cli import run_openstack
from tests.support.ports import free_port
from tests.support.waiting import WAIT_SECONDS, wait_until

# The image every cloud starts with (migration 0003, kept by the image registry) and m1.tiny.
IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"
TINY = "1"
COMPUTE_HOSTS = ("compute-1", "compute-2")


class InProcessCloud:
    def __init__(
        self,
        data_dir: Path,
        *,
        compute_hosts: Sequence[str] = COMPUTE_HOSTS,
        image_settings: ImageSettings | None = None,
        drivers: Mapping[str, ComputeDriver] | None = None,
        clock: Callable[[], datetime] | None = None,
        **settings: Any,
    ) -> None:
        port = free_port()
        self.data_dir = data_dir
        self.settings = load_settings(**{
            "data_dir": data_dir, "listen": f"127.0.0.1:{port}",
            "transport_url": f"inproc://test-{uuid.uuid4().hex}", "report_interval": 1.0,
            "rpc_timeout": WAIT_SECONDS, "compute_driver": "fake", **settings,
        })  # fmt: skip
        self.cloud = Cloud.from_settings(self.settings)
        if clock is not None:  # before the services are built: some keep the clock they are given
            self.cloud.clock = clock
        # A cheap hash keeps logins fast; the real cost is tested in the identity unit tests.
        hasher = PasswordHasher(time_cost=1, memory_cost_kib=1024)
        self.credentials: BootstrapResult = bootstrap(self.settings, self.cloud.db, hasher=hasher)
        self.image_api = ImageAPI(self.cloud, image_settings or ImageSettings(size_cap=64 * 1024 * 1024))
        self.drivers: dict[str, Any] = dict(drivers or {host: FakeDriver() for host in compute_hosts})
        self.driver = next(iter(self.drivers.values()))
        managers = [
            ConductorManager(self.cloud, "conductor-1"),
            SchedulerManager(self.cloud, "scheduler-1"),
            *(ComputeManager(self.cloud, host, driver=driver) for host, driver in self.drivers.items()),
        ]
        self.services = [Service(self.cloud, manager) for manager in managers]
        for service in self.services:
            service.start()
        app = build_api(self.cloud, image_api=self.image_api)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_keep_alive=IDLE_CONNECTION_SECONDS,
            proxy_headers=False,  # as the API server runs (overcast.cli.runner)
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        self.base_url = self.settings.base_url

    def password(self, user: str) -> str:
        password = self.credentials.admin_password if user == "admin" else self.credentials.demo_password
        assert password is not None
        return password

    def connect(self, user: str) -> Connection:
        """openstacksdk logged in as the bootstrap `admin` or `demo` user in its own project."""
        return openstack.connect(
            auth_url=f"{self.base_url}/identity",
            username=user,
            password=self.password(user),
            project_name=user,
            user_domain_name="Default",
            project_domain_name="Default",
            region_name="RegionOne",
            identity_api_version="3",
        )

    def openstack(self, *args: str, user: str = "overcast-demo", check: bool = True) -> Any:
        """Run the real `openstack` CLI against this cloud; JSON output (-f json) comes back parsed."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
        env.update(
            OS_CLIENT_CONFIG_FILE=str(self.credentials.clouds_yaml), OS_CLOUD=user, HOME=str(self.data_dir)
        )
        result = run_openstack(args, env, timeout=120)
        if not check:
            return result
        assert result.returncode == 0, f"openstack {' '.join(args)} failed:\n{result.stderr}"
        if "-f" in args and "json" in args and result.stdout.strip():
            return json.loads(result.stdout)
        return result.stdout

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        for service in reversed(self.services):
            service.stop()
        self.cloud.close()


def project_token(cloud: InProcessCloud, user: str) -> str:
    """A token of the bootstrap `admin` or `demo` user scoped to its own project."""
    scope = {"project": {"name": user, "domain": {"name": "Default"}}}
    password = {"user": {"name": user, "domain": {"name": "Default"}, "password": cloud.password(user)}}
    body = {"auth": {"identity": {"methods": ["password"], "password": password}, "scope": scope}}
    response = httpx.post(f"{cloud.base_url}/identity/v3/auth/tokens", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def move_clock(cloud: InProcessCloud, clock: FakeClock, now: datetime) -> None:
    """Move the cloud's clock to `now`, then wait for every service's heartbeat to catch up (or they would
    look down) and have the schedulers re-read which hosts are up rather than at their next refresh."""
    clock.now = now

    def all_up() -> bool:
        records = servicegroup.list_services(cloud.cloud.db)
        return all(servicegroup.service_is_up(record, clock.now, 2.0) for record in records)

    wait_until(all_up, 60, what="heartbeats at the new time")
    notify_host_states_changed(cloud.cloud.transport)
