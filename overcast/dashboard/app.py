"""The dashboard's ASGI app: its pages, its static files, and how a refusal becomes a page."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles

from overcast.dashboard.client import APIError, LoginTransport
from overcast.dashboard.pages import (
    admin,
    admin_aggregates,
    admin_flavor,
    admin_identity,
    auth,
    images,
    instances,
    keypairs,
    network_security,
    networks,
    portal_account,
    portal_admin,
    portal_billing,
    portal_credentials,
    portal_public,
    project,
    support,
    volumes,
)
from overcast.dashboard.pages.portal_public import PublicPortal, portal_url
from overcast.dashboard.sessions import SessionStore
from overcast.dashboard.web import PACKAGE_DIR, SESSION_COOKIE, CSRFRefused, Dashboard, LoginRequired

PREFIX = "/dashboard"


def build_dashboard(
    http: httpx.AsyncClient,
    auth_url: str,
    sessions: SessionStore,
    login_transport: LoginTransport | None = None,
) -> FastAPI:
    """The dashboard, to be mounted at PREFIX; `http` reaches the APIs and `auth_url` is Keystone's."""
    dashboard = Dashboard(http, auth_url, sessions, PREFIX, login_transport)
    app = FastAPI(title="Overcast dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.dashboard = dashboard
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    for pages in (
        auth.router(dashboard),
        project.router(dashboard),
        instances.router(dashboard),
        keypairs.router(dashboard),
        images.router(dashboard),
        admin.router(dashboard),
        admin_aggregates.router(dashboard),
        admin_flavor.router(dashboard),
        admin_identity.router(dashboard),
        volumes.router(dashboard),
        network_security.router(dashboard),
        networks.router(dashboard),
        portal_public.router(dashboard, PublicPortal(http, portal_url(auth_url), login_transport)),
        portal_account.router(dashboard),
        portal_credentials.router(dashboard),
        portal_billing.router(dashboard),
        portal_admin.router(dashboard),
        support.router(dashboard),
    ):
        app.include_router(pages)

    def refusal_page(request: Request, status: int, message: str) -> Response:
        """The refusal as a page, or as {"message"} for the page scripts that asked for JSON."""
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse({"message": message}, status_code=status)
        return dashboard.render(request, "error.html", status=status, status_code=status, message=message)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, error: LoginRequired) -> Response:
        response = dashboard.login_redirect(request, error.reason)
        if error.reason:
            response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path") or "/")
        return response

    @app.exception_handler(CSRFRefused)
    async def csrf_refused(request: Request, error: CSRFRefused) -> Response:
        message = (
            "The form was not sent from this dashboard (its security token is missing or stale). "
            "Reload the page and try again."
        )
        return refusal_page(request, 403, message)

    @app.exception_handler(APIError)
    async def api_refused(request: Request, error: APIError) -> Response:
        if error.status == 401:
            # The token died under the session (revoked, expired, the user disabled): log in again.
            signed = getattr(request.state, "signed_in", None)
            if signed is not None:
                dashboard.sessions.drop(signed.session_id)
            return dashboard.login_redirect(request, "expired")
        return refusal_page(request, error.status, error.message)

    @app.exception_handler(404)
    async def not_found(request: Request, error: Exception) -> Response:
        return dashboard.render(
            request, "error.html", status=404, status_code=404, message="There is no such page."
        )

    return app
