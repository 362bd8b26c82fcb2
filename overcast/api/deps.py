"""FastAPI dependencies: the objects create_app stored on app.state, and the caller's context."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from overcast import errors
from overcast.config import Settings
from overcast.context import RequestContext

if TYPE_CHECKING:
    from overcast.bus import Transport
    from overcast.db.engine import Database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database | None = request.app.state.db
    if db is None:
        raise errors.ServiceUnavailable("This API server has no database configured.")
    return db


def get_transport(request: Request) -> Transport:
    transport: Transport | None = request.app.state.transport
    if transport is None:
        raise errors.ServiceUnavailable("This API server has no message bus configured.")
    return transport


def get_request_id(request: Request) -> str:
    request_id: str = request.state.request_id
    return request_id


async def get_context(request: Request) -> RequestContext:
    """The authenticated caller, as the auth middleware left it on request.state.context.

    A coroutine so that FastAPI runs it on the event loop: as a plain function it would cost every
    authenticated request a hop to a worker thread and back just to read an attribute.
    """
    context: RequestContext | None = getattr(request.state, "context", None)
    if context is None:
        raise errors.Unauthorized()
    return context
