"""Every failure leaves the API in OpenStack's error shape."""

from __future__ import annotations

import logging

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from overcast import errors
from overcast.api.app import create_app
from overcast.api.errors import FAULT_MESSAGE
from overcast.api.middleware import REQUEST_ID_HEADER
from overcast.config import Settings
from overcast.log import RequestIdFilter


class Flavor(BaseModel):
    name: str
    vcpus: int = Field(ge=1)


class CreateFlavor(BaseModel):
    flavor: Flavor


def _compute_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v2.1/flavors", status_code=200)
    def create_flavor(body: CreateFlavor) -> dict[str, str]:
        return {"name": body.flavor.name}

    @router.get("/v2.1/flavors")
    def list_flavors(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @router.get("/v2.1/servers/{server_id}")
    def show_server(server_id: str) -> dict[str, str]:
        raise errors.NotFound(f"Instance {server_id} could not be found.")

    @router.post("/v2.1/servers/{server_id}/action")
    def server_action(server_id: str) -> dict[str, str]:
        raise errors.Conflict(f"Cannot 'reboot' instance {server_id} while it is in task_state rebooting")

    @router.get("/v2.1/boom")
    def boom() -> dict[str, str]:
        raise RuntimeError("database password is hunter2")

    return router


@pytest.fixture
def app() -> FastAPI:
    return create_app(Settings(), routers=[("/compute", _compute_router())])


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def test_unknown_path_is_item_not_found(client: TestClient) -> None:
    response = client.get("/compute/v2.1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"itemNotFound": {"code": 404, "message": "The resource could not be found."}}


def test_wrong_method_is_method_not_allowed_with_allow_header(client: TestClient) -> None:
    response = client.delete("/compute/v2.1/flavors")
    assert response.status_code == 405
    body = response.json()
    assert set(body) == {"methodNotAllowed"}
    assert body["methodNotAllowed"]["code"] == 405
    # Starlette names the methods of the first route whose path matched.
    assert set(response.headers["allow"].split(", ")) & {"GET", "POST"}


def test_typed_errors_render_their_status_and_title(client: TestClient) -> None:
    missing = client.get("/compute/v2.1/servers/abc")
    assert missing.status_code == 404
    assert missing.json() == {"itemNotFound": {"code": 404, "message": "Instance abc could not be found."}}
    conflict = client.post("/compute/v2.1/servers/abc/action")
    assert conflict.status_code == 409
    assert conflict.json()["conflict"]["message"].startswith("Cannot 'reboot' instance abc")


def test_malformed_json_is_bad_request(client: TestClient) -> None:
    response = client.post(
        "/compute/v2.1/flavors", content=b'{"flavor": {"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["badRequest"]["code"] == 400
    assert "Malformed request body" in body["badRequest"]["message"]


def test_validation_error_names_the_field_and_the_problem(client: TestClient) -> None:
    response = client.post("/compute/v2.1/flavors", json={"flavor": {"name": "m1.tiny", "vcpus": 0}})
    assert response.status_code == 400
    message = response.json()["badRequest"]["message"]
    assert "flavor.vcpus" in message
    assert "greater than or equal to 1" in message


def test_missing_field_is_reported_as_required(client: TestClient) -> None:
    response = client.post("/compute/v2.1/flavors", json={"flavor": {"vcpus": 2}})
    assert response.status_code == 400
    message = response.json()["badRequest"]["message"]
    assert "flavor.name" in message
    assert "required" in message.lower()


def test_invalid_query_parameter_is_bad_request(client: TestClient) -> None:
    response = client.get("/compute/v2.1/flavors", params={"limit": "lots"})
    assert response.status_code == 400
    assert "query parameter limit" in response.json()["badRequest"]["message"]


def test_unexpected_exception_is_a_fault_without_details(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.ERROR, logger="overcast.api"):
        response = client.get("/compute/v2.1/boom")
    assert response.status_code == 500
    assert response.json() == {"computeFault": {"code": 500, "message": FAULT_MESSAGE}}
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    request_id = response.headers[REQUEST_ID_HEADER]
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1
    assert logged[0].request_id == request_id  # type: ignore[attr-defined]
    assert "hunter2" in str(logged[0].exc_info[1])  # type: ignore[index]
