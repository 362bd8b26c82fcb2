"""The unauthenticated token endpoint and token parsing never answer 500 (#12 defects 8 and 11).

Every malformed body of POST /v3/auth/tokens is a 400 (or a 401 where Keystone answers 401) in Keystone's
error shape, with no stack trace in the log; a correctly signed token whose expiry no clock can hold is a
401 like any other bad token. Through real HTTP against the in-process cloud.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from overcast.identity.tokens import KeyRepository
from tests.support.api_apps import roomy_login_limits
from tests.support.cloud import InProcessCloud

TOKENS = "/identity/v3/auth/tokens"
# Values of the wrong JSON type for every kind of field: null, list, object, numbers, bool, huge string.
WRONG_VALUES: list[Any] = [None, [], [None], {}, {"a": 1}, 0, -1, 1e308, True, "x" * 70_000]


@pytest.fixture(scope="module")
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessCloud]:
    # Hundreds of logins from one address: the login rate limits are another module's subject.
    with roomy_login_limits():
        running = InProcessCloud(tmp_path_factory.mktemp("token-endpoint"))
    yield running
    running.stop()


@pytest.fixture
def http(cloud: InProcessCloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.base_url, timeout=60) as client:
        yield client


def good_body(cloud: InProcessCloud) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "domain": {"id": "default"},
                        "password": cloud.password("admin"),
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }


def assert_keystone_error(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] == response.status_code
    assert isinstance(error["title"], str) and isinstance(error["message"], str)


def with_value(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return changed


def without(body: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    parent = changed
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return changed


def paths(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths(child, (*prefix, key))


def identity_of(method: str, payload: Any) -> dict[str, Any]:
    return {"auth": {"identity": {"methods": [method], method: payload}}}


# The six bodies that answered 500 with a stack trace, one of each kind, and what Keystone answers.
SIX_KINDS: list[tuple[str, dict[str, Any] | None, tuple[str, ...] | None, Any]] = [
    ("methods not a list", None, ("auth", "identity", "methods"), 1),
    ("password payload not an object", None, ("auth", "identity", "password"), "x"),
    ("project scope not an object", None, ("auth", "scope", "project"), [None]),
    ("project name not a string", None, ("auth", "scope", "project", "name"), ["admin"]),
    ("token payload not an object", identity_of("token", "x"), None, None),
    (
        "application credential name not a string",
        identity_of("application_credential", {"name": ["ci"], "secret": "s", "user": {"id": "u"}}),
        None,
        None,
    ),
]


@pytest.mark.parametrize(("kind", "body", "path", "value"), SIX_KINDS, ids=[kind[0] for kind in SIX_KINDS])
def test_the_six_bodies_that_gave_500_are_400s(
    cloud: InProcessCloud,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    body: dict[str, Any] | None,
    path: tuple[str, ...] | None,
    value: Any,
) -> None:
    if body is None:
        assert path is not None
        body = with_value(good_body(cloud), path, value)
    with caplog.at_level(logging.ERROR):
        response = http.post(TOKENS, json=body)
    assert_keystone_error(response, 400)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_every_field_of_the_wrong_type_or_missing_is_a_4xx(
    cloud: InProcessCloud, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    good = good_body(cloud)
    bodies: list[Any] = [None, [], "auth", 1, {"auth": None}, {"auth": []}, {"auth": {}}]
    for path in paths(good):
        bodies += [with_value(good, path, value) for value in WRONG_VALUES]
        if path != ("auth", "scope"):  # the one optional key: without it the token is unscoped
            bodies.append(without(good, path))
    with caplog.at_level(logging.ERROR):
        for body in bodies:
            assert_keystone_error(http.post(TOKENS, json=body), 400, 401)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(bodies) > 150


@pytest.mark.parametrize(
    ("body", "status"),
    [
        # Keystone's schema: a name needs its domain, an object names something by id or name.
        (identity_of("password", {"user": {"name": "admin", "password": "p"}}), 400),
        (identity_of("password", {"user": {"password": "p", "domain": {"id": "default"}}}), 400),
        (identity_of("password", {"user": {"name": "admin", "password": "p", "domain": {}}}), 400),
        (identity_of("password", {"user": {"id": 42, "password": "p"}}), 400),
        (identity_of("password", {"user": {"id": "u", "password": 42}}), 400),
        (identity_of("password", {}), 400),
        ({"auth": {"identity": {"methods": ["password"]}}}, 400),
        ({"auth": {"identity": {"methods": []}}}, 400),
        (identity_of("token", {}), 400),
        (identity_of("token", {"id": None}), 400),
        (identity_of("token", {"id": 7}), 400),
        (identity_of("application_credential", {"id": "x"}), 400),
        (identity_of("application_credential", {"name": "ci", "secret": "s"}), 400),
        (identity_of("application_credential", {"id": "x", "secret": 1}), 400),
        # Credentials of the right shape that match nothing: Keystone's 401.
        (identity_of("password", {"user": {"id": "no-such-user", "password": "p"}}), 401),
        (
            identity_of("password", {"user": {"name": "a", "password": "p", "domain": {"name": "nowhere"}}}),
            401,
        ),
        (identity_of("password", {"user": {"name": "admin", "domain": {"id": "default"}}}), 401),
        (identity_of("token", {"id": "garbage"}), 401),
        (identity_of("token", {"id": "oc1.bm90LWpzb24.bm8"}), 401),
        (identity_of("application_credential", {"id": "x", "secret": "s"}), 401),
        ({"auth": {"identity": {"methods": ["saml2"], "saml2": {}}}}, 401),
    ],
)
def test_keystone_status_for_each_malformed_or_unmatched_body(
    http: httpx.Client, body: dict[str, Any], status: int
) -> None:
    assert_keystone_error(http.post(TOKENS, json=body), status)


def test_scopes_keystone_refuses(cloud: InProcessCloud, http: httpx.Client) -> None:
    good = good_body(cloud)
    two_targets = {"project": {"id": "p"}, "domain": {"id": "default"}}
    for scope, status in [
        (two_targets, 400),
        ({}, 400),
        ("everything", 400),
        ({"project": {"name": "admin"}}, 400),
        ({"project": {"name": "no-such-project", "domain": {"id": "default"}}}, 401),
        ({"domain": {"name": "no-such-domain"}}, 401),
        # The only system is the whole system.
        ({"system": {"all": False}}, 401),
    ]:
        assert_keystone_error(http.post(TOKENS, json=with_value(good, ("auth", "scope"), scope)), status)
    assert http.post(TOKENS, json=with_value(good, ("auth", "scope"), "unscoped")).status_code == 201
    # Bootstrap makes the admin the system's admin, as keystone-manage bootstrap does.
    assert (
        http.post(TOKENS, json=with_value(good, ("auth", "scope"), {"system": {"all": True}})).status_code
        == 201
    )


def signed_token(cloud: InProcessCloud, **fields: Any) -> str:
    """A token signed with the cloud's own primary key: only its fields are wrong, not its signature."""
    key = KeyRepository.for_settings(cloud.settings).load()[0]
    now = time.time()
    wire = {"u": "someone", "ud": "default", "m": ["password"], "i": now, "e": now + 3600, "a": ["x"]}
    wire.update(fields, k=key.key_id)
    body = base64.urlsafe_b64encode(json.dumps(wire).encode()).rstrip(b"=").decode()
    mac = hmac.new(key.secret, f"oc1.{body}".encode(), hashlib.sha256).digest()
    return f"oc1.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    "expiry", [1e20, -1e20, 1e308, 2**80, 253402300800, float("nan"), float("inf")], ids=str
)
def test_a_signed_token_with_an_out_of_range_expiry_is_a_401(
    cloud: InProcessCloud, http: httpx.Client, expiry: float
) -> None:
    admin = http.post(TOKENS, json=good_body(cloud))
    user_id = admin.json()["token"]["user"]["id"]
    # The same forgery with a sane expiry works, so the refusal below is the expiry's doing.
    sane = signed_token(cloud, u=user_id, p=admin.json()["token"]["project"]["id"], r=["admin"])
    assert http.get("/compute/v2.1/servers", headers={"X-Auth-Token": sane}).status_code == 200

    token = signed_token(cloud, u=user_id, e=expiry)
    assert_keystone_error(http.get("/identity/v3/projects", headers={"X-Auth-Token": token}), 401)
    compute = http.get("/compute/v2.1/servers", headers={"X-Auth-Token": token})
    assert compute.status_code == 401
    # Validating it as the subject of an admin's request is Keystone's 404 for an invalid token.
    subject = {"X-Auth-Token": admin.headers["X-Subject-Token"], "X-Subject-Token": token}
    assert_keystone_error(http.get(TOKENS, headers=subject), 404)
    issued = with_value(
        good_body(cloud), ("auth", "identity"), {"methods": ["token"], "token": {"id": token}}
    )
    assert_keystone_error(http.post(TOKENS, json=issued), 401)
