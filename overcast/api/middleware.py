"""Pure ASGI middleware: request ids, access log and metrics, fault barrier, request body limit, JSON
bodies checked once for every API. Their errors take the shape of the API the path belongs to.

Pure ASGI (not BaseHTTPMiddleware) so the body limit can count a chunked body while it streams and so
the request-id context variable is visible inside endpoints and their thread-pool workers.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import fastapi.routing
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overcast import errors
from overcast.api.errors import Fault, error_response_for
from overcast.api.json_body import MalformedJSON, UnacceptableJSON, load_json
from overcast.context import new_request_id
from overcast.log import request_id_var
from overcast.metrics import UNMATCHED_ROUTE, observe_http_request

# FastAPI >= 0.16x includes routers lazily, so a matched route only knows its router-relative path;
# older versions copy routes with their full path and lack this function.
iter_route_contexts: Callable[[Sequence[Any]], Iterator[Any]] | None = getattr(
    fastapi.routing, "iter_route_contexts", None
)

ACCESS_LOG = logging.getLogger("overcast.api.access")
LOG = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Openstack-Request-Id"
COMPUTE_REQUEST_ID_HEADER = "X-Compute-Request-Id"

# Paths whose bodies stream bulk data (image uploads) and so skip max_request_body_size.
UNBOUNDED_BODY_PATHS: set[re.Pattern[str]] = {
    re.compile(r"^/image/v2/images/[^/]+/file/?$"),
    re.compile(r"^/image/v2/images/[^/]+/stage/?$"),
}


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    return path[len(root_path) :] if root_path and path.startswith(root_path) else path


class RouteTemplates:
    """Finds the full route template (e.g. /compute/v2.1/servers/{server_id}) of a served request."""

    def __init__(self) -> None:
        # id(app) -> (app, id(route) -> (route, [(full path regex, full path template)])), one table per
        # app that serves routes: a request reaches the innermost app (a mounted one, as the dashboard's),
        # and with a single table the dashboard's page and the API call it makes rebuilt it in turn, on
        # every request. Objects are kept so their ids cannot be reused while the entry exists.
        self._tables: dict[int, tuple[Any, dict[int, tuple[Any, list[tuple[re.Pattern[str], str]]]]]] = {}

    def _rebuild(self, app: Any) -> dict[int, tuple[Any, list[tuple[re.Pattern[str], str]]]]:
        assert iter_route_contexts is not None
        table: dict[int, tuple[Any, list[tuple[re.Pattern[str], str]]]] = {}
        for context in iter_route_contexts(list(app.routes)):
            regex = getattr(context, "path_regex", None)
            template = context.path_format
            if regex is None or template is None:
                continue
            original = context.original_route
            table.setdefault(id(original), (original, []))[1].append((regex, template))
        self._tables[id(app)] = (app, table)
        return table

    def template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        own_template: str = getattr(route, "path_format", None) or UNMATCHED_ROUTE
        app = scope.get("app")
        if iter_route_contexts is None or app is None:
            return own_template
        known = self._tables.get(id(app))
        table = known[1] if known is not None and known[0] is app else {}
        entry = table.get(id(route))
        if entry is None or entry[0] is not route:
            entry = self._rebuild(app).get(id(route))
        if entry is None:
            return own_template
        path = _route_path(scope)
        for regex, template in entry[1]:
            if regex.match(path):
                return template
        return own_template


class RequestContextMiddleware:
    """Gives each request an id, logs and measures it, and turns unexpected errors into a 500 fault."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        id_headers = [(REQUEST_ID_HEADER, request_id)]
        if _route_path(scope).startswith("/compute"):
            id_headers.append((COMPUTE_REQUEST_ID_HEADER, request_id))
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in id_headers:
                    headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            LOG.exception("Unexpected error serving %s %s", scope["method"], scope["path"])
            if response_started:
                # Too late for a fault body: let the server abort the connection.
                raise
            await error_response_for(scope, Fault())(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            route = self.routes.template(scope)
            observe_http_request(scope["method"], route, status, duration)
            ACCESS_LOG.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration": round(duration, 6),
                    "request_id": request_id,
                },
            )
            request_id_var.reset(token)


def is_unbounded(path: str, patterns: Iterable[re.Pattern[str]] | None = None) -> bool:
    """Whether `path` streams bulk data (`patterns`, or UNBOUNDED_BODY_PATHS when None)."""
    return any(pattern.match(path) for pattern in (UNBOUNDED_BODY_PATHS if patterns is None else patterns))


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """Answers 413 overLimit to bodies over `max_body_size` bytes, declared or counted while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_size: int,
        unbounded_paths: Iterable[re.Pattern[str]] | None = None,
    ) -> None:
        self.app = app
        self.max_body_size = max_body_size
        # None means the module-level set, read per request so routers may add to it after start-up.
        self._unbounded_paths = None if unbounded_paths is None else tuple(unbounded_paths)

    def _is_unbounded(self, path: str) -> bool:
        return is_unbounded(path, self._unbounded_paths)

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response_for(scope, errors.RequestTooLarge(), headers={"Connection": "close"})
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_unbounded(_route_path(scope)):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            await self._reject(scope, receive, send)
            return

        received = 0
        exceeded = False
        response_started = False
        rejected = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_size:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started, rejected
            if exceeded:
                if response_started:
                    # The app began answering before the body overflowed; abort rather than lie.
                    raise _BodyTooLarge
                # The app turned our signal into its own error response (FastAPI makes it a 400).
                if message["type"] == "http.response.start":
                    response_started = rejected = True
                    await self._reject(scope, receive, send)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if rejected:
                return
            if not exceeded or response_started:
                raise
            await self._reject(scope, receive, send)


def _may_be_json(headers: Headers) -> bool:
    # Without Content-Length or Transfer-Encoding an HTTP/1.1 request has no body (most GETs): nothing
    # to read, so nothing to replay on the hot path.
    if headers.get("content-length") in (None, "0") and "transfer-encoding" not in headers:
        return False
    # FastAPI parses a body without a Content-Type as JSON too, and Glance's JSON-patch has its own type.
    content_type = headers.get("content-type")
    if content_type is None:
        return True
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type.endswith(("/json", "+json", "-json-patch"))


class JsonBodyMiddleware:
    """Refuses, for every API, JSON bodies no handler should meet: nested too deep, holding a lone
    surrogate (overcast.api.json_body). Runs inside the body limit, so what it buffers is bounded;
    bodies that are not JSON and the streamed image data pass untouched. A body that is not JSON at
    all is left to the route, whose parser knows what it expected.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not _may_be_json(Headers(scope=scope))
            or is_unbounded(_route_path(scope))
        ):
            await self.app(scope, receive, send)
            return
        pieces: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body was complete
            pieces.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(pieces)
        if body.strip():
            try:
                load_json(body)
            except MalformedJSON:
                pass
            except UnacceptableJSON as error:
                await error_response_for(scope, error)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
