"""More API apps beside a test's in-process cloud: the same database, their own memory, real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI

from overcast.api.app import IDLE_CONNECTION_SECONDS, create_app
from overcast.api.openstack.identity import install
from overcast.identity.service import IdentityService
from tests.support.cloud import InProcessCloud
from tests.support.ports import free_port


@contextmanager
def roomy_login_limits() -> Iterator[None]:
    """Identity services built inside this block allow thousands of logins per address and name (for
    modules whose subject is not the rate limits themselves)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OVERCAST_IDENTITY_LOGIN_BURST_PER_ADDRESS", "100000")
        env.setenv("OVERCAST_IDENTITY_LOGIN_BURST_PER_USER", "100000")
        yield


def identity_app(cloud: InProcessCloud, identity: IdentityService | None = None) -> FastAPI:
    """An identity-only API app on the cloud's database (its own identity service unless given one)."""
    app = create_app(cloud.settings, cloud.cloud.db)
    install(app, identity or IdentityService(cloud.settings, cloud.cloud.db))
    return app


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port for the block; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_keep_alive=IDLE_CONNECTION_SECONDS,
            proxy_headers=False,  # as the API server runs (overcast.cli.runner)
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
