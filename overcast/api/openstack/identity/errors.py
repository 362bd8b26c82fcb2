"""Identity errors in Keystone's shape: {"error": {"code": 401, "message": "...", "title": "Unauthorized"}}.

The identity router uses its own route class, so these bodies stay scoped to /identity; what the shared
middleware raises below /identity takes the same shape (overcast.api.errors).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

# The shape itself lives with the other APIs' shapes, so every error below /identity (the routes',
# the shared middleware's, the token middleware's) is rendered by the same code.
from overcast.api.errors import keystone_error_body, keystone_error_response, validation_message
from overcast.errors import BadRequest, OvercastError

__all__ = ["IdentityRoute", "keystone_error_body", "keystone_error_response"]


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
