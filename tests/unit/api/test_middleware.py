"""Request ids, the access log, and the request body limit."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from overcast.api.app import create_app
from overcast.api.deps import get_request_id
from overcast.api.middleware import COMPUTE_REQUEST_ID_HEADER, REQUEST_ID_HEADER, UNBOUNDED_BODY_PATHS
from overcast.config import Settings
from overcast.log import RequestIdFilter, request_id_var

BODY_LIMIT = 1024
ENDPOINT_LOG = logging.getLogger("tests.api.endpoint")


class Metadata(BaseModel):
    metadata: dict[str, str]


def _compute_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v2.1/servers/{server_id}")
    def show_server(server_id: str, request_id: str = Depends(get_request_id)) -> dict[str, str | None]:
        # Runs in a worker thread: the context variable must have followed the request there.
        ENDPOINT_LOG.info("showing server %s", server_id)
        return {"request_id": request_id, "context_var": request_id_var.get()}

    @router.put("/v2.1/servers/{server_id}/metadata")
    def set_metadata(server_id: str, body: Metadata) -> dict[str, int]:
        return {"keys": len(body.metadata)}

    return router


def _image_router() -> APIRouter:
    router = APIRouter()

    @router.put("/v2/images/{image_id}/file", status_code=200)
    async def upload(image_id: str, request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    @router.put("/v2/images/{image_id}/tags", status_code=200)
    async def raw_tags(image_id: str, request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    return router


@pytest.fixture
def app() -> FastAPI:
    settings = Settings(max_request_body_size=BODY_LIMIT)
    return create_app(settings, routers=[("/compute", _compute_router()), ("/image", _image_router())])


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def _chunks(total: int, size: int = 100) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


def _metadata_body(size: int) -> bytes:
    """A valid metadata document of exactly `size` bytes."""
    prefix, suffix = b'{"metadata": {"k": "', b'"}}'
    return prefix + b"v" * (size - len(prefix) - len(suffix)) + suffix


# --- request ids -------------------------------------------------------------------------------------


def test_every_response_carries_a_fresh_request_id(client: TestClient) -> None:
    ids = [client.get("/compute/v2.1/servers/a").headers[REQUEST_ID_HEADER] for _ in range(3)]
    ids.append(client.get("/nowhere").headers[REQUEST_ID_HEADER])
    assert len(set(ids)) == len(ids)
    for request_id in ids:
        assert request_id.startswith("req-")
        uuid.UUID(request_id.removeprefix("req-"))


def test_endpoint_sees_the_same_request_id_in_state_and_context_variable(client: TestClient) -> None:
    response = client.get("/compute/v2.1/servers/a")
    header = response.headers[REQUEST_ID_HEADER]
    assert response.json() == {"request_id": header, "context_var": header}
    assert request_id_var.get() is None


def test_compute_responses_also_carry_the_compute_request_id(client: TestClient) -> None:
    compute = client.get("/compute/v2.1/servers/a")
    assert compute.headers[COMPUTE_REQUEST_ID_HEADER] == compute.headers[REQUEST_ID_HEADER]
    assert COMPUTE_REQUEST_ID_HEADER not in client.get("/healthcheck").headers


def test_log_lines_inside_a_request_carry_its_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO):
        first = client.get("/compute/v2.1/servers/one").headers[REQUEST_ID_HEADER]
        second = client.get("/compute/v2.1/servers/two").headers[REQUEST_ID_HEADER]
    endpoint_lines = {
        record.getMessage(): record for record in caplog.records if record.name == ENDPOINT_LOG.name
    }
    assert endpoint_lines["showing server one"].request_id == first  # type: ignore[attr-defined]
    assert endpoint_lines["showing server two"].request_id == second  # type: ignore[attr-defined]


def test_one_access_line_per_request_with_method_path_status_duration(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="overcast.api.access"):
        response = client.get("/compute/v2.1/servers/xyz")
    access = [record for record in caplog.records if record.name == "overcast.api.access"]
    assert len(access) == 1
    line = access[0]
    assert (line.method, line.path, line.status) == ("GET", "/compute/v2.1/servers/xyz", 200)  # type: ignore[attr-defined]
    assert line.request_id == response.headers[REQUEST_ID_HEADER]  # type: ignore[attr-defined]
    assert 0 < line.duration < 60  # type: ignore[attr-defined]  # seconds; a sanity bound, CI is loaded


# --- request body limit ------------------------------------------------------------------------------


def _assert_over_limit(response: object) -> None:
    assert response.status_code == 413  # type: ignore[attr-defined]
    assert response.json() == {"overLimit": {"code": 413, "message": "Request is too large."}}  # type: ignore[attr-defined]
    assert response.headers[REQUEST_ID_HEADER].startswith("req-")  # type: ignore[attr-defined]


def test_body_at_the_limit_is_accepted(client: TestClient) -> None:
    response = client.put(
        "/compute/v2.1/servers/a/metadata",
        content=_metadata_body(BODY_LIMIT),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"keys": 1}


def test_declared_content_length_over_the_limit_is_refused(client: TestClient) -> None:
    response = client.put(
        "/compute/v2.1/servers/a/metadata",
        content=_metadata_body(BODY_LIMIT + 1),
        headers={"Content-Type": "application/json"},
    )
    _assert_over_limit(response)


def test_chunked_body_over_the_limit_is_refused_while_streaming(client: TestClient) -> None:
    response = client.put(
        "/compute/v2.1/servers/a/metadata",
        content=_chunks(BODY_LIMIT * 3),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    _assert_over_limit(response)


def test_chunked_body_read_raw_by_the_endpoint_is_refused(client: TestClient) -> None:
    response = client.put(
        "/image/v2/images/abc/tags", content=_chunks(BODY_LIMIT + 1), headers={"Accept": "application/json"}
    )
    # Below /image the 413 is Glance's (webob's) body.
    assert response.status_code == 413
    assert response.json() == {
        "code": "413 Request Entity Too Large", "title": "Request Entity Too Large",
        "message": "Request is too large.",
    }  # fmt: skip
    assert response.headers[REQUEST_ID_HEADER].startswith("req-")


def test_chunked_body_under_the_limit_passes(client: TestClient) -> None:
    response = client.put("/image/v2/images/abc/tags", content=_chunks(BODY_LIMIT))
    assert response.status_code == 200
    assert response.json() == {"size": BODY_LIMIT}


def test_image_upload_path_is_not_limited(client: TestClient) -> None:
    total = BODY_LIMIT * 50
    chunked = client.put("/image/v2/images/abc/file", content=_chunks(total, size=4096))
    assert chunked.status_code == 200
    assert chunked.json() == {"size": total}
    declared = client.put("/image/v2/images/abc/file", content=b"y" * total)
    assert declared.json() == {"size": total}


def test_unbounded_paths_are_anchored_patterns() -> None:
    assert any(pattern.match("/image/v2/images/1234/stage") for pattern in UNBOUNDED_BODY_PATHS)
    assert not any(pattern.match("/image/v2/images/1234/tags") for pattern in UNBOUNDED_BODY_PATHS)
    assert not any(pattern.match("/compute/image/v2/images/1/file") for pattern in UNBOUNDED_BODY_PATHS)
    assert all(isinstance(pattern, re.Pattern) for pattern in UNBOUNDED_BODY_PATHS)
