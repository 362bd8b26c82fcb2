"""Auth middleware: X-Auth-Token -> RequestContext on request.state.context, or 401.

Public paths (version documents, token issue, /metrics, /healthcheck, /) pass without a token; a service
adds its own with :func:`register_public_path` (e.g. the EC2 API, which signs requests instead).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from overcast.context import RequestContext
from overcast.errors import OvercastError, Unauthorized


@dataclass(frozen=True)
class PublicPath:
    pattern: re.Pattern[str]
    methods: frozenset[str] | None = None

    def allows(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and bool(self.pattern.fullmatch(path))


_PUBLIC: list[PublicPath] = []


def register_public_path(path: str, *, prefix: bool = False, methods: tuple[str, ...] | None = None) -> None:
    """Let requests to `path` (or everything below it with prefix=True) through without a token."""
    tail = r"(/.*)?" if prefix else r"/?"
    pattern = re.compile(re.escape(path.rstrip("/")) + tail)
    _PUBLIC.append(PublicPath(pattern, frozenset(m.upper() for m in methods) if methods else None))


def is_public(method: str, path: str) -> bool:
    return any(entry.allows(method, path) for entry in _PUBLIC)


# Version documents of every OpenStack-shaped service answer without a token: clients read them first.
for _path in (
    "",
    "/healthcheck",
    "/metrics",
    "/identity",
    "/identity/v3",
    "/compute",
    "/compute/v2.1",
    "/compute/v2",
    "/image",
    "/image/versions",
):
    register_public_path(_path or "/", methods=("GET", "HEAD"))
register_public_path("/identity/v3/auth/tokens", methods=("POST",))

# (token, request id, method, path): the method and path let a token limited by application-credential
# access rules be refused for requests its rules do not name.
TokenValidator = Callable[[str, str | None, str, str], RequestContext]
ErrorRenderer = Callable[[Scope, OvercastError], Response]


def _default_renderer(scope: Scope, error: OvercastError) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status)


class AuthMiddleware:
    """Pure ASGI so it costs one dict lookup and one token check per request."""

    def __init__(
        self, app: ASGIApp, validate: TokenValidator, render_error: ErrorRenderer = _default_renderer
    ) -> None:
        self.app = app
        self.validate = validate
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        token = Headers(scope=scope).get("x-auth-token")
        public = is_public(scope["method"], scope["path"])
        if token:
            try:
                state["context"] = self.validate(
                    token, state.get("request_id"), scope["method"], scope["path"]
                )
            except Unauthorized as error:
                if not public:
                    await self.render_error(scope, error)(scope, receive, send)
                    return
        elif not public:
            await self.render_error(scope, Unauthorized())(scope, receive, send)
            return
        await self.app(scope, receive, send)
