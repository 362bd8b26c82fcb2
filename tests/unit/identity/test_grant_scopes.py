"""Inherited grants (OS-INHERIT), system grants and system-scoped tokens, and implied roles, on a real
database through the identity service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overcast.config import Settings, load_settings
from overcast.db import Database
from overcast.errors import Conflict, Forbidden, NotFound, Unauthorized
from overcast.identity.assignments import AssignmentFilter
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


def role_id(identity: IdentityService, name: str) -> str:
    return str(identity.api.list_roles(name)[0]["id"])


def login(identity: IdentityService, name: str, password: str, scope: dict[str, Any]) -> dict[str, Any]:
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": name, "domain": {"id": "default"}, "password": password}},
        },
        "scope": scope,
    }
    token, body = identity.tokens.issue(auth)
    return {"id": token, **body["token"]}


def project_scope(name: str, domain_id: str = "default") -> dict[str, Any]:
    return {"project": {"name": name, "domain": {"id": domain_id}}}


@pytest.fixture
def tree(identity: IdentityService) -> dict[str, Any]:
    """A domain with a parent project, its child, another project beside them, and a user with no role."""
    domain = identity.api.create_domain({"name": "acme"})
    parent = identity.api.create_project({"name": "parent", "domain_id": domain["id"]})
    child = identity.api.create_project(
        {"name": "child", "domain_id": domain["id"], "parent_id": parent["id"]}
    )
    beside = identity.api.create_project({"name": "beside", "domain_id": domain["id"]})
    user = identity.api.create_user({"name": "carol", "domain_id": "default"}, "carol-pass")
    return {"domain": domain, "parent": parent, "child": child, "beside": beside, "user": user}


def test_bootstrap_makes_keystones_default_roles_and_their_chain(identity: IdentityService) -> None:
    names = {role["name"] for role in identity.api.list_roles()}
    assert {"admin", "manager", "member", "reader", "service"} <= names
    rules = {
        (rule["prior_role"]["name"], implied["name"])
        for rule in identity.implied_roles.list_all()
        for implied in rule["implies"]
    }
    assert {("admin", "manager"), ("manager", "member"), ("member", "reader")} <= rules
    admin = login(identity, "admin", identity_admin_password(identity), project_scope("admin"))
    assert [role["name"] for role in admin["roles"]] == ["admin", "manager", "member", "reader"]


def identity_admin_password(identity: IdentityService) -> str:
    text = (identity.core.settings.data_dir / "clouds.yaml").read_text()
    return text.split("overcast-admin:")[1].split("password: ")[1].split("\n")[0].strip('"')


def test_a_domain_grant_inherited_to_projects_holds_on_each_project_not_the_domain(
    identity: IdentityService, tree: dict[str, Any]
) -> None:
    user_id, domain_id = tree["user"]["id"], tree["domain"]["id"]
    inherited = GrantTarget("domain", domain_id, inherited=True)
    identity.api.grant(inherited, user_id, role_id(identity, "member"))

    identity.api.check_grant(inherited, user_id, role_id(identity, "member"))
    with pytest.raises(NotFound):
        identity.api.check_grant(GrantTarget("domain", domain_id), user_id, role_id(identity, "member"))
    for project in ("parent", "child", "beside"):
        token = login(identity, "carol", "carol-pass", project_scope(project, domain_id))
        assert [role["name"] for role in token["roles"]] == ["member", "reader"]
    with pytest.raises(Unauthorized):
        login(identity, "carol", "carol-pass", {"domain": {"id": domain_id}})
    assert {p["name"] for p in identity.api.list_user_projects(user_id)} == {"parent", "child", "beside"}


def test_a_project_grant_inherited_holds_below_it_only(
    identity: IdentityService, tree: dict[str, Any]
) -> None:
    user_id = tree["user"]["id"]
    identity.api.grant(
        GrantTarget("project", tree["parent"]["id"], True), user_id, role_id(identity, "reader")
    )
    domain_id = tree["domain"]["id"]
    assert [
        r["name"] for r in login(identity, "carol", "carol-pass", project_scope("child", domain_id))["roles"]
    ] == ["reader"]
    for elsewhere in ("parent", "beside"):
        with pytest.raises(Unauthorized):
            login(identity, "carol", "carol-pass", project_scope(elsewhere, domain_id))


def test_inherited_group_grants_reach_members(identity: IdentityService, tree: dict[str, Any]) -> None:
    group = identity.groups.create_group({"name": "ops", "domain_id": "default"})
    identity.groups.add_member(group["id"], tree["user"]["id"])
    identity.groups.grant(
        GrantTarget("domain", tree["domain"]["id"], True), group["id"], role_id(identity, "member")
    )
    token = login(identity, "carol", "carol-pass", project_scope("beside", tree["domain"]["id"]))
    assert "member" in [role["name"] for role in token["roles"]]


def test_revoking_an_inherited_grant_revokes_the_tokens_it_gave(
    identity: IdentityService, tree: dict[str, Any]
) -> None:
    user_id, target = tree["user"]["id"], GrantTarget("domain", tree["domain"]["id"], True)
    identity.api.grant(target, user_id, role_id(identity, "member"))
    token = login(identity, "carol", "carol-pass", project_scope("child", tree["domain"]["id"]))
    identity.api.revoke_grant(target, user_id, role_id(identity, "member"))
    with pytest.raises(Unauthorized):
        identity.tokens.verify(token["id"])
    with pytest.raises(Unauthorized):
        login(identity, "carol", "carol-pass", project_scope("child", tree["domain"]["id"]))


def test_role_assignments_mark_inherited_grants_and_expand_them_when_effective(
    identity: IdentityService, tree: dict[str, Any]
) -> None:
    user_id, domain_id = tree["user"]["id"], tree["domain"]["id"]
    identity.api.grant(GrantTarget("domain", domain_id, True), user_id, role_id(identity, "reader"))
    [listed] = identity.assignments.find(AssignmentFilter(user_id=user_id))
    assert listed["scope"] == {"domain": {"id": domain_id}, "OS-INHERIT:inherited_to": "projects"}
    assert listed["links"]["assignment"].startswith(f"/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/")
    assert identity.assignments.find(AssignmentFilter(user_id=user_id, inherited_only=True)) == [listed]

    effective = identity.assignments.find(AssignmentFilter(user_id=user_id, effective=True))
    assert {row["scope"]["project"]["id"] for row in effective} == {
        tree[name]["id"] for name in ("parent", "child", "beside")
    }
    on_child = identity.assignments.find(
        AssignmentFilter(user_id=user_id, project_id=tree["child"]["id"], effective=True)
    )
    assert [row["role"]["id"] for row in on_child] == [role_id(identity, "reader")]
    assert on_child[0]["links"]["assignment"] == listed["links"]["assignment"]


def test_system_grants_give_system_scoped_tokens(identity: IdentityService, tree: dict[str, Any]) -> None:
    user_id = tree["user"]["id"]
    with pytest.raises(Unauthorized):
        login(identity, "carol", "carol-pass", {"system": {"all": True}})
    identity.api.grant(GrantTarget.system(), user_id, role_id(identity, "reader"))
    identity.api.check_grant(GrantTarget.system(), user_id, role_id(identity, "reader"))
    assert [r["name"] for r in identity.api.list_grants(GrantTarget.system(), user_id)] == ["reader"]
    with pytest.raises(NotFound):
        identity.api.grant(GrantTarget("system", "some"), user_id, role_id(identity, "reader"))

    token = login(identity, "carol", "carol-pass", {"system": {"all": True}})
    assert token["system"] == {"all": True}
    assert "project" not in token and "domain" not in token
    assert [role["name"] for role in token["roles"]] == ["reader"]
    assert token["catalog"]
    context = identity.tokens.context(token["id"])
    assert context.project_id is None and context.roles == ("reader",) and not context.is_admin
    assert identity.tokens.verify(token["id"]).scope == "system"

    [row] = identity.assignments.find(AssignmentFilter(user_id=user_id, system=True))
    assert row["scope"] == {"system": {"all": True}}
    assert row["links"]["assignment"] == f"/system/users/{user_id}/roles/{role_id(identity, 'reader')}"

    identity.api.revoke_grant(GrantTarget.system(), user_id, role_id(identity, "reader"))
    with pytest.raises(Unauthorized):
        identity.tokens.verify(token["id"])


def test_the_bootstrapped_admin_is_the_systems_admin(identity: IdentityService) -> None:
    token = login(identity, "admin", identity_admin_password(identity), {"system": {"all": True}})
    assert identity.tokens.context(token["id"]).is_admin


def test_implied_roles_are_made_listed_and_carried_in_tokens(
    identity: IdentityService, tree: dict[str, Any]
) -> None:
    auditor = identity.api.create_role({"name": "auditor"})
    reader = role_id(identity, "reader")
    rule = identity.implied_roles.create(auditor["id"], reader)
    assert rule == {
        "prior_role": {"id": auditor["id"], "name": "auditor"},
        "implies": {"id": reader, "name": "reader"},
    }
    with pytest.raises(Conflict):
        identity.implied_roles.create(auditor["id"], reader)
    with pytest.raises(Forbidden):
        identity.implied_roles.create(auditor["id"], role_id(identity, "admin"))
    with pytest.raises(NotFound):
        identity.implied_roles.create(auditor["id"], "no-such-role")
    assert identity.implied_roles.list_implied(auditor["id"])["implies"] == [{"id": reader, "name": "reader"}]

    identity.api.grant(GrantTarget("project", tree["beside"]["id"]), tree["user"]["id"], auditor["id"])
    token = login(identity, "carol", "carol-pass", project_scope("beside", tree["domain"]["id"]))
    assert [role["name"] for role in token["roles"]] == ["auditor", "reader"]

    identity.implied_roles.delete(auditor["id"], reader)
    with pytest.raises(Unauthorized):
        identity.tokens.verify(token["id"])
    with pytest.raises(NotFound):
        identity.implied_roles.get(auditor["id"], reader)
    token = login(identity, "carol", "carol-pass", project_scope("beside", tree["domain"]["id"]))
    assert [role["name"] for role in token["roles"]] == ["auditor"]


def test_auth_domains_and_system_list_what_the_user_may_scope_to(
    identity: IdentityService, tree: dict[str, Any]
) -> None:
    user_id, domain_id = tree["user"]["id"], tree["domain"]["id"]
    assert identity.api.list_token_domains(user_id) == []
    assert not identity.api.has_system_roles(user_id)
    identity.api.grant(GrantTarget("domain", domain_id, inherited=True), user_id, role_id(identity, "reader"))
    assert identity.api.list_token_domains(user_id) == []  # inherited grants hold on projects only
    identity.api.grant(GrantTarget("domain", domain_id), user_id, role_id(identity, "reader"))
    identity.api.grant(GrantTarget.system(), user_id, role_id(identity, "reader"))
    assert [d["id"] for d in identity.api.list_token_domains(user_id)] == [domain_id]
    assert identity.api.has_system_roles(user_id)
