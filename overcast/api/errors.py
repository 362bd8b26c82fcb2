"""Every error leaves the API in OpenStack's shape: ``{"itemNotFound": {"code": 404, "message": "..."}}``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from overcast import errors

LOG = logging.getLogger(__name__)

FAULT_MESSAGE = "The server has either erred or is incapable of performing the requested operation."

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


def error_response(error: errors.OvercastError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=error.status, headers=headers)


def fault_body() -> dict[str, Any]:
    return {"computeFault": {"code": 500, "message": FAULT_MESSAGE}}


def _field_path(location: Sequence[int | str]) -> str:
    # Drop the "body" root; keep the rest dotted, list indexes included (e.g. server.networks.0.uuid).
    parts = [str(part) for part in location]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts)


def _describe(error: dict[str, Any]) -> str:
    location: Sequence[int | str] = error.get("loc", ())
    message = str(error.get("msg", "is invalid"))
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


async def _overcast_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.OvercastError)
    if exc.status >= 500:
        LOG.error("%s: %s", type(exc).__name__, exc.message)
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(errors.BadRequest(validation_message(exc)))


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error_class = _HTTP_STATUS_ERRORS.get(exc.status_code)
    headers = dict(exc.headers) if exc.headers else None
    if error_class is None:
        body = {"error": {"code": exc.status_code, "message": str(exc.detail)}}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)
    # Starlette's own detail for 404/405 is the bare reason phrase; OpenStack's default reads better.
    detail = str(exc.detail) if exc.detail and exc.detail != _reason_phrase(exc.status_code) else None
    return error_response(error_class(detail), headers=headers)


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


def install_error_handlers(app: FastAPI) -> None:
    """Route typed errors, validation failures and Starlette's HTTP errors to OpenStack bodies.

    Unexpected exceptions are not handled here: RequestContextMiddleware turns them into a 500 fault
    after logging them with the request id (a handler here would run outside that middleware).
    """
    app.add_exception_handler(errors.OvercastError, _overcast_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
