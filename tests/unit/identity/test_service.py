"""The identity service on a real database: login, scoping, expiry, revocation, credentials, bootstrap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from overcast.config import Settings, load_settings
from overcast.db import Database
from overcast.errors import BadRequest, NotFound, Unauthorized
from overcast.identity.bootstrap import BootstrapResult, bootstrap
from overcast.identity.grants import GrantTarget
from overcast.identity.passwords import LoginThrottled, PasswordHasher
from overcast.identity.service import IdentityService
from overcast.identity.settings import IdentitySettings
from tests.support.clock import FakeClock

HASHER = PasswordHasher(time_cost=1, memory_cost_kib=1024)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", listen="127.0.0.1:9999")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2030, 1, 1, tzinfo=UTC))


@pytest.fixture
def boot(settings: Settings, db: Database) -> BootstrapResult:
    return bootstrap(settings, db, hasher=HASHER)


@pytest.fixture
def identity(settings: Settings, db: Database, boot: BootstrapResult, clock: FakeClock) -> IdentityService:
    config = IdentitySettings(max_failed_logins=3, token_ttl_seconds=600)
    return IdentityService(settings, db, config, clock=clock, hasher=HASHER)


def password_auth(name: str, password: str, project: str | None = None) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": name, "domain": {"name": "Default"}, "password": password}},
        }
    }
    if project is not None:
        auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    return auth


def login(identity: IdentityService, name: str, password: str, project: str | None = None) -> str:
    return identity.tokens.issue(password_auth(name, password, project))[0]


def make_user(identity: IdentityService, name: str, project: str, role: str = "member") -> dict[str, Any]:
    project_entity = identity.api.create_project({"name": project, "domain_id": "default"})
    user = identity.api.create_user({"name": name, "domain_id": "default"}, "pw-" + name)
    role_id = identity.api.list_roles(role)[0]["id"]
    identity.api.grant(GrantTarget("project", project_entity["id"]), user["id"], role_id)
    return {"user": user, "project": project_entity, "role_id": role_id}


def test_login_gives_a_scoped_token_with_implied_roles(
    identity: IdentityService, boot: BootstrapResult
) -> None:
    token, body = identity.tokens.issue(password_auth("admin", boot.admin_password or "", "admin"))
    rendered = body["token"]
    assert rendered["project"]["name"] == "admin"
    assert [role["name"] for role in rendered["roles"]] == ["admin", "manager", "member", "reader"]
    assert {entry["type"] for entry in rendered["catalog"]} == {
        "identity", "compute", "image", "network", "block-storage", "volumev3", "ec2", "billing", "portal",
        "rating",
    }  # fmt: skip
    volume = next(entry for entry in rendered["catalog"] if entry["type"] == "block-storage")
    assert volume["endpoints"][0]["url"].endswith(f"/volume/v3/{rendered['project']['id']}")
    context = identity.tokens.context(token, "req-1")
    assert (context.is_admin, context.project_name, context.request_id) == (True, "admin", "req-1")


def test_wrong_password_and_unknown_user_fail_the_same_way(
    identity: IdentityService, boot: BootstrapResult
) -> None:
    with pytest.raises(Unauthorized) as wrong:
        login(identity, "admin", "not-the-password", "admin")
    with pytest.raises(Unauthorized) as unknown:
        login(identity, "nobody", "not-the-password", "admin")
    assert wrong.value.message == unknown.value.message
    assert "admin" not in wrong.value.message


def test_repeated_failures_lock_the_name_even_for_the_right_password(
    identity: IdentityService, boot: BootstrapResult
) -> None:
    for _ in range(3):
        with pytest.raises(Unauthorized):
            login(identity, "demo", "guess")
    with pytest.raises(LoginThrottled):
        login(identity, "demo", boot.demo_password or "")
    with pytest.raises(LoginThrottled):  # unknown names lock the same way
        for _ in range(4):
            with pytest.raises(Unauthorized):
                login(identity, "ghost", "guess")
    login(identity, "admin", boot.admin_password or "")


def test_unscoped_login_uses_the_default_project(identity: IdentityService, boot: BootstrapResult) -> None:
    token = login(identity, "demo", boot.demo_password or "")
    assert identity.tokens.context(token).project_name == "demo"


def test_scoping_to_a_project_without_a_role_fails(identity: IdentityService, boot: BootstrapResult) -> None:
    with pytest.raises(Unauthorized, match="no access"):
        login(identity, "demo", boot.demo_password or "", "admin")


def test_expired_token_is_refused(identity: IdentityService, boot: BootstrapResult, clock: FakeClock) -> None:
    token = login(identity, "demo", boot.demo_password or "", "demo")
    clock.now += timedelta(seconds=599)
    identity.tokens.context(token)
    clock.now += timedelta(seconds=1)
    with pytest.raises(Unauthorized, match="expired"):
        identity.tokens.context(token)


def test_revoked_token_is_refused_and_others_survive(
    identity: IdentityService, boot: BootstrapResult
) -> None:
    first = login(identity, "demo", boot.demo_password or "", "demo")
    second = login(identity, "demo", boot.demo_password or "", "demo")
    identity.tokens.revoke(first)
    with pytest.raises(Unauthorized, match="revoked"):
        identity.tokens.context(first)
    identity.tokens.context(second)
    with pytest.raises(NotFound):
        identity.tokens.validate_subject(first)


def test_rescoped_token_dies_with_its_parent(identity: IdentityService, boot: BootstrapResult) -> None:
    parent = login(identity, "admin", boot.admin_password or "", "admin")
    demo = identity.api.list_projects(name="demo")[0]
    admin = identity.api.list_users(name="admin")[0]
    identity.api.grant(
        GrantTarget("project", demo["id"]), admin["id"], identity.api.list_roles("reader")[0]["id"]
    )
    child, body = identity.tokens.issue(
        {
            "identity": {"methods": ["token"], "token": {"id": parent}},
            "scope": {"project": {"id": demo["id"]}},
        }
    )
    assert body["token"]["methods"] == ["token", "password"]
    assert identity.tokens.context(child).roles == ("reader",)
    identity.tokens.revoke(parent)
    with pytest.raises(Unauthorized):
        identity.tokens.context(child)


def test_tokens_of_a_deleted_user_die(identity: IdentityService) -> None:
    made = make_user(identity, "carol", "carols")
    token = login(identity, "carol", "pw-carol", "carols")
    identity.api.delete_user(made["user"]["id"])
    with pytest.raises(Unauthorized):
        identity.tokens.context(token)
    assert identity.assignments.find(identity_filter(user_id=made["user"]["id"])) == []


def test_tokens_die_when_the_project_goes_or_the_role_is_removed(
    identity: IdentityService, clock: FakeClock
) -> None:
    made = make_user(identity, "dave", "daves")
    token = login(identity, "dave", "pw-dave", "daves")
    identity.api.revoke_grant(
        GrantTarget("project", made["project"]["id"]), made["user"]["id"], made["role_id"]
    )
    with pytest.raises(Unauthorized):
        identity.tokens.context(token)
    identity.api.grant(GrantTarget("project", made["project"]["id"]), made["user"]["id"], made["role_id"])
    clock.now += timedelta(seconds=1)
    token = login(identity, "dave", "pw-dave", "daves")
    assert identity.tokens.context(token).project_name == "daves"
    identity.api.delete_project(made["project"]["id"])
    with pytest.raises(Unauthorized):
        identity.tokens.context(token)


def test_password_change_needs_the_old_one_and_revokes_tokens(
    identity: IdentityService, clock: FakeClock
) -> None:
    made = make_user(identity, "erin", "erins")
    token = login(identity, "erin", "pw-erin")
    with pytest.raises(Unauthorized):
        identity.api.change_password(made["user"]["id"], "wrong", "new-secret")
    identity.api.change_password(made["user"]["id"], "pw-erin", "new-secret")
    with pytest.raises(Unauthorized):
        identity.tokens.context(token)
    with pytest.raises(Unauthorized):
        login(identity, "erin", "pw-erin")
    clock.now += timedelta(seconds=1)
    identity.tokens.context(login(identity, "erin", "new-secret"))


def test_application_credential_logs_in_with_its_roles(identity: IdentityService) -> None:
    make_user(identity, "fay", "fays")
    context = identity.tokens.context(login(identity, "fay", "pw-fay", "fays"))
    assert context.user_id is not None
    caller = identity.tokens.verify(login(identity, "fay", "pw-fay", "fays"))
    created = identity.credentials.create_application_credential(
        caller, context.user_id, {"name": "ci", "roles": [{"name": "reader"}]}
    )
    token, body = identity.tokens.issue(
        {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": created["id"], "secret": created["secret"]},
            }
        }
    )
    assert identity.tokens.context(token).roles == ("reader",)
    assert body["token"]["application_credential"]["id"] == created["id"]
    with pytest.raises(Unauthorized):
        identity.tokens.issue(
            {
                "identity": {
                    "methods": ["application_credential"],
                    "application_credential": {"id": created["id"], "secret": "wrong"},
                }
            }
        )
    with pytest.raises(BadRequest):
        identity.credentials.create_application_credential(
            caller, context.user_id, {"name": "greedy", "roles": [{"name": "admin"}]}
        )


def test_ec2_credentials_map_to_a_context(identity: IdentityService) -> None:
    made = make_user(identity, "gus", "guses")
    caller = identity.tokens.verify(login(identity, "gus", "pw-gus", "guses"))
    credential = identity.credentials.create_ec2_credential(caller, made["user"]["id"], made["project"]["id"])
    secret, context = identity.credentials.ec2_context(credential["access"])
    assert secret == credential["secret"]
    assert (context.user_id, context.project_id, context.roles) == (
        made["user"]["id"],
        made["project"]["id"],
        ("member", "reader"),
    )
    with pytest.raises(Unauthorized):
        identity.credentials.ec2_context("unknown-access")


def test_bootstrap_is_idempotent_and_follows_the_base_url(
    settings: Settings, db: Database, boot: BootstrapResult, tmp_path: Path
) -> None:
    assert boot.created and boot.admin_password and boot.demo_password
    assert boot.admin_password != boot.demo_password
    text = boot.clouds_yaml.read_text()
    assert "overcast-admin:" in text and "overcast-demo:" in text and boot.admin_password in text
    assert (boot.clouds_yaml.stat().st_mode & 0o777) == 0o600
    again = bootstrap(settings, db, hasher=HASHER)
    assert (again.created, again.catalog_changed, again.admin_password) == (False, False, None)
    assert boot.clouds_yaml.read_text() == text
    moved = load_settings(data_dir=settings.data_dir, public_url="https://cloud.example.test")
    assert bootstrap(moved, db, hasher=HASHER).catalog_changed
    service = IdentityService(moved, db, hasher=HASHER)
    urls = [e["url"] for e in service.catalog.list_endpoints()]
    assert urls and all(url.startswith("https://cloud.example.test/") for url in urls)


def identity_filter(**fields: Any) -> Any:
    from overcast.identity.assignments import AssignmentFilter

    return AssignmentFilter(**fields)
