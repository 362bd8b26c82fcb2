"""Errors raised by the shared middleware come in the shape of the API the path belongs to (issue #12,
defect 13).

The body limit (413), routing (404, 405), malformed and unacceptable JSON (400), the fault barrier (500)
and the token middleware (401) sit in front of every API. Compute answers Nova's
``{"itemNotFound": {"code": 404, "message": ...}}``, identity Keystone's
``{"error": {"code": 404, "title": "Not Found", "message": ...}}`` and image Glance's (webob's)
``{"code": "404 Not Found", "title": "Not Found", "message": ...}``. A real cloud over HTTP, every
shared error against each API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from openstack.connection import Connection

from tests.support.cloud import InProcessCloud

NOVA_TITLES = {
    400: "badRequest", 401: "unauthorized", 404: "itemNotFound", 405: "methodNotAllowed", 413: "overLimit",
    500: "computeFault",
}  # fmt: skip
PHRASES = {
    400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
    413: "Request Entity Too Large", 500: "Internal Server Error",
}  # fmt: skip

# One path per API for each shared error: a POST route that takes a JSON body, a path no route has, a
# route that refuses DELETE, and (added below) a route that raises an unexpected exception.
APIS: dict[str, dict[str, str]] = {
    "compute": {
        "body": "/compute/v2.1/flavors",
        "missing": "/compute/v2.1/no-such-collection",
        "wrong_method": "/compute/v2.1/limits",
        "boom": "/compute/v2.1/test-boom",
    },
    "identity": {
        "body": "/identity/v3/projects",
        "missing": "/identity/v3/no-such-collection",
        "wrong_method": "/identity/v3/auth/catalog",
        "boom": "/identity/v3/test-boom",
    },
    "image": {
        "body": "/image/v2/images",
        "missing": "/image/v2/no-such-collection",
        "wrong_method": "/image/v2/schemas/image",
        "boom": "/image/v2/test-boom",
    },
}


def _boom_router(paths: list[str]) -> APIRouter:
    router = APIRouter()
    for path in paths:

        @router.get(path)
        def boom() -> None:
            raise RuntimeError("an unexpected failure with a secret: hunter2")

    return router


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("error_shapes"), max_request_body_size=64 * 1024)
    # A route per API that fails unexpectedly, to reach the fault barrier. Added before the first request
    # (the app builds its middleware stack then), behind every route the APIs have.
    app = running.server.config.app
    assert isinstance(app, FastAPI)
    app.include_router(_boom_router([paths["boom"] for paths in APIS.values()]))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(cloud: InProcessCloud, admin: Connection) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=cloud.base_url,
        headers={"X-Auth-Token": str(admin.auth_token), "Accept": "application/json"},
        timeout=30,
    ) as client:
        yield client


def assert_shape(api: str, response: httpx.Response, status: int) -> dict[str, Any]:
    """The error's message, after checking the body is exactly `api`'s shape for `status`."""
    assert response.status_code == status, response.text
    body = response.json()
    if api == "compute":
        assert list(body) == [NOVA_TITLES[status]], body
        assert body[NOVA_TITLES[status]]["code"] == status
        detail = body[NOVA_TITLES[status]]
    elif api == "identity":
        assert list(body) == ["error"], body
        assert body["error"]["code"] == status
        assert body["error"]["title"] == PHRASES[status]
        detail = body["error"]
    else:
        assert set(body) == {"code", "title", "message"}, body
        assert body["code"] == f"{status} {PHRASES[status]}"
        assert body["title"] == PHRASES[status]
        detail = body
    assert isinstance(detail["message"], str) and detail["message"]
    return detail


Request = Callable[[httpx.Client, dict[str, str]], httpx.Response]

SHARED_ERRORS: dict[str, tuple[int, Request]] = {
    "body too large": (
        413,
        lambda http, paths: http.post(
            paths["body"], content=b'{"a": "' + b"x" * 128 * 1024 + b'"}',
            headers={"Content-Type": "application/json"},
        ),
    ),
    "unknown path": (404, lambda http, paths: http.get(paths["missing"])),
    "wrong method": (405, lambda http, paths: http.delete(paths["wrong_method"])),
    "malformed JSON": (
        400,
        lambda http, paths: http.post(
            paths["body"], content=b'{"nope', headers={"Content-Type": "application/json"}
        ),
    ),
    "JSON nested too deep": (
        400,
        lambda http, paths: http.post(
            paths["body"], content=b"[" * 5000 + b"]" * 5000, headers={"Content-Type": "application/json"}
        ),
    ),
    "JSON nested too deep, chunked": (
        400,
        lambda http, paths: http.post(
            paths["body"], content=iter([b"[" * 5000, b"]" * 5000]),
            headers={"Content-Type": "application/json"},
        ),
    ),
    "lone surrogate": (
        400,
        lambda http, paths: http.post(
            paths["body"], content=b'{"name": "\\ud800"}', headers={"Content-Type": "application/json"}
        ),
    ),
    "unexpected exception": (500, lambda http, paths: http.get(paths["boom"])),
    "no token": (401, lambda http, paths: http.get(paths["body"], headers={"X-Auth-Token": ""})),
    "bad token": (401, lambda http, paths: http.get(paths["body"], headers={"X-Auth-Token": "oc1.forged"})),
}


@pytest.mark.parametrize("error", list(SHARED_ERRORS))
@pytest.mark.parametrize("api", list(APIS))
def test_shared_error_in_the_apis_shape(http: httpx.Client, api: str, error: str) -> None:
    status, send = SHARED_ERRORS[error]
    detail = assert_shape(api, send(http, APIS[api]), status)
    assert "hunter2" not in detail["message"]


def test_keystone_401_names_where_to_authenticate(http: httpx.Client, cloud: InProcessCloud) -> None:
    response = http.get("/identity/v3/projects", headers={"X-Auth-Token": ""})
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{cloud.base_url}/identity"'


def test_glance_errors_without_json_accept_are_webobs_page(http: httpx.Client) -> None:
    response = http.get("/image/v2/no-such-collection", headers={"Accept": "*/*"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>404 Not Found</h1>" in response.text


def test_paths_outside_every_api_keep_novas_shape(http: httpx.Client) -> None:
    # The prefixes are whole path segments: /imagery is not the image API.
    for path in ("/no-such-thing", "/imagery/v2", "/identityx"):
        assert_shape("compute", http.get(path), 404)
