"""Compute microversion negotiation: header parsing, bounds, and the headers every response echoes."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

from overcast import errors
from overcast.api.errors import install_error_handlers
from overcast.api.openstack.compute.microversion import (
    MAX_VERSION,
    MIN_VERSION,
    APIVersion,
    MicroversionMiddleware,
    negotiate,
    requested_version_text,
)


def test_versions_order_numerically_not_as_text() -> None:
    assert APIVersion.parse("2.10") > APIVersion.parse("2.9")
    assert str(APIVersion.parse("2.10")) == "2.10"


@pytest.mark.parametrize("text", ["2", "2.", "v2.1", "2.01", "two.one", "2.1.3", ""])
def test_malformed_versions_are_bad_requests(text: str) -> None:
    with pytest.raises(errors.BadRequest):
        APIVersion.parse(text)


def test_new_header_wins_and_may_name_several_services() -> None:
    headers = Headers(
        {"OpenStack-API-Version": "volume 3.5, compute 2.7", "X-OpenStack-Nova-API-Version": "2.3"}
    )
    assert requested_version_text(headers) == "2.7"


def test_legacy_header_is_read_when_the_new_one_names_no_compute_version() -> None:
    headers = Headers({"OpenStack-API-Version": "volume 3.5", "X-OpenStack-Nova-API-Version": "2.3"})
    assert requested_version_text(headers) == "2.3"
    assert requested_version_text(Headers({})) is None


def test_negotiation_defaults_to_minimum_and_latest_to_maximum() -> None:
    low, high = APIVersion(2, 1), APIVersion(2, 12)
    assert negotiate(None, low, high) == low
    assert negotiate("latest", low, high) == high
    assert negotiate(" LATEST ", low, high) == high
    assert negotiate("2.5", low, high) == APIVersion(2, 5)


@pytest.mark.parametrize("text", ["2.13", "2.0", "3.1", "1.1"])
def test_versions_outside_the_range_are_not_acceptable(text: str) -> None:
    with pytest.raises(errors.NotAcceptable):
        negotiate(text, APIVersion(2, 1), APIVersion(2, 12))


def _client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/compute/v2.1/thing")
    def thing(request: Request) -> dict[str, str]:
        return {"served": str(request.state.compute_api_version)}

    @app.get("/elsewhere")
    def elsewhere() -> dict[str, str]:
        return {}

    app.add_middleware(MicroversionMiddleware, prefix="/compute/v2.1")
    return TestClient(app)


def test_middleware_echoes_both_headers_and_vary() -> None:
    response = _client().get("/compute/v2.1/thing", headers={"X-OpenStack-Nova-API-Version": "latest"})
    assert response.json() == {"served": str(MAX_VERSION)}
    assert response.headers["OpenStack-API-Version"] == f"compute {MAX_VERSION}"
    assert response.headers["X-OpenStack-Nova-API-Version"] == str(MAX_VERSION)
    assert set(response.headers["Vary"].split(", ")) == {
        "OpenStack-API-Version",
        "X-OpenStack-Nova-API-Version",
    }


def test_middleware_serves_the_minimum_without_a_header_and_leaves_other_paths_alone() -> None:
    client = _client()
    assert client.get("/compute/v2.1/thing").json() == {"served": str(MIN_VERSION)}
    assert "OpenStack-API-Version" not in client.get("/elsewhere").headers


def test_middleware_answers_406_and_400_in_openstack_shape() -> None:
    client = _client()
    too_new = client.get("/compute/v2.1/thing", headers={"OpenStack-API-Version": "compute 9.9"})
    assert too_new.status_code == 406
    assert too_new.json()["notAcceptable"]["code"] == 406
    malformed = client.get("/compute/v2.1/thing", headers={"OpenStack-API-Version": "compute 2.x"})
    assert malformed.status_code == 400
    assert "badRequest" in malformed.json()


def test_every_version_up_to_the_maximum_is_accounted_for() -> None:
    from overcast.api.openstack.compute.version_history import HISTORY

    versions = [change.version for change in HISTORY]
    expected = [APIVersion(2, minor) for minor in range(MIN_VERSION.minor + 1, MAX_VERSION.minor + 1)]
    assert versions == expected
    for change in HISTORY:
        assert change.summary
        # An implemented or partial change says where; absent and no-op ones need not.
        assert change.where or change.status not in ("implemented", "partial"), change
    assert APIVersion(2, 100) == MAX_VERSION
