"""Assembly of the one ASGI app that serves every Overcast HTTP API."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from overcast import metrics, servicegroup
from overcast.api import versions
from overcast.api.auth import readable_without_token
from overcast.api.errors import install_error_handlers
from overcast.api.middleware import BodySizeLimitMiddleware, JsonBodyMiddleware, RequestContextMiddleware
from overcast.config import Settings

if TYPE_CHECKING:
    from overcast.bus import Transport
    from overcast.db.engine import Database

LOG = logging.getLogger(__name__)
# The foundation routes answer probes and scrapers, which hold no token.
PUBLIC_PATHS = readable_without_token("", "/healthcheck", "/metrics")

# uvicorn closes a connection idle for 5 s by default, the interval at which the openstack CLI and
# openstacksdk poll a server (`--wait`): the client then sends on a connection the server is closing and gets
# "connection reset". Idle connections stay open longer than any client's poll interval (nginx's default).
IDLE_CONNECTION_SECONDS = 75


def utcnow() -> datetime:
    return datetime.now(UTC)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _service_report(app_state: Any) -> list[dict[str, Any]]:
    settings: Settings = app_state.settings
    now = app_state.clock()
    report = []
    for record in servicegroup.list_services(app_state.db):
        heartbeat = servicegroup.last_heartbeat(record)
        report.append(
            {
                "binary": record.binary,
                "host": record.host,
                "topic": getattr(record, "topic", None),
                "disabled": bool(getattr(record, "disabled", False)),
                "forced_down": bool(record.forced_down),
                "up": servicegroup.service_is_up(record, now, settings.service_down_time),
                "last_heartbeat": heartbeat.isoformat() if heartbeat else None,
            }
        )
    return report


def _foundation_router() -> APIRouter:
    router = APIRouter()

    @router.get("/healthcheck")
    def healthcheck(request: Request) -> Response:
        """oslo.middleware-style: plain "OK" for probes; JSON with each service's liveness on request."""
        if not _wants_json(request):
            return PlainTextResponse("OK")
        state = request.app.state
        if state.db is None:
            return JSONResponse({"status": "OK", "services": []})
        try:
            services = _service_report(state)
        except Exception:
            LOG.exception("Health check could not read the services table")
            return JSONResponse({"status": "ERROR", "reason": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "OK", "services": services})

    @router.get("/metrics")
    def prometheus_metrics(request: Request) -> Response:
        content, content_type = metrics.render(request.app.state.metrics_registry)
        return Response(content, media_type=content_type)

    return router


def _scrape_registry(app: FastAPI, settings: Settings, db: Database | None) -> Any:
    if db is None:
        return metrics.build_scrape_registry()
    clock: Callable[[], datetime] = lambda: app.state.clock()  # noqa: E731 - tests swap app.state.clock
    collector = metrics.ServiceUpCollector(
        lambda: servicegroup.list_services(db), settings.service_down_time, clock
    )
    return metrics.build_scrape_registry(collector)


def create_app(
    settings: Settings,
    db: Database | None = None,
    transport: Transport | None = None,
    routers: Sequence[tuple[str, APIRouter]] = (),
) -> FastAPI:
    """The API app: foundation routes (/, /healthcheck, /metrics) plus `routers` at their prefixes."""
    # No generated docs: every public path belongs to an OpenStack API.
    app = FastAPI(title="Overcast", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.db = db
    app.state.transport = transport
    app.state.clock = utcnow
    app.state.metrics_registry = _scrape_registry(app, settings, db)

    install_error_handlers(app)
    app.include_router(versions.router)
    app.include_router(_foundation_router())
    for prefix, router in routers:
        app.include_router(router, prefix=prefix)

    # Added last runs first: request ids and the fault barrier wrap the body limit's 413 too, and the
    # JSON check only ever buffers what the body limit let through.
    app.add_middleware(JsonBodyMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_body_size=settings.max_request_body_size)
    app.add_middleware(RequestContextMiddleware)
    return app
