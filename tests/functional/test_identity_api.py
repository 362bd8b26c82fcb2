"""The Identity API and the auth middleware over real HTTP: isolation, policy, expiry, revocation, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends

from overcast.api.deps import get_context
from overcast.context import RequestContext
from tests.support.clock import FakeClock
from tests.support.identity_cloud import IdentityCloud


def whoami_router() -> APIRouter:
    router = APIRouter()

    @router.get("/whoami")
    def whoami(context: RequestContext = Depends(get_context)) -> dict[str, Any]:
        return {
            "user_id": context.user_id,
            "project_id": context.project_id,
            "roles": list(context.roles),
            "is_admin": context.is_admin,
            "request_id": context.request_id,
        }

    return router


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[IdentityCloud]:
    running = IdentityCloud(
        tmp_path_factory.mktemp("identity-api"), clock, routers=[("/test", whoami_router())]
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture
def http(cloud: IdentityCloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.base_url, timeout=30) as client:
        yield client


def issue(http: httpx.Client, user: str, password: str, project: str | None = None) -> httpx.Response:
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}},
        }
    }
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return http.post("/identity/v3/auth/tokens", json={"auth": auth})


def token_of(http: httpx.Client, user: str, password: str, project: str | None = None) -> dict[str, str]:
    response = issue(http, user, password, project)
    assert response.status_code == 201, response.text
    return {"X-Auth-Token": response.headers["X-Subject-Token"]}


@pytest.fixture
def admin(http: httpx.Client, cloud: IdentityCloud) -> dict[str, str]:
    return token_of(http, "admin", cloud.bootstrap.admin_password or "", "admin")


@pytest.fixture
def demo(http: httpx.Client, cloud: IdentityCloud) -> dict[str, str]:
    return token_of(http, "demo", cloud.bootstrap.demo_password or "", "demo")


def new_member(http: httpx.Client, admin: dict[str, str], name: str) -> dict[str, Any]:
    project = http.post("/identity/v3/projects", json={"project": {"name": name}}, headers=admin).json()[
        "project"
    ]
    user = http.post(
        "/identity/v3/users", json={"user": {"name": name, "password": "pw-" + name}}, headers=admin
    ).json()["user"]
    role = http.get("/identity/v3/roles?name=member", headers=admin).json()["roles"][0]
    path = f"/identity/v3/projects/{project['id']}/users/{user['id']}/roles/{role['id']}"
    assert http.put(path, headers=admin).status_code == 204
    return {"project": project, "user": user, "headers": token_of(http, name, "pw-" + name, name)}


def test_version_documents_need_no_token(http: httpx.Client, cloud: IdentityCloud) -> None:
    root = http.get("/identity")
    assert root.status_code == 300
    assert root.json()["versions"]["values"][0]["links"][0]["href"] == f"{cloud.base_url}/identity/v3/"
    assert http.get("/identity/v3").json()["version"]["status"] == "stable"


def test_token_body_and_validation(http: httpx.Client, admin: dict[str, str], demo: dict[str, str]) -> None:
    subject = {"X-Subject-Token": demo["X-Auth-Token"]}
    shown = http.get("/identity/v3/auth/tokens", headers={**admin, **subject})
    assert shown.status_code == 200
    token = shown.json()["token"]
    assert token["user"]["name"] == "demo" and token["project"]["name"] == "demo"
    assert token["expires_at"].endswith("Z") and token["audit_ids"]
    endpoint = token["catalog"][0]["endpoints"][0]
    assert {"id", "interface", "region", "region_id", "url"} <= set(endpoint)
    assert http.head("/identity/v3/auth/tokens", headers={**demo, **subject}).status_code == 200
    # Another user's token is not the demo user's business.
    assert (
        http.get(
            "/identity/v3/auth/tokens", headers={**demo, "X-Subject-Token": admin["X-Auth-Token"]}
        ).status_code
        == 403
    )


def test_context_reaches_handlers(http: httpx.Client, demo: dict[str, str]) -> None:
    response = http.get("/test/whoami", headers=demo)
    body = response.json()
    assert body["roles"] == ["member", "reader"] and body["is_admin"] is False
    assert body["request_id"] == response.headers["X-Openstack-Request-Id"]


def test_missing_or_bad_tokens_get_401_in_each_services_shape(http: httpx.Client) -> None:
    identity = http.get("/identity/v3/projects")
    assert identity.status_code == 401
    assert identity.json()["error"]["title"] == "Unauthorized"
    assert identity.headers["WWW-Authenticate"].startswith("Keystone uri=")
    other = http.get("/test/whoami", headers={"X-Auth-Token": "oc1.forged.token"})
    assert other.status_code == 401
    assert other.json()["unauthorized"]["code"] == 401


def test_wrong_password_reveals_nothing(http: httpx.Client) -> None:
    wrong = issue(http, "admin", "wrong", "admin")
    unknown = issue(http, "no-such-user", "wrong", "admin")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_repeated_failures_are_throttled(http: httpx.Client, admin: dict[str, str]) -> None:
    new_member(http, admin, "target")
    statuses = [issue(http, "target", "guess").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert issue(http, "target", "pw-target").status_code == 429


def test_member_calling_an_admin_api_gets_403(http: httpx.Client, demo: dict[str, str]) -> None:
    response = http.post("/identity/v3/users", json={"user": {"name": "mallory"}}, headers=demo)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == 403
    assert http.get("/identity/v3/role_assignments", headers=demo).status_code == 403


def test_cross_project_access_is_404(http: httpx.Client, admin: dict[str, str]) -> None:
    alpha = new_member(http, admin, "alpha")
    beta = new_member(http, admin, "beta")
    own = http.get(f"/identity/v3/projects/{alpha['project']['id']}", headers=alpha["headers"])
    assert own.status_code == 200 and own.json()["project"]["name"] == "alpha"
    other = http.get(f"/identity/v3/projects/{beta['project']['id']}", headers=alpha["headers"])
    assert other.status_code == 404
    assert "beta" not in other.text


def test_revoked_token_is_refused(http: httpx.Client, demo: dict[str, str]) -> None:
    assert http.get("/test/whoami", headers=demo).status_code == 200
    assert (
        http.delete(
            "/identity/v3/auth/tokens", headers={**demo, "X-Subject-Token": demo["X-Auth-Token"]}
        ).status_code
        == 204
    )
    assert http.get("/test/whoami", headers=demo).status_code == 401


def test_token_of_a_deleted_user_is_refused(http: httpx.Client, admin: dict[str, str]) -> None:
    member = new_member(http, admin, "doomed")
    assert http.get("/test/whoami", headers=member["headers"]).status_code == 200
    assert http.delete(f"/identity/v3/users/{member['user']['id']}", headers=admin).status_code == 204
    assert http.get("/test/whoami", headers=member["headers"]).status_code == 401


def test_expired_token_is_refused(http: httpx.Client, admin: dict[str, str], clock: FakeClock) -> None:
    member = new_member(http, admin, "mayfly")
    clock.now += timedelta(hours=1)
    try:
        response = http.get("/test/whoami", headers=member["headers"])
        assert response.status_code == 401
    finally:
        clock.now -= timedelta(hours=1)


def test_role_assignments_and_ec2_credentials(http: httpx.Client, admin: dict[str, str]) -> None:
    member = new_member(http, admin, "ec2user")
    query = f"/identity/v3/role_assignments?user.id={member['user']['id']}&effective&include_names"
    roles = sorted(a["role"]["name"] for a in http.get(query, headers=admin).json()["role_assignments"])
    assert roles == ["member", "reader"]
    path = f"/identity/v3/users/{member['user']['id']}/credentials/OS-EC2"
    created = http.post(path, json={"tenant_id": member["project"]["id"]}, headers=member["headers"])
    assert created.status_code == 201
    credential = created.json()["credential"]
    assert len(credential["access"]) == 32 and len(credential["secret"]) == 32
    listed = http.get(path, headers=member["headers"]).json()["credentials"]
    assert [c["access"] for c in listed] == [credential["access"]]
    assert http.get(path, headers=admin).status_code == 200
    assert http.delete(f"{path}/{credential['access']}", headers=member["headers"]).status_code == 204
