"""Glance's error bodies: webob's, as JSON when the client accepts it, else the HTML-ish text.

Every image route uses `GlanceRoute`, which renders typed errors and validation failures this way
instead of Nova's ``{"itemNotFound": {...}}`` shape.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute

from overcast import errors
from overcast.api.errors import validation_message


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def glance_error(request: Request, error: errors.OvercastError) -> Response:
    title = _phrase(error.status)
    status_line = f"{error.status} {title}"
    headers = {"Content-Range": f"bytes */{error.details['size']}"} if "size" in error.details else None
    if "application/json" in request.headers.get("accept", ""):
        body = {"message": error.message, "code": status_line, "title": title}
        return JSONResponse(body, status_code=error.status, headers=headers)
    text = (
        f"<html>\n <head>\n  <title>{status_line}</title>\n </head>\n <body>\n  <h1>{status_line}</h1>\n"
        f"  {html.escape(error.message)}<br /><br />\n\n\n\n </body>\n</html>"
    )
    return HTMLResponse(text, status_code=error.status, headers=headers)


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
