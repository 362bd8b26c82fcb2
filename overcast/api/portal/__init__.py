"""The Overcast portal API under /portal/v1 (issue #20): sign-up, accounts, plans, the sign-up switch
and invitation codes (routes.py), support tickets (tickets.py).

Its own API (OpenStack has none): bodies wrap one object by its name ({"plan": {...}}), errors are
Keystone-shaped ({"error": {"code", "title", "message"}}) so the dashboard shows their message as it is,
amounts are decimal strings as billing's.
"""

from __future__ import annotations

from fastapi import FastAPI

from overcast.api.auth import public_path, readable_without_token
from overcast.api.portal import routes, tickets
from overcast.portal.service import PortalAPI
from overcast.portal.tickets import TicketsAPI

PUBLIC_PATHS = (
    *readable_without_token(routes.ROOT, routes.V1, routes.SETTINGS),
    *(public_path(path, methods=("POST",)) for path in routes.PUBLIC_POSTS),
)


def install(app: FastAPI, service: PortalAPI, tickets_service: TicketsAPI) -> None:
    """Mount the portal API, served by `service` (and its tickets by `tickets_service`)."""
    if app.middleware_stack is not None:
        raise RuntimeError("install() must run before the app serves its first request")
    app.state.portal = service
    app.include_router(routes.router)
    tickets.install(app, tickets_service)
