"""The web dashboard (#19): server-rendered pages at /dashboard, a client of the cloud's public APIs.

It holds each user's token in its server-side session and reaches the APIs only over their HTTP
interface, so every page obeys the same policies and quotas as the CLI. The API process mounts it
(`install`), reaching the APIs in-process through their own ASGI app; `overcast service dashboard` serves
it alone, reaching them over HTTP. Sessions are kept in the cloud's database, so any number of
dashboard processes share them.
"""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from overcast.api.auth import public_path
from overcast.api.middleware import UNBOUNDED_BODY_PATHS
from overcast.dashboard.app import PREFIX, build_dashboard
from overcast.dashboard.sessions import SessionStore
from overcast.dashboard.settings import DashboardSettings

# The dashboard checks its own sessions: the token middleware lets every request to it through.
PUBLIC_PATHS = (public_path(PREFIX, prefix=True),)


def install(
    app: FastAPI, base_url: str, sessions: SessionStore, settings: DashboardSettings | None = None
) -> None:
    """Mounts the dashboard in the API app; its calls to the APIs go through `app` itself, in-process."""
    settings = settings or DashboardSettings()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=60.0)
    auth_url = settings.auth_url or base_url.rstrip("/") + "/identity"
    dashboard = build_dashboard(
        http,
        auth_url,
        sessions,
        login_transport=lambda address: httpx.ASGITransport(app=app, client=(address, 0)),
    )
    app.mount(PREFIX, dashboard)
    # First among the API's routes: a page would otherwise be tried against every API route before it.
    routes = app.router.routes
    routes.insert(0, routes.pop())
    # An image upload streams through the dashboard as it does through the image API: no body limit.
    UNBOUNDED_BODY_PATHS.add(re.compile(rf"^{PREFIX}/project/images/[^/]+/data/?$"))
