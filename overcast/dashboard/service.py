"""`overcast service dashboard`: the dashboard as its own process, reaching the APIs over HTTP and keeping
its sessions in the cloud's database, beside every other dashboard process's."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from overcast.dashboard.app import PREFIX, build_dashboard
from overcast.dashboard.sessions import SessionStore
from overcast.dashboard.settings import DashboardSettings


def _utcnow() -> datetime:
    return datetime.now(UTC)


def standalone_app(auth_url: str, sessions: SessionStore) -> FastAPI:
    """The dashboard at PREFIX, as the API process mounts it, with a pooled HTTP client of the APIs."""
    http = httpx.AsyncClient(timeout=60.0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await http.aclose()

    root = FastAPI(
        title="Overcast dashboard", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    root.mount(PREFIX, build_dashboard(http, auth_url, sessions))

    @root.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=303)

    return root


def serve(api_base_url: str, sql_url: str, on_ready: Callable[[str], None] | None = None) -> None:
    settings = DashboardSettings()
    sessions = SessionStore.at(sql_url, _utcnow, settings)
    auth_url = settings.auth_url or api_base_url.rstrip("/") + "/identity"
    host, _, port = settings.listen.rpartition(":")
    server = uvicorn.Server(
        uvicorn.Config(
            standalone_app(auth_url, sessions),
            host=host,
            port=int(port),
            log_config=None,
            access_log=False,
            proxy_headers=True,
            # Longer than clients' poll intervals, as the API's (overcast.api.app.IDLE_CONNECTION_SECONDS).
            timeout_keep_alive=75,
        )
    )
    if on_ready is not None:
        url = f"http://{settings.listen}{PREFIX}/"
        threading.Thread(target=_call_when_started, args=(server, lambda: on_ready(url)), daemon=True).start()
    server.run()


def _call_when_started(server: uvicorn.Server, on_ready: Callable[[], None]) -> None:
    while not server.started and not server.should_exit:
        threading.Event().wait(0.05)
    if server.started:
        on_ready()
