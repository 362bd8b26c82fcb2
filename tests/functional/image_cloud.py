"""A whole cloud in one process with the Image API in its catalog, for the image functional tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import openstack
import uvicorn
from openstack.connection import Connection

from overcast.api.app import create_app
from overcast.api.openstack import compute, identity, image
from overcast.cloud import Cloud
from overcast.compute.manager import ComputeManager
from overcast.conductor.manager import ConductorManager
from overcast.config import load_settings
from overcast.identity.bootstrap import BootstrapResult, bootstrap
from overcast.identity.catalog import DEFAULT_SERVICES
from overcast.identity.passwords import PasswordHasher
from overcast.image.api import ImageAPI
from overcast.image.settings import ImageSettings
from overcast.scheduler.manager import SchedulerManager
from overcast.service import Service
from overcast.virt.fake import FakeDriver

OPENSTACK = Path(sys.executable).with_name("openstack")
SERVED = ("identity", "compute", "image")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ImageCloud:
    def __init__(self, data_dir: Path, image_settings: ImageSettings | None = None) -> None:
        port = free_port()
        self.data_dir = data_dir
        settings = load_settings(
            data_dir=data_dir, listen=f"127.0.0.1:{port}", transport_url=f"inproc://image-{uuid.uuid4().hex}",
            report_interval=1.0, rpc_timeout=10.0,
        )  # fmt: skip
        self.settings = settings
        self.cloud = Cloud.from_settings(settings)
        served = tuple(entry for entry in DEFAULT_SERVICES if entry.type in SERVED)
        hasher = PasswordHasher(time_cost=1, memory_cost_kib=1024)
        self.credentials: BootstrapResult = bootstrap(settings, self.cloud.db, served, hasher=hasher)
        self.image_api = ImageAPI(self.cloud, image_settings or ImageSettings(size_cap=64 * 1024 * 1024))
        self.driver = FakeDriver()
        managers = [
            ConductorManager(self.cloud, "conductor-1"),
            SchedulerManager(self.cloud, "scheduler-1"),
            ComputeManager(self.cloud, "compute-1", driver=self.driver),
        ]
        self.services = [Service(self.cloud, manager) for manager in managers]
        for service in self.services:
            service.start()
        app = create_app(settings, db=self.cloud.db, transport=self.cloud.transport)
        app.state.cloud = self.cloud
        identity.install(app, settings, self.cloud.db)
        compute.install(app, self.cloud)
        image.install(app, self.cloud, self.image_api)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        self.base_url = settings.base_url

    def password(self, user: str) -> str:
        return self.credentials.admin_password if user == "admin" else self.credentials.demo_password

    def connect(self, user: str) -> Connection:
        return openstack.connect(
            auth_url=f"{self.base_url}/identity", username=user, password=self.password(user),
            project_name=user,
            user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
            identity_api_version="3",
        )  # fmt: skip

    def openstack(self, *args: str, user: str = "overcast-demo", check: bool = True) -> Any:
        env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
        env.update(
            OS_CLIENT_CONFIG_FILE=str(self.credentials.clouds_yaml), OS_CLOUD=user, HOME=str(self.data_dir)
        )
        result = subprocess.run(
            [str(OPENSTACK), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
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
