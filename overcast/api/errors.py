"""Every error leaves the API in the error shape of the OpenStack API its path belongs to.

Compute (and the paths outside any API) answer Nova's ``{"itemNotFound": {"code": 404, "message": ...}}``,
identity answers Keystone's ``{"error": {"code": 404, "title": "Not Found", "message": ...}}`` and image
answers Glance's (webob's): ``{"code": "404 Not Found", "title": "Not Found", "message": ...}`` when the
client accepts JSON, else webob's HTML page; networking answers Neutron's
``{"NeutronError": {"type": "NetworkNotFound", "message": ..., "detail": ""}}``. `error_response_for` is
the one place that chooses: the exception handlers, the shared middleware (413, 500, malformed JSON) and
the token middleware's 401 all render through it, and so do the identity and image routes.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from overcast import errors
from overcast.api.openstack.parameter_types import nova_message

LOG = logging.getLogger(__name__)

FAULT_MESSAGE = "The server has either erred or is incapable of performing the requested operation."
IDENTITY_PREFIX = "/identity"
IMAGE_PREFIX = "/image"
# The portal answers as Keystone does: its pages show the message as it is.
PORTAL_PREFIX = "/portal"
NETWORK_PREFIX = "/networking"
# CloudKitty (Flask-RESTful) answers {"message": "..."}.
RATING_PREFIX = "/rating"

# Statuses Starlette raises on its own (routing, body parsing) and the OpenStack error each stands for.
_HTTP_STATUS_ERRORS: dict[int, type[errors.OvercastError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    406: errors.NotAcceptable,
    409: errors.Conflict,
    413: errors.RequestTooLarge,
    503: errors.ServiceUnavailable,
}


class Fault(errors.OvercastError):
    """An unexpected exception as the client sees it: a 500 without the exception's text."""

    default_message = FAULT_MESSAGE


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _api_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root_path: str = scope.get("root_path", "")
    return path[len(root_path) :] if root_path and path.startswith(root_path) else path


def _below(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _headers(error: errors.OvercastError, headers: dict[str, str] | None) -> dict[str, str]:
    merged = dict(headers or {})
    # A throttled or busy request says when to come back (overcast.identity.passwords, for one).
    if error.details.get("retry_after") is not None:
        merged["Retry-After"] = str(error.details["retry_after"])
    return merged


def keystone_error_body(error: errors.OvercastError) -> dict[str, Any]:
    return {"error": {"code": error.status, "message": error.message, "title": reason_phrase(error.status)}}


def keystone_error_response(
    error: errors.OvercastError, base_url: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    headers = _headers(error, headers)
    if isinstance(error, errors.Unauthorized) and base_url:
        headers["WWW-Authenticate"] = f'Keystone uri="{base_url}{IDENTITY_PREFIX}"'
    return JSONResponse(keystone_error_body(error), status_code=error.status, headers=headers or None)


def glance_error_response(
    accept: str, error: errors.OvercastError, headers: dict[str, str] | None = None
) -> Response:
    title = reason_phrase(error.status)
    status_line = f"{error.status} {title}"
    headers = _headers(error, headers)
    if "size" in error.details:
        headers["Content-Range"] = f"bytes */{error.details['size']}"
    if "application/json" in accept:
        body = {"message": error.message, "code": status_line, "title": title}
        return JSONResponse(body, status_code=error.status, headers=headers or None)
    text = (
        f"<html>\n <head>\n  <title>{status_line}</title>\n </head>\n <body>\n  <h1>{status_line}</h1>\n"
        f"  {html.escape(error.message)}<br /><br />\n\n\n\n </body>\n</html>"
    )
    return HTMLResponse(text, status_code=error.status, headers=headers or None)


def nova_error_response(error: errors.OvercastError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status, headers=_headers(error, headers) or None)


def neutron_error_body(error: errors.OvercastError) -> dict[str, Any]:
    # Neutron names the exception class; a typed network error carries its own (NetworkNotFound, ...).
    kind = getattr(error, "neutron_type", "") or "HTTP" + reason_phrase(error.status).replace(" ", "")
    return {"NeutronError": {"type": kind, "message": error.message, "detail": ""}}


def error_response_for(
    scope: Scope, error: errors.OvercastError, headers: dict[str, str] | None = None
) -> Response:
    """`error` in the shape of the API that serves `scope`'s path (Nova's outside identity and image)."""
    path = _api_path(scope)
    if _below(path, IDENTITY_PREFIX):
        app = scope.get("app")
        settings = getattr(getattr(app, "state", None), "settings", None)
        return keystone_error_response(error, getattr(settings, "base_url", None), headers)
    if _below(path, PORTAL_PREFIX):
        return keystone_error_response(error, None, headers)
    if _below(path, IMAGE_PREFIX):
        return glance_error_response(Headers(scope=scope).get("accept", ""), error, headers)
    if _below(path, NETWORK_PREFIX):
        body = neutron_error_body(error)
        return JSONResponse(body, status_code=error.status, headers=_headers(error, headers) or None)
    if _below(path, RATING_PREFIX):
        body = {"message": error.message}
        return JSONResponse(body, status_code=error.status, headers=_headers(error, headers) or None)
    return nova_error_response(error, headers)


def _field_path(location: Sequence[int | str]) -> str:
    # Drop the "body" root; keep the rest dotted, list indexes included (e.g. server.networks.0.uuid).
    parts = [str(part) for part in location]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


def _describe(error: dict[str, Any]) -> str:
    location: Sequence[int | str] = error.get("loc", ())
    message = nova_message(error)
    kind = error.get("type", "")
    if kind == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "")
        return f"Malformed request body: {detail}".rstrip(": ")
    source = location[0] if location else "body"
    field = _field_path(location)
    if source in ("query", "header", "path", "cookie") and len(location) > 1:
        where = f"{source} parameter {'.'.join(str(part) for part in location[1:])}"
    elif field:
        where = f"field/attribute {field}"
    else:
        where = "the request body"
    if kind != "missing" and "input" in error:
        return f"Invalid input for {where}: {message} (got {_shorten(repr(error['input']))})"
    return f"Invalid input for {where}: {message}"


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validation_message(exc: RequestValidationError) -> str:
    return "; ".join(_describe(dict(error)) for error in exc.errors())


async def _overcast_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.OvercastError)
    if exc.status >= 500:
        LOG.error("%s: %s", type(exc).__name__, exc.message)
    return error_response_for(request.scope, exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response_for(request.scope, errors.BadRequest(validation_message(exc)))


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error_class = _HTTP_STATUS_ERRORS.get(exc.status_code)
    headers = dict(exc.headers) if exc.headers else None
    if error_class is None:
        body = {"error": {"code": exc.status_code, "message": str(exc.detail)}}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)
    # Starlette's own detail for 404/405 is the bare reason phrase; OpenStack's default reads better.
    detail = str(exc.detail) if exc.detail and exc.detail != reason_phrase(exc.status_code) else None
    return error_response_for(request.scope, error_class(detail), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route typed errors, validation failures and Starlette's HTTP errors to OpenStack bodies.

    Unexpected exceptions are not handled here: RequestContextMiddleware turns them into a 500 fault
    after logging them with the request id (a handler here would run outside that middleware).
    """
    app.add_exception_handler(errors.OvercastError, _overcast_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
