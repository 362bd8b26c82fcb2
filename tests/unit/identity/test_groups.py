"""Groups, group role assignments and regions on a real database, through the identity service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overcast.config import Settings, load_settings
from overcast.db import Database
from overcast.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
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


def scoped_auth(name: str, password: str, project: str) -> dict[str, Any]:
    return {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": name, "domain": {"id": "default"}, "password": password}},
        },
        "scope": {"project": {"name": project, "domain": {"id": "default"}}},
    }


def role_id(identity: IdentityService, name: str) -> str:
    return str(identity.api.list_roles(name)[0]["id"])


@pytest.fixture
def team(identity: IdentityService) -> dict[str, Any]:
    """A project, a user with no role of their own, and a group the user belongs to."""
    project = identity.api.create_project({"name": "team-project", "domain_id": "default"})
    user = identity.api.create_user({"name": "alice", "domain_id": "default"}, "alice-pass")
    group = identity.groups.create_group({"name": "team", "domain_id": "default", "description": "d"})
    identity.groups.add_member(group["id"], user["id"])
    return {"project": project, "user": user, "group": group}


def test_group_names_are_unique_per_domain(identity: IdentityService) -> None:
    identity.groups.create_group({"name": "ops", "domain_id": "default"})
    with pytest.raises(Conflict):
        identity.groups.create_group({"name": "ops", "domain_id": "default"})
    other = identity.api.create_domain({"name": "other"})
    elsewhere = identity.groups.create_group({"name": "ops", "domain_id": other["id"]})
    assert [g["id"] for g in identity.groups.list_groups(domain_id=other["id"])] == [elsewhere["id"]]
    assert len(identity.groups.list_groups(name="ops")) == 2
    with pytest.raises(NotFound):
        identity.groups.create_group({"name": "x", "domain_id": "no-such-domain"})


def test_membership_is_checked_listed_and_removed(identity: IdentityService, team: dict[str, Any]) -> None:
    group_id, user_id = team["group"]["id"], team["user"]["id"]
    identity.groups.check_member(group_id, user_id)
    assert [u["name"] for u in identity.groups.list_members(group_id)] == ["alice"]
    assert [g["name"] for g in identity.groups.list_user_groups(user_id)] == ["team"]
    identity.groups.remove_member(group_id, user_id)
    with pytest.raises(NotFound):
        identity.groups.check_member(group_id, user_id)
    with pytest.raises(NotFound):
        identity.groups.add_member(group_id, "no-such-user")


def test_a_group_role_reaches_the_members_token(identity: IdentityService, team: dict[str, Any]) -> None:
    auth = scoped_auth("alice", "alice-pass", "team-project")
    with pytest.raises(Unauthorized):
        identity.tokens.issue(auth)
    identity.groups.grant(
        GrantTarget("project", team["project"]["id"]), team["group"]["id"], role_id(identity, "member")
    )
    _, body = identity.tokens.issue(auth)
    assert sorted(role["name"] for role in body["token"]["roles"]) == ["member", "reader"]
    assert [p["name"] for p in identity.api.list_token_projects(team["user"]["id"])] == ["team-project"]


def test_role_assignments_show_groups_and_expand_them_when_effective(
    identity: IdentityService, team: dict[str, Any]
) -> None:
    project_id, group_id, user_id = team["project"]["id"], team["group"]["id"], team["user"]["id"]
    member = role_id(identity, "member")
    identity.groups.grant(GrantTarget("project", project_id), group_id, member)
    listed = identity.assignments.find(AssignmentFilter(project_id=project_id, include_names=True))
    assert [(a["group"]["name"], a["role"]["name"]) for a in listed] == [("team", "member")]
    assert "user" not in listed[0]
    effective = identity.assignments.find(AssignmentFilter(project_id=project_id, effective=True))
    assert sorted((a["user"]["id"], a["role"]["id"]) for a in effective) == sorted(
        [(user_id, member), (user_id, role_id(identity, "reader"))]
    )
    assert effective[0]["links"]["membership"] == f"/groups/{group_id}/users/{user_id}"
    assert identity.assignments.find(AssignmentFilter(group_id=group_id))[0]["role"]["id"] == member
    with pytest.raises(BadRequest):
        identity.assignments.find(AssignmentFilter(group_id=group_id, effective=True))


def test_deleting_a_group_removes_its_assignments_and_revokes(
    identity: IdentityService, team: dict[str, Any]
) -> None:
    auth = scoped_auth("alice", "alice-pass", "team-project")
    identity.groups.grant(
        GrantTarget("project", team["project"]["id"]), team["group"]["id"], role_id(identity, "member")
    )
    token, _ = identity.tokens.issue(auth)
    identity.groups.delete_group(team["group"]["id"])
    with pytest.raises(Unauthorized):
        identity.tokens.context(token)
    with pytest.raises(Unauthorized):
        identity.tokens.issue(auth)
    assert identity.assignments.find(AssignmentFilter(project_id=team["project"]["id"])) == []
    assert identity.groups.list_user_groups(team["user"]["id"]) == []


def test_deleting_a_user_removes_memberships(identity: IdentityService, team: dict[str, Any]) -> None:
    identity.api.delete_user(team["user"]["id"])
    assert identity.groups.list_members(team["group"]["id"]) == []


def test_bootstrap_region_exists_and_endpoints_name_it(identity: IdentityService, settings: Settings) -> None:
    assert [r["id"] for r in identity.regions.list_regions()] == [settings.region]
    assert {e["region_id"] for e in identity.catalog.list_endpoints()} == {settings.region}
    with pytest.raises(Forbidden):
        identity.regions.delete_region(settings.region)


def test_region_tree_refuses_unknown_parents_and_cycles(identity: IdentityService) -> None:
    top = identity.regions.create_region({"id": "top", "description": "the top"})
    assert top == {"id": "top", "description": "the top", "parent_region_id": None}
    middle = identity.regions.create_region({"parent_region_id": "top"})
    leaf = identity.regions.create_region({"id": "leaf", "parent_region_id": middle["id"]})
    with pytest.raises(Conflict):
        identity.regions.create_region({"id": "top"})
    with pytest.raises(NotFound):
        identity.regions.create_region({"id": "orphan", "parent_region_id": "nowhere"})
    with pytest.raises(BadRequest):
        identity.regions.update_region("top", {"parent_region_id": leaf["id"]})
    with pytest.raises(BadRequest):
        identity.regions.update_region("top", {"parent_region_id": "top"})
    assert [r["id"] for r in identity.regions.list_regions(parent_region_id="top")] == [middle["id"]]
    identity.regions.delete_region("top")
    for region_id in ("top", middle["id"], "leaf"):
        with pytest.raises(NotFound):
            identity.regions.get_region(region_id)
