"""Identity errors in Keystone's shape: {"error": {"code": 401, "message": "...", "title": "Unauthorized"}}.

The identity router uses its own route class, so these bodies stay scoped to /identity while the rest
of the API keeps the compute-shaped errors of overcast.api.errors.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from overcast.api.errors import validation_message
from overcast.errors import BadRequest, OvercastError, Unauthorized


def keystone_error_body(error: OvercastError) -> dict[str, Any]:
    try:
        title = HTTPStatus(error.status).phrase
    except ValueError:
        title = error.title
    return {"error": {"code": error.status, "message": error.message, "title": title}}


def keystone_error_response(error: OvercastError, base_url: str | None = None) -> JSONResponse:
    headers = {}
    if isinstance(error, Unauthorized) and base_url:
        headers["WWW-Authenticate"] = f'Keystone uri="{base_url}/identity"'
    # A throttled or busy login says when to come back (overcast.identity.passwords).
    if error.details.get("retry_after") is not None:
        headers["Retry-After"] = str(error.details["retry_after"])
    return JSONResponse(keystone_error_body(error), status_code=error.status, headers=headers)


class IdentityRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_with_keystone_errors(request: Request) -> Response:
            base_url = request.app.state.settings.base_url
            try:
                return await handle(request)
            except OvercastError as error:
                return keystone_error_response(error, base_url)
            except RequestValidationError as error:
                return keystone_error_response(BadRequest(validation_message(error)), base_url)

        return handle_with_keystone_errors
