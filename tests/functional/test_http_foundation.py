"""The HTTP foundation behind a real uvicorn server, reached over TCP with httpx."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from overcast.api.app import create_app
from overcast.api.errors import FAULT_MESSAGE
from overcast.api.middleware import REQUEST_ID_HEADER
from overcast.config import Settings
from overcast.db import Database
from overcast.db.models.service import ServiceRecord
from tests.support.waiting import WAIT_SECONDS, wait_until

BODY_LIMIT = 16 * 1024
OVER_LIMIT = {"overLimit": {"code": 413, "message": "Request is too large."}}


class Metadata(BaseModel):
    metadata: dict[str, str]


def _compute_router() -> APIRouter:
    router = APIRouter()

    @router.put("/v2.1/servers/{server_id}/metadata")
    def set_metadata(server_id: str, body: Metadata) -> dict[str, int]:
        return {"keys": len(body.metadata)}

    @router.get("/v2.1/boom")
    def boom() -> None:
        raise ZeroDivisionError("secret internals")

    return router


def _image_router() -> APIRouter:
    router = APIRouter()

    @router.put("/v2/images/{image_id}/file")
    async def upload(image_id: str, request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    return router


@dataclass
class LiveServer:
    url: str
    app: FastAPI


@pytest.fixture
def live_server(db: Database) -> Iterator[LiveServer]:
    settings = Settings(max_request_body_size=BODY_LIMIT, service_down_time=60)
    app = create_app(settings, db=db, routers=[("/compute", _compute_router()), ("/image", _image_router())])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="uvicorn to start", interval=0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT_SECONDS)
        sock.close()
        assert not thread.is_alive()


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=WAIT_SECONDS) as client:
        yield client


def _chunks(total: int, size: int = 1024) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"z" * min(size, total - start)


def test_root_document_and_request_ids(http: httpx.Client, live_server: LiveServer) -> None:
    first, second = http.get("/"), http.get("/")
    assert first.status_code == 200
    hrefs = [service["links"][0]["href"] for service in first.json()["services"]]
    assert all(href.startswith(Settings().base_url) for href in hrefs)
    assert first.headers[REQUEST_ID_HEADER] != second.headers[REQUEST_ID_HEADER]


def test_error_shapes_over_the_wire(http: httpx.Client) -> None:
    missing = http.get("/compute/v2.1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["message"] == "The resource could not be found."
    fault = http.get("/compute/v2.1/boom")
    assert fault.status_code == 500
    assert fault.json() == {"computeFault": {"code": 500, "message": FAULT_MESSAGE}}
    assert "secret" not in fault.text
    bad_json = http.put(
        "/compute/v2.1/servers/a/metadata", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert "badRequest" in bad_json.json()


# A body far past the limit checks that the server answers before reading it all and the client still
# gets the 413 rather than a reset connection.
@pytest.mark.parametrize("size", [BODY_LIMIT + 1, 5 * 1024 * 1024])
def test_declared_oversized_body_is_refused(http: httpx.Client, size: int) -> None:
    response = http.put(
        "/compute/v2.1/servers/a/metadata",
        content=b"{" + b" " * (size - 2) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == OVER_LIMIT


@pytest.mark.parametrize("size", [BODY_LIMIT + 1, 5 * 1024 * 1024])
def test_chunked_oversized_body_is_refused(http: httpx.Client, size: int) -> None:
    response = http.put(
        "/compute/v2.1/servers/a/metadata",
        content=_chunks(size, size=64 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413
    assert response.json() == OVER_LIMIT


def test_body_within_the_limit_is_served(http: httpx.Client) -> None:
    body = {"metadata": {f"key{index}": "v" * 100 for index in range(50)}}
    response = http.put("/compute/v2.1/servers/a/metadata", json=body)
    assert response.status_code == 200
    assert response.json() == {"keys": 50}


def test_image_upload_streams_past_the_limit(http: httpx.Client) -> None:
    total = 8 * 1024 * 1024
    response = http.put("/image/v2/images/abc/file", content=_chunks(total, size=64 * 1024))
    assert response.status_code == 200
    assert response.json() == {"size": total}


def test_metrics_and_health_over_the_wire(http: httpx.Client, live_server: LiveServer, db: Database) -> None:
    with db.writer() as session:
        session.add(
            ServiceRecord(
                host="node1", binary="overcast-compute", topic="compute", last_seen_up=datetime.now(UTC)
            )
        )
    assert http.put("/compute/v2.1/servers/a/metadata", json={"metadata": {}}).status_code == 200
    metrics = http.get("/metrics").text
    assert (
        'overcast_http_requests_total{method="PUT",route="/compute/v2.1/servers/{server_id}/metadata"'
        in metrics
    )
    assert 'overcast_service_up{binary="overcast-compute",host="node1"} 1.0' in metrics
    assert http.get("/healthcheck").text == "OK"
    health = http.get("/healthcheck", headers={"Accept": "application/json"}).json()
    assert [(entry["host"], entry["up"]) for entry in health["services"]] == [("node1", True)]
