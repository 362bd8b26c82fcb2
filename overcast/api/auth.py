"""Auth middleware: X-Auth-Token -> RequestContext on request.state.context, or 401.

What passes without a token (version documents, token issue, /metrics, /healthcheck, /) is the app's
own: each router package names its public paths and `api/assembly.py` hands them all to the middleware,
so two apps in one process never share them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from overcast.context import RequestContext
from overcast.errors import OvercastError, Unauthorized

READS = ("GET", "HEAD")


@dataclass(frozen=True)
class PublicPath:
    pattern: re.Pattern[str]
    methods: frozenset[str] | None = None

    def allows(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and bool(self.pattern.fullmatch(path))


def public_path(path: str, *, prefix: bool = False, methods: Iterable[str] | None = None) -> PublicPath:
    """Requests to `path` (or everything below it with prefix=True) that pass without a token."""
    tail = r"(/.*)?" if prefix else r"/?"
    pattern = re.compile(re.escape(path.rstrip("/")) + tail)
    return PublicPath(pattern, frozenset(m.upper() for m in methods) if methods else None)


def readable_without_token(*paths: str) -> tuple[PublicPath, ...]:
    """Version documents and the like: clients read them (GET, HEAD) before they have a token."""
    return tuple(public_path(path or "/", methods=READS) for path in paths)


@dataclass(frozen=True)
class PublicPaths:
    entries: tuple[PublicPath, ...]

    def allows(self, method: str, path: str) -> bool:
        return any(entry.allows(method, path) for entry in self.entries)


# (token, request id, method, path): the method and path let a token limited by application-credential
# access rules be refused for requests its rules do not name.
TokenValidator = Callable[[str, str | None, str, str], RequestContext]
ErrorRenderer = Callable[[Scope, OvercastError], Response]


def _default_renderer(scope: Scope, error: OvercastError) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status)


class AuthMiddleware:
    """Pure ASGI so it costs one dict lookup and one token check per request."""

    def __init__(
        self,
        app: ASGIApp,
        validate: TokenValidator,
        public: PublicPaths,
        render_error: ErrorRenderer = _default_renderer,
    ) -> None:
        self.app = app
        self.validate = validate
        self.public = public
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        token = Headers(scope=scope).get("x-auth-token")
        public = self.public.allows(scope["method"], scope["path"])
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
