"""Credentials at rest and access-rule patterns: EC2 secrets encrypted with a key outside the database
(created 0600, rows from before migration 0013 encrypted at start-up, rotation), access-rule wildcards,
and the bounded user e-mail."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text

from overcast.api.app import create_app
from overcast.api.openstack.identity import install
from overcast.config import Settings, load_settings
from overcast.db import Database, migrate
from overcast.db.models.identity import AccessRule, Ec2Credential
from overcast.errors import Unauthorized
from overcast.identity.access_rules import allows, path_matches
from overcast.identity.bootstrap import BootstrapResult, bootstrap
from overcast.identity.credential_keys import KEY_FILE_NAME
from overcast.identity.passwords import PasswordHasher
from overcast.identity.service import IdentityService
from overcast.identity.tokens import TokenPayload, utc_now

HASHER = PasswordHasher(time_cost=1, memory_cost_kib=1024)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", listen="127.0.0.1:9999")


@pytest.fixture
def boot(settings: Settings, db: Database) -> BootstrapResult:
    return bootstrap(settings, db, hasher=HASHER)


@pytest.fixture
def identity(settings: Settings, db: Database, boot: BootstrapResult) -> IdentityService:
    return IdentityService(settings, db, hasher=HASHER)


def _password_caller(identity: IdentityService, user_id: str) -> TokenPayload:
    now = utc_now()
    return TokenPayload(
        user_id=user_id,
        user_domain_id="default",
        methods=("password",),
        issued_at=now,
        expires_at=now,
        audit_ids=("a",),
    )


def _member_caller(identity: IdentityService, user_id: str, project_id: str) -> TokenPayload:
    return replace(_password_caller(identity, user_id), project_id=project_id, roles=("member", "reader"))


def _demo(identity: IdentityService) -> tuple[str, str]:
    with identity.core.db.reader() as session:
        user = identity.core.sql_backend.find_user(session, "default", "demo")
        assert user is not None and user.default_project_id is not None
        return user.id, user.default_project_id


def test_ec2_secrets_are_encrypted_at_rest_with_a_key_file_only_the_owner_reads(
    identity: IdentityService, settings: Settings, db: Database
) -> None:
    user_id, project_id = _demo(identity)
    created = identity.credentials.create_ec2_credential(
        _password_caller(identity, user_id), user_id, project_id
    )
    with db.reader() as session:
        stored = session.execute(text("SELECT * FROM identity_ec2_credentials")).mappings().one()
    assert created["secret"] not in " ".join(str(value) for value in stored.values())
    key_file = settings.data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Signature checks still read the secret.
    secret, context = identity.credentials.ec2_context(created["access"])
    assert secret == created["secret"] and context.project_id == project_id
    assert identity.credentials.get_ec2_credential(user_id, created["access"])["secret"] == created["secret"]


def test_secrets_left_in_plain_text_by_the_migration_are_encrypted_at_start_up(
    identity: IdentityService, settings: Settings, db: Database
) -> None:
    user_id, project_id = _demo(identity)
    with db.writer() as session:
        session.execute(
            insert(Ec2Credential).values(
                access="old-access",
                encrypted_secret="old-secret",
                key_id=None,
                user_id=user_id,
                project_id=project_id,
            )
        )
    restarted = IdentityService(settings, db, hasher=HASHER)
    with db.reader() as session:
        row = session.scalars(select(Ec2Credential).where(Ec2Credential.access == "old-access")).one()
        assert row.key_id is not None and "old-secret" not in row.encrypted_secret
    assert restarted.credentials.ec2_context("old-access")[0] == "old-secret"
    assert restarted.credentials.encrypt_plaintext_secrets() == 0


def test_rotating_the_credential_key_re_encrypts_every_secret(
    identity: IdentityService, db: Database
) -> None:
    user_id, project_id = _demo(identity)
    caller = _password_caller(identity, user_id)
    made = [identity.credentials.create_ec2_credential(caller, user_id, project_id) for _ in range(2)]
    for _ in range(4):  # more rotations than keys kept: nothing may be left under a dropped key
        primary = identity.credentials.rotate_credential_key()
        with db.reader() as session:
            assert set(session.scalars(select(Ec2Credential.key_id))) == {primary}
    for credential in made:
        assert identity.credentials.ec2_context(credential["access"])[0] == credential["secret"]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/v2.1/servers", "/v2.1/servers", True),
        ("/v2.1/servers", "/v2.1/servers/detail", False),
        ("/v2.1/servers/*", "/v2.1/servers/abc", True),
        ("/v2.1/servers/*", "/v2.1/servers/abc/action", False),
        ("/v2.1/servers/*", "/v2.1/servers/", False),
        ("/v2.1/servers/*/ips", "/v2.1/servers/abc/ips", True),
        ("/v2.1/servers/{server_id}/ips", "/v2.1/servers/abc/ips", True),
        ("/v2.1/servers/**", "/v2.1/servers/abc/action", True),
        ("/v2.1/servers/**", "/v2.1/servers", False),
        ("/v2.1/serv.rs", "/v2.1/servers", False),
    ],
)
def test_access_rule_paths(pattern: str, path: str, matches: bool) -> None:
    assert path_matches(pattern, path) is matches


def test_access_rules_name_the_service_by_its_catalog_type() -> None:
    rules = (("compute", "GET", "/v2.1/servers"), ("image", "GET", "/v2/**"))
    assert allows(rules, "GET", "/compute/v2.1/servers")
    assert not allows(rules, "POST", "/compute/v2.1/servers")
    assert not allows(rules, "GET", "/image/v2.1/servers")
    assert allows(rules, "GET", "/image/v2/images/i1/members")
    assert not allows(rules, "GET", "/identity/v3/users")
    assert allows(rules, "GET", "/identity/v3/auth/tokens")


def test_user_email_is_bounded_with_a_400(settings: Settings, db: Database, boot: BootstrapResult) -> None:
    app = create_app(settings, db)
    install(app, IdentityService(settings, db, hasher=HASHER))
    with TestClient(app) as client:
        auth = {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"id": "default"}, "password": boot.admin_password}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
        token = client.post("/identity/v3/auth/tokens", json={"auth": auth}).headers["X-Subject-Token"]
        headers = {"X-Auth-Token": token}
        too_long = "a" * 250 + "@example.com"
        created = client.post(
            "/identity/v3/users", json={"user": {"name": "mailer", "email": too_long}}, headers=headers
        )
        assert created.status_code == 400 and created.json()["error"]["code"] == 400
        fine = client.post(
            "/identity/v3/users", json={"user": {"name": "mailer", "email": "m@example.com"}}, headers=headers
        )
        assert fine.status_code == 201
        user_id = fine.json()["user"]["id"]
        updated = client.patch(
            f"/identity/v3/users/{user_id}", json={"user": {"email": too_long}}, headers=headers
        )
        assert updated.status_code == 400


def test_a_token_carries_its_credentials_access_rules_and_fails_closed(identity: IdentityService) -> None:
    user_id, project_id = _demo(identity)
    caller = _member_caller(identity, user_id, project_id)
    rule = {"service": "image", "method": "GET", "path": "/v2/images"}
    created = identity.credentials.create_application_credential(
        caller, user_id, {"name": "images", "access_rules": [rule]}
    )
    token, body = identity.tokens.issue(
        {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": created["id"], "secret": created["secret"]},
            }
        }
    )
    assert body["token"]["application_credential"]["access_rules"][0]["path"] == "/v2/images"
    assert identity.tokens.verify(token).access_rules == (("image", "GET", "/v2/images"),)
    identity.tokens.context(token, None, "GET", "/image/v2/images")
    refused: list[tuple[str | None, str | None]] = [
        ("POST", "/image/v2/images"),
        ("GET", "/compute/v2.1/servers"),
        (None, None),  # no request to check the rules against
    ]
    for method, path in refused:
        with pytest.raises(Unauthorized):
            identity.tokens.context(token, None, method, path)


def test_a_plain_text_secret_survives_migration_0013_and_is_encrypted_at_start_up(
    empty_db_url: str, settings: Settings
) -> None:
    database = Database(empty_db_url)
    try:
        with database.engine.begin() as connection:
            migrate.upgrade(connection, "0012_identity_groups")
            connection.execute(
                text(
                    "INSERT INTO identity_ec2_credentials (access, secret, user_id, project_id, created_at, "
                    "updated_at) VALUES ('legacy', 'legacy-secret', 'u1', 'p1', :now, :now)"
                ),
                {"now": utc_now()},
            )
            migrate.upgrade(connection)
        identity = IdentityService(settings, database, hasher=HASHER)
        with database.reader() as session:
            row = session.scalars(select(Ec2Credential)).one()
            assert row.key_id is not None and row.encrypted_secret != "legacy-secret"
        assert identity.credentials.get_ec2_credential("u1", "legacy")["secret"] == "legacy-secret"
        # The key is outside the database: a downgrade cannot decrypt, so it refuses to lose the secret.
        with pytest.raises(RuntimeError, match="encrypted"), database.engine.begin() as connection:
            migrate.downgrade(connection, "0012_identity_groups")
    finally:
        database.dispose()


def test_deleting_a_user_deletes_their_access_rules(identity: IdentityService, db: Database) -> None:
    user_id, project_id = _demo(identity)
    caller = _member_caller(identity, user_id, project_id)
    rule = {"service": "compute", "method": "GET", "path": "/v2.1/servers"}
    identity.credentials.create_application_credential(caller, user_id, {"name": "c", "access_rules": [rule]})
    assert len(identity.credentials.list_access_rules(user_id)) == 1
    identity.api.delete_user(user_id)
    with db.reader() as session:
        assert session.scalars(select(AccessRule).where(AccessRule.user_id == user_id)).all() == []
