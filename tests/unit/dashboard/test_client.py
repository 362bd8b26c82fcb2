from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from overcast.dashboard.client import (
    APIError,
    Identity,
    Login,
    ProjectAPI,
    ServiceUnavailable,
    endpoint,
    error_message,
)

CATALOG = (
    {
        "type": "compute",
        "endpoints": [
            {"interface": "public", "url": "http://cloud/compute/v2.1"},
            {"interface": "internal", "url": "http://inside/compute/v2.1"},
        ],
    },
    {"type": "image", "endpoints": [{"interface": "public", "url": "http://cloud/image/"}]},
    {"type": "volumev3", "endpoints": [{"interface": "public", "url": "http://cloud/volume/v3/p1"}]},
)


def response(status: int, body: Any = None, text: str = "") -> httpx.Response:
    if body is not None:
        return httpx.Response(status, json=body)
    return httpx.Response(status, text=text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"itemNotFound": {"code": 404, "message": "Instance x could not be found."}},
            "Instance x could not be found.",
        ),
        (
            {
                "error": {
                    "code": 401,
                    "title": "Unauthorized",
                    "message": "The request you have made requires authentication.",
                }
            },
            "The request you have made requires authentication.",
        ),
        (
            {
                "NeutronError": {
                    "type": "NetworkNotFound",
                    "message": "Network n could not be found.",
                    "detail": "",
                }
            },
            "Network n could not be found.",
        ),
        ({"code": "409 Conflict", "title": "Conflict", "message": "Image in use"}, "Image in use"),
        ({"code": "400 Bad Request", "title": "Bad Request"}, "Bad Request"),
        ({"overLimit": {"code": 413, "message": "VolumeLimitExceeded"}}, "VolumeLimitExceeded"),
    ],
)
def test_the_message_is_the_apis_own_in_every_error_shape(body: dict[str, Any], message: str) -> None:
    assert error_message(response(400, body)) == message


def test_a_body_that_is_not_json_gives_its_text_or_the_reason() -> None:
    assert error_message(response(502, text="upstream went away")) == "upstream went away"
    assert error_message(response(502, text="")) == "Bad Gateway"


def test_endpoints_come_from_the_catalog_with_the_version_clients_append() -> None:
    assert endpoint(CATALOG, "compute") == "http://cloud/compute/v2.1"
    assert endpoint(CATALOG, "compute", "internal") == "http://inside/compute/v2.1"
    assert endpoint(CATALOG, "image") == "http://cloud/image/v2"
    assert endpoint(CATALOG, "volume") == "http://cloud/volume/v3/p1"
    assert endpoint(CATALOG, "network") is None


class FakeKeystone:
    """Keystone's token calls as the dashboard uses them: a default project or none, scoping, revocation."""

    def __init__(self, default_project: bool) -> None:
        self.default_project = default_project
        self.revoked: list[str] = []
        self.scoped_to: list[str] = []

    def token(self, token_id: str, project: dict[str, str] | None) -> httpx.Response:
        body = {
            "token": {
                "expires_at": "2026-01-01T01:00:00.000000Z",
                "user": {"id": "u1", "name": "demo", "domain": {"name": "Default"}},
                "roles": [{"name": "member"}] if project else [],
                "catalog": list(CATALOG) if project else [],
            }
        }
        if project:
            body["token"]["project"] = project
        return httpx.Response(201, json=body, headers={"X-Subject-Token": token_id})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/identity/v3/auth/tokens":
            auth = json.loads(request.content)["auth"]
            if "password" in auth["identity"]["methods"]:
                if auth["identity"]["password"]["user"]["password"] != "right":
                    return response(
                        401,
                        {
                            "error": {
                                "code": 401,
                                "message": "The request you have made requires authentication.",
                            }
                        },
                    )
                return self.token(
                    "t-unscoped", {"id": "p0", "name": "home"} if self.default_project else None
                )
            project_id = auth["scope"]["project"]["id"]
            self.scoped_to.append(project_id)
            return self.token("t-" + project_id, {"id": project_id, "name": "n-" + project_id})
        if request.method == "GET" and request.url.path == "/identity/v3/auth/projects":
            return response(
                200,
                {
                    "projects": [
                        {"id": "pb", "name": "beta"},
                        {"id": "pa", "name": "alpha"},
                        {"id": "pc", "name": "aardvark", "enabled": False},
                    ]
                },
            )
        if request.method == "DELETE":
            self.revoked.append(request.headers["X-Subject-Token"])
            return httpx.Response(404 if request.headers["X-Subject-Token"] == "gone" else 204)
        return response(404, {"error": {"message": "no such route"}})


def identity_of(keystone: FakeKeystone) -> tuple[httpx.AsyncClient, Identity]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(keystone))
    return http, Identity(http, "http://cloud/identity/")


def test_a_user_with_a_default_project_gets_its_token_at_once() -> None:
    keystone = FakeKeystone(default_project=True)

    async def scenario() -> None:
        http, identity = identity_of(keystone)
        async with http:
            login = await identity.password_login("Default", "demo", "right")
        assert (login.token, login.project_name, login.roles) == ("t-unscoped", "home", ("member",))
        assert keystone.scoped_to == []

    asyncio.run(scenario())


def test_a_user_without_a_default_project_is_scoped_to_their_first_enabled_project_by_name() -> None:
    keystone = FakeKeystone(default_project=False)

    async def scenario() -> None:
        http, identity = identity_of(keystone)
        async with http:
            login = await identity.password_login("Default", "demo", "right")
        assert login.project_id == "pa" and login.token == "t-pa"
        # Revoking the first token would end the chain it started, the scoped token included.
        assert keystone.revoked == []

    asyncio.run(scenario())


def test_a_wrong_password_is_the_apis_refusal() -> None:
    async def scenario() -> None:
        http, identity = identity_of(FakeKeystone(default_project=True))
        async with http:
            with pytest.raises(APIError) as refused:
                await identity.password_login("Default", "demo", "wrong")
        assert refused.value.status == 401
        assert refused.value.message == "The request you have made requires authentication."

    asyncio.run(scenario())


def test_revoking_a_token_already_gone_is_no_error() -> None:
    keystone = FakeKeystone(default_project=True)

    async def scenario() -> None:
        http, identity = identity_of(keystone)
        async with http:
            await identity.revoke("gone")
            await identity.revoke("t-1")
        assert keystone.revoked == ["gone", "t-1"]

    asyncio.run(scenario())


def test_a_project_api_sends_the_token_and_compute_microversion_to_the_catalogs_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response(200, {"servers": []})

    async def scenario() -> None:
        login = Login("tok", datetime.now(UTC), "u", "demo", "Default", "p1", "demo", ("member",), CATALOG)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            api = ProjectAPI(http, login)
            await api.get("compute", "/servers/detail", {"limit": 20, "name": "", "marker": None})
            with pytest.raises(ServiceUnavailable):
                await api.get("network", "/networks")

    asyncio.run(scenario())
    assert str(seen[0].url) == "http://cloud/compute/v2.1/servers/detail?limit=20"
    assert seen[0].headers["X-Auth-Token"] == "tok"
    assert seen[0].headers["OpenStack-API-Version"].startswith("compute 2.")


def test_a_log_in_goes_through_the_transport_of_the_browsers_address() -> None:
    keystone = FakeKeystone(default_project=True)
    addresses: list[str] = []

    def transport_for(address: str) -> httpx.AsyncBaseTransport:
        addresses.append(address)
        return httpx.MockTransport(keystone)

    async def scenario() -> None:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(lambda request: response(500, text="no"))
        ) as http:
            identity = Identity(http, "http://cloud/identity", login_transport=transport_for)
            login = await identity.password_login("Default", "demo", "right", "192.0.2.7")
            assert login.token == "t-unscoped"
            # Without a known address the dashboard's own client is used (here: one that always fails).
            with pytest.raises(APIError):
                await identity.password_login("Default", "demo", "right", None)

    asyncio.run(scenario())
    assert addresses == ["192.0.2.7"]
