"""The Identity v3 API under /identity, and the auth middleware every other service relies on."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware

from overcast.api import app as foundation
from overcast.api.auth import AuthMiddleware, PublicPaths, public_path, readable_without_token
from overcast.api.errors import error_response_for
from overcast.api.openstack.identity import (
    routes_assignments,
    routes_auth,
    routes_catalog,
    routes_credentials,
    routes_domain_configs,
    routes_endpoint_filter,
    routes_federation,
    routes_grants,
    routes_groups,
    routes_implied_roles,
    routes_limits,
    routes_policies,
    routes_project_tags,
    routes_regions,
    routes_resources,
    routes_trusts,
)
from overcast.identity.service import IdentityService

PREFIX = "/identity"
# The version documents, and logging in.
PUBLIC_PATHS = (
    *readable_without_token(PREFIX, f"{PREFIX}/v3"),
    public_path(f"{PREFIX}/v3/auth/tokens", methods=("POST",)),
)


def build_router() -> APIRouter:
    """Every identity route, already below /identity."""
    router = APIRouter()
    for module in (
        routes_auth,
        routes_domain_configs,
        routes_resources,
        routes_assignments,
        routes_grants,
        routes_credentials,
        routes_catalog,
        routes_groups,
        routes_implied_roles,
        routes_project_tags,
        routes_regions,
        routes_endpoint_filter,
        routes_limits,
        routes_policies,
        routes_trusts,
        routes_federation,
    ):
        router.include_router(module.router, prefix=PREFIX)
    return router


def install(app: FastAPI, service: IdentityService, *, public: PublicPaths | None = None) -> None:
    """Mount the Identity API at /identity and authenticate every other request with its tokens.

    `public` is
    what passes without a token: every mounted API's public paths (by default, the foundation's and
    identity's, for an app that mounts identity alone).
    """
    public = public or PublicPaths((*foundation.PUBLIC_PATHS, *PUBLIC_PATHS))
    app.state.identity = service
    app.include_router(build_router())

    if app.middleware_stack is not None:
        raise RuntimeError("install() must run before the app serves its first request")
    # Innermost: it runs after the request-id middleware, so its 401s carry a request id too.
    app.user_middleware.append(
        Middleware(
            AuthMiddleware, validate=service.tokens.context, public=public, render_error=error_response_for
        )
    )
