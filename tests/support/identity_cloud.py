"""An API process serving identity alone (bootstrapped, uvicorn on a free loopback port), and the real
`openstack` CLI pointed at it."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import APIRouter

from overcast.api.app import IDLE_CONNECTION_SECONDS, create_app
from overcast.api.openstack.identity import install
from overcast.config import Settings, load_settings
from overcast.db import Database
from overcast.identity.bootstrap import BootstrapResult, bootstrap
from overcast.identity.passwords import PasswordHasher
from overcast.identity.service import IdentityService
from overcast.identity.tokens import Clock, utc_now
from tests.support.cloud import OPENSTACK as OPENSTACK
from tests.support.openstack_cli import run_openstack
from tests.support.ports import free_port


class IdentityCloud:
    """An API process with the identity service, bootstrapped, served by uvicorn on 127.0.0.1."""

    def __init__(
        self, data_dir: Path, clock: Clock = utc_now, routers: Sequence[tuple[str, APIRouter]] = ()
    ) -> None:
        self.port = free_port()
        self.settings: Settings = load_settings(data_dir=data_dir, listen=f"127.0.0.1:{self.port}")
        self.db = Database(self.settings.sql_url)
        self.db.upgrade()
        # Cheap argon2 parameters: the cost is not what these tests are about.
        hasher = PasswordHasher(time_cost=1, memory_cost_kib=1024)
        self.bootstrap: BootstrapResult = bootstrap(self.settings, self.db, hasher=hasher)
        self.identity = IdentityService(self.settings, self.db, clock=clock, hasher=hasher)
        app = create_app(self.settings, self.db, routers=routers)
        install(app, self.identity)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_keep_alive=IDLE_CONNECTION_SECONDS,
            proxy_headers=False,  # as the API server runs (overcast.cli.runner)
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.db.dispose()


def openstack(cloud: IdentityCloud, *args: str, name: str = "overcast-admin", formatted: bool = True) -> Any:
    env = {
        **os.environ,
        "OS_CLIENT_CONFIG_FILE": str(cloud.bootstrap.clouds_yaml),
        "OS_CLOUD": name,
        "HOME": str(cloud.settings.data_dir),
    }
    for key in list(env):
        if key.startswith("OS_") and key not in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD"):
            del env[key]
    result = run_openstack([*args, *(["-f", "json"] if formatted else [])], env, timeout=120)
    assert result.returncode == 0, f"openstack {' '.join(args)} failed:\n{result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else None
