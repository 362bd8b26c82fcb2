"""Glance's error bodies on every image route (see overcast.api.errors for the shape).

Every image route uses `GlanceRoute`, which renders typed errors and validation failures in Glance's
shape; what the shared middleware and exception handlers raise below /image takes it too.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from overcast import errors
from overcast.api.errors import glance_error_response, validation_message


def glance_error(request: Request, error: errors.OvercastError) -> Response:
    return glance_error_response(request.headers.get("accept", ""), error)


class GlanceRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def glance_handler(request: Request) -> Response:
            try:
                return await handle(request)
            except errors.OvercastError as error:
                return glance_error(request, error)
            except RequestValidationError as error:
                return glance_error(request, errors.BadRequest(validation_message(error)))

        return glance_handler
