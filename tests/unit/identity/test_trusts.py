"""Trusts (OS-TRUST) on a real database: made by their trustor with roles the trustor holds, redeemed by
their trustee for trust-scoped tokens (impersonating or not, counted uses), revoked with the trust."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from overcast.config import Settings, load_settings
from overcast.db import Database
from overcast.errors import BadRequest, Forbidden, NotFound, Unauthorized
from overcast.identity.bootstrap import bootstrap
from overcast.identity.grants import GrantTarget
from overcast.identity.passwords import PasswordHasher
from overcast.identity.service import IdentityService

HASHER = PasswordHasher(time_cost=1, memory_cost_kib=1024)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", listen="127.0.0.1:9999")


@pytest.fixture
def identity(settings: Settings, db: Database) -> IdentityService:
    bootstrap(settings, db, hasher=HASHER)
    return IdentityService(settings, db, hasher=HASHER)


@pytest.fixture
def parties(identity: IdentityService) -> dict[str, Any]:
    project = identity.api.create_project({"name": "trusted", "domain_id": "default"})
    trustor = identity.api.create_user({"name": "trustor", "domain_id": "default"}, "trustor-pass")
    trustee = identity.api.create_user({"name": "trustee", "domain_id": "default"}, "trustee-pass")
    member = identity.api.list_roles("member")[0]["id"]
    identity.api.grant(GrantTarget("project", project["id"]), trustor["id"], member)
    return {"project": project, "trustor": trustor, "trustee": trustee, "member": member}


def trust_login(
    identity: IdentityService, trust_id: str, password: str = "trustee-pass"
) -> tuple[str, dict[str, Any]]:
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": "trustee", "domain": {"id": "default"}, "password": password}},
        },
        "scope": {"OS-TRUST:trust": {"id": trust_id}},
    }
    token, body = identity.tokens.issue(auth)
    return token, body["token"]


def make_trust(identity: IdentityService, parties: dict[str, Any], **fields: Any) -> dict[str, Any]:
    spec = {
        "trustor_user_id": parties["trustor"]["id"],
        "trustee_user_id": parties["trustee"]["id"],
        "project_id": parties["project"]["id"],
        "impersonation": True,
        "roles": [{"name": "member"}],
        **fields,
    }
    return identity.trusts.create(parties["trustor"]["id"], spec)


def test_an_impersonating_trust_token_acts_as_the_trustor_with_the_delegated_roles(
    identity: IdentityService, parties: dict[str, Any]
) -> None:
    trust = make_trust(identity, parties)
    assert [role["name"] for role in trust["roles"]] == ["member"]
    token, body = trust_login(identity, trust["id"])
    assert body["user"]["id"] == parties["trustor"]["id"]
    assert body["project"]["id"] == parties["project"]["id"]
    assert [role["name"] for role in body["roles"]] == ["member", "reader"]
    assert body["OS-TRUST:trust"] == {
        "id": trust["id"],
        "impersonation": True,
        "trustee_user": {"id": parties["trustee"]["id"]},
        "trustor_user": {"id": parties["trustor"]["id"]},
    }
    context = identity.tokens.context(token)
    assert context.user_id == parties["trustor"]["id"] and context.project_id == parties["project"]["id"]

    identity.trusts.delete(trust["id"])
    with pytest.raises(Unauthorized):
        identity.tokens.verify(token)
    with pytest.raises(NotFound):
        trust_login(identity, trust["id"])


def test_without_impersonation_the_token_is_the_trustees(
    identity: IdentityService, parties: dict[str, Any]
) -> None:
    trust = make_trust(identity, parties, impersonation=False)
    _, body = trust_login(identity, trust["id"])
    assert body["user"]["id"] == parties["trustee"]["id"]


def test_remaining_uses_run_out(identity: IdentityService, parties: dict[str, Any]) -> None:
    trust = make_trust(identity, parties, remaining_uses=1)
    trust_login(identity, trust["id"])
    with pytest.raises(NotFound):
        trust_login(identity, trust["id"])
    assert identity.trusts.get(trust["id"])["remaining_uses"] == 0


def test_only_the_trustee_redeems_and_only_the_trustor_creates(
    identity: IdentityService, parties: dict[str, Any]
) -> None:
    trust = make_trust(identity, parties)
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": "trustor", "domain": {"id": "default"}, "password": "trustor-pass"}
            },
        },
        "scope": {"OS-TRUST:trust": {"id": trust["id"]}},
    }
    with pytest.raises(Forbidden):
        identity.tokens.issue(auth)
    with pytest.raises(Forbidden):
        identity.trusts.create(
            parties["trustee"]["id"], {"trustor_user_id": parties["trustor"]["id"], "impersonation": False}
        )


def test_a_trust_delegates_only_roles_the_trustor_holds(
    identity: IdentityService, parties: dict[str, Any]
) -> None:
    with pytest.raises(Forbidden):
        make_trust(identity, parties, roles=[{"name": "admin"}])
    with pytest.raises(NotFound):
        make_trust(identity, parties, roles=[{"name": "no-such-role"}])
    with pytest.raises(BadRequest):
        make_trust(identity, parties, roles=[])
    with pytest.raises(BadRequest):
        make_trust(identity, parties, expires_at=identity.core.clock() - timedelta(seconds=1))
    trust = make_trust(identity, parties)
    # The trustor losing the role takes it from the trust too.
    identity.api.revoke_grant(
        GrantTarget("project", parties["project"]["id"]), parties["trustor"]["id"], parties["member"]
    )
    with pytest.raises(Forbidden):
        trust_login(identity, trust["id"])


def test_trusts_are_listed_by_party(identity: IdentityService, parties: dict[str, Any]) -> None:
    trust = make_trust(identity, parties)
    assert [t["id"] for t in identity.trusts.list_trusts(parties["trustor"]["id"], None)] == [trust["id"]]
    assert [t["id"] for t in identity.trusts.list_trusts(None, parties["trustee"]["id"])] == [trust["id"]]
    assert identity.trusts.list_trusts(parties["trustee"]["id"], None) == []
    assert identity.trusts.role(trust["id"], parties["member"])["name"] == "member"


def test_deleting_a_party_or_the_project_deletes_the_trust(
    identity: IdentityService, parties: dict[str, Any]
) -> None:
    trust = make_trust(identity, parties)
    identity.api.delete_user(parties["trustee"]["id"])
    with pytest.raises(NotFound):
        identity.trusts.get(trust["id"])


def test_a_trust_token_makes_no_trust_or_application_credential(
    identity: IdentityService, parties: dict[str, Any]
) -> None:
    token, _ = trust_login(identity, make_trust(identity, parties)["id"])
    for what in ("trusts", "application credentials"):
        with pytest.raises(Forbidden):
            identity.tokens.refuse_trust_token(token, what)
    with pytest.raises(Forbidden):
        identity.tokens.issue(
            {
                "identity": {"methods": ["token"], "token": {"id": token}},
                "scope": {"project": {"id": parties["project"]["id"]}},
            }
        )
