"""Privilege escalation through application credentials (#12 defects 1, 7 and 12), over real HTTP.

A reader-only application credential must not mint a stronger credential, manage the user's other
credentials or hand its power on through EC2 credentials; a credential's access rules must hold for every
service, the identity API included; deleting a credential ends its own tokens and no one else's.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import openstack
import pytest
from openstack.connection import Connection

from overcast.errors import Unauthorized
from overcast.identity.service import IdentityService
from tests.support.cloud import InProcessCloud


def _identity_service(cloud: InProcessCloud) -> IdentityService:
    service: IdentityService = cloud.server.config.app.state.identity
    return service


def _http(cloud: InProcessCloud, token: str) -> httpx.Client:
    return httpx.Client(base_url=cloud.base_url, headers={"X-Auth-Token": token}, timeout=30)


def _create(
    cloud: InProcessCloud, token: str, user_id: str, expect: int = 201, **fields: Any
) -> dict[str, Any]:
    body = {"application_credential": {"name": f"ac-{uuid.uuid4().hex[:8]}", **fields}}
    with _http(cloud, token) as http:
        response = http.post(f"/identity/v3/users/{user_id}/application_credentials", json=body)
    assert response.status_code == expect, response.text
    created: dict[str, Any] = response.json().get("application_credential", {})
    return created


def _login(cloud: InProcessCloud, credential: dict[str, Any]) -> Connection:
    """openstacksdk authenticated with the application credential (auth_type v3applicationcredential)."""
    return openstack.connect(
        auth_url=f"{cloud.base_url}/identity",
        auth_type="v3applicationcredential",
        application_credential_id=credential["id"],
        application_credential_secret=credential["secret"],
        region_name="RegionOne",
        identity_api_version="3",
    )


def _token_of(cloud: InProcessCloud, credential: dict[str, Any]) -> str:
    token: str = _login(cloud, credential).auth_token
    return token


def _status(cloud: InProcessCloud, token: str, method: str, path: str, **kwargs: Any) -> int:
    with _http(cloud, token) as http:
        return http.request(method, path, **kwargs).status_code


def test_a_reader_credential_cannot_mint_a_stronger_one(cloud: InProcessCloud, demo: Connection) -> None:
    user_id = demo.current_user_id
    reader = _create(cloud, demo.auth_token, user_id, roles=[{"name": "reader"}])
    reader_token = _token_of(cloud, reader)
    # Restricted (the default): no application credential at all, not even an equal one.
    _create(cloud, reader_token, user_id, expect=403, roles=[{"name": "member"}])
    _create(cloud, reader_token, user_id, expect=403, roles=[{"name": "reader"}])
    _create(cloud, reader_token, user_id, expect=403)

    # Unrestricted may create credentials, but only with roles its own token carries.
    loose = _create(cloud, demo.auth_token, user_id, roles=[{"name": "reader"}], unrestricted=True)
    loose_token = _token_of(cloud, loose)
    _create(cloud, loose_token, user_id, expect=400, roles=[{"name": "member"}])
    member_role = next(demo.identity.roles(name="member"))
    _create(cloud, loose_token, user_id, expect=400, roles=[{"id": member_role.id}])
    child = _create(cloud, loose_token, user_id)
    assert [role["name"] for role in child["roles"]] == ["reader"]


def test_an_admins_reader_credential_does_not_make_an_admin(cloud: InProcessCloud, admin: Connection) -> None:
    user_id = admin.current_user_id
    reader = _create(cloud, admin.auth_token, user_id, roles=[{"name": "reader"}], unrestricted=True)
    reader_token = _token_of(cloud, reader)
    _create(cloud, reader_token, user_id, expect=400, roles=[{"name": "admin"}])
    # And the reader token itself is no admin: it cannot list users.
    assert _status(cloud, reader_token, "GET", "/identity/v3/users") == 403


def test_a_restricted_credential_cannot_delete_the_users_other_credentials(
    cloud: InProcessCloud, demo: Connection
) -> None:
    user_id = demo.current_user_id
    reader = _create(cloud, demo.auth_token, user_id, roles=[{"name": "reader"}])
    other = _create(cloud, demo.auth_token, user_id)
    reader_token = _token_of(cloud, reader)
    path = f"/identity/v3/users/{user_id}/application_credentials"
    assert _status(cloud, reader_token, "DELETE", f"{path}/{other['id']}") == 403
    assert _status(cloud, reader_token, "DELETE", f"{path}/{reader['id']}") == 403
    assert _status(cloud, _token_of(cloud, other), "GET", "/compute/v2.1/servers") == 200


def test_deleting_a_credential_ends_its_tokens_and_only_those(
    cloud: InProcessCloud, demo: Connection
) -> None:
    user_id = demo.current_user_id
    doomed = _create(cloud, demo.auth_token, user_id, roles=[{"name": "reader"}])
    kept = _create(cloud, demo.auth_token, user_id, roles=[{"name": "reader"}])
    doomed_token, kept_token = _token_of(cloud, doomed), _token_of(cloud, kept)
    password_session = demo.auth_token
    for token in (doomed_token, kept_token, password_session):
        assert _status(cloud, token, "GET", "/compute/v2.1/servers") == 200

    path = f"/identity/v3/users/{user_id}/application_credentials/{doomed['id']}"
    assert _status(cloud, password_session, "DELETE", path) == 204
    assert _status(cloud, doomed_token, "GET", "/compute/v2.1/servers") == 401
    # The password session and the other credential's tokens in the same project live on.
    assert _status(cloud, password_session, "GET", "/compute/v2.1/servers") == 200
    assert _status(cloud, kept_token, "GET", "/compute/v2.1/servers") == 200
    assert demo.compute.get("/servers").status_code == 200


def test_ec2_credentials_from_a_credential_keep_its_roles_and_die_with_it(
    cloud: InProcessCloud, demo: Connection
) -> None:
    user_id, project_id = demo.current_user_id, demo.current_project_id
    reader = _create(cloud, demo.auth_token, user_id, roles=[{"name": "reader"}])
    reader_token = _token_of(cloud, reader)
    with _http(cloud, reader_token) as http:
        created = http.post(
            f"/identity/v3/users/{user_id}/credentials/OS-EC2", json={"tenant_id": project_id}
        )
    assert created.status_code == 201, created.text
    access = created.json()["credential"]["access"]

    identity = _identity_service(cloud)
    secret, context = identity.credentials.ec2_context(access)
    assert secret == created.json()["credential"]["secret"]
    assert context.roles == ("reader",)

    path = f"/identity/v3/users/{user_id}/application_credentials/{reader['id']}"
    assert _status(cloud, demo.auth_token, "DELETE", path) == 204
    with pytest.raises(Unauthorized):
        identity.credentials.ec2_context(access)


ONLY_LIST_SERVERS = [
    {"service": "compute", "method": "GET", "path": "/v2.1/servers/detail"},
    {"service": "compute", "method": "GET", "path": "/v2.1/servers/*"},
]


def test_access_rules_from_the_cli_hold_for_every_service(cloud: InProcessCloud, demo: Connection) -> None:
    created = cloud.openstack(
        "application",
        "credential",
        "create",
        "list-servers-only",
        "--access-rules",
        json.dumps(ONLY_LIST_SERVERS),
        "-f",
        "json",
    )
    rules = created["Access Rules"]
    assert sorted((r["method"], r["path"]) for r in rules) == [
        ("GET", "/v2.1/servers/*"),
        ("GET", "/v2.1/servers/detail"),
    ]
    limited = _login(cloud, {"id": created["ID"], "secret": created["Secret"]})
    assert list(limited.compute.servers()) == []
    token = limited.auth_token
    assert _status(cloud, token, "GET", f"/compute/v2.1/servers/{uuid.uuid4()}") == 404
    # The same token, already accepted once, is refused for anything its rules do not name.
    server = {"server": {"name": "nope", "imageRef": "x", "flavorRef": "1"}}
    assert _status(cloud, token, "POST", "/compute/v2.1/servers", json=server) == 401
    assert _status(cloud, token, "GET", "/compute/v2.1/flavors") == 401
    assert _status(cloud, token, "GET", "/image/v2/images") == 401
    user_id = demo.current_user_id
    assert _status(cloud, token, "GET", f"/identity/v3/users/{user_id}/application_credentials") == 401
    ec2 = f"/identity/v3/users/{user_id}/credentials/OS-EC2"
    assert _status(cloud, token, "POST", ec2, json={"tenant_id": demo.current_project_id}) == 401
    # A token may still validate itself.
    with _http(cloud, token) as http:
        assert http.get("/identity/v3/auth/tokens", headers={"X-Subject-Token": token}).status_code == 200

    # Rules are the user's, listed apart and reused by an identical credential.
    with _http(cloud, demo.auth_token) as http:
        listed = http.get(f"/identity/v3/users/{user_id}/access_rules").json()["access_rules"]
        assert {r["id"] for r in listed} >= {r["id"] for r in rules}
        again = _create(cloud, demo.auth_token, user_id, access_rules=ONLY_LIST_SERVERS)
        assert {r["id"] for r in again["access_rules"]} == {r["id"] for r in rules}
        in_use = http.delete(f"/identity/v3/users/{user_id}/access_rules/{rules[0]['id']}")
        assert in_use.status_code == 403


def test_access_rules_are_validated(cloud: InProcessCloud, demo: Connection) -> None:
    user_id = demo.current_user_id
    for bad in (
        {"service": "compute", "method": "FETCH", "path": "/v2.1/servers"},
        {"service": "compute", "method": "GET", "path": "no-slash"},
        {"service": "compute", "method": "GET", "path": "/v2.1/servers\x00"},
        {"service": "compute", "method": "GET", "path": "/v2.1/servers", "extra": 1},
        {"service": "compute", "method": "GET"},
        {"id": uuid.uuid4().hex},
    ):
        _create(cloud, demo.auth_token, user_id, expect=400, access_rules=[bad])
