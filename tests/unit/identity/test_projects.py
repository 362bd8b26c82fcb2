"""Projects as Keystone keeps them: tags, extra attributes, parents and subtree, and deleting a disabled
domain with everything in it; on a real database through the identity service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overcast.config import Settings, load_settings
from overcast.db import Database
from overcast.errors import BadRequest, Forbidden, NotFound, Unauthorized
from overcast.identity.bootstrap import bootstrap
from overcast.identity.grants import GrantTarget
from overcast.identity.passwords import PasswordHasher
from overcast.identity.project_tags import tags_match
from overcast.identity.service import IdentityService

HASHER = PasswordHasher(time_cost=1, memory_cost_kib=1024)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", listen="127.0.0.1:9999")


@pytest.fixture
def identity(settings: Settings, db: Database) -> IdentityService:
    bootstrap(settings, db, hasher=HASHER)
    return IdentityService(settings, db, hasher=HASHER)


def test_tags_are_kept_checked_and_changed_one_by_one(identity: IdentityService) -> None:
    project = identity.api.create_project({"name": "tagged", "domain_id": "default", "tags": ["a", "b", "a"]})
    assert project["tags"] == ["a", "b"]
    identity.project_tags.add(project["id"], "c")
    identity.project_tags.check(project["id"], "c")
    identity.project_tags.delete(project["id"], "a")
    assert identity.project_tags.list_tags(project["id"]) == ["b", "c"]
    with pytest.raises(NotFound):
        identity.project_tags.check(project["id"], "a")
    with pytest.raises(NotFound):
        identity.project_tags.delete(project["id"], "a")
    for bad in (["x/y"], ["x,y"], [""], ["t" * 256], [f"t{i}" for i in range(81)]):
        with pytest.raises(BadRequest):
            identity.project_tags.replace(project["id"], bad)
    assert identity.project_tags.replace(project["id"], ["z"]) == ["z"]
    identity.project_tags.delete_all(project["id"])
    assert identity.api.get_project(project["id"])["tags"] == []


def test_tag_filters_follow_keystones_meaning() -> None:
    assert tags_match(["a", "b"], ["a", "b"], None, None, None)
    assert not tags_match(["a"], ["a", "b"], None, None, None)
    assert tags_match(["a"], None, ["b", "a"], None, None)
    assert not tags_match(["a", "b"], None, None, ["a", "b"], None)
    assert tags_match(["a"], None, None, ["a", "b"], None)
    assert not tags_match(["a"], None, None, None, ["b", "a"])


def test_attributes_keystone_does_not_know_are_kept(identity: IdentityService) -> None:
    project = identity.api.create_project(
        {
            "name": "extra",
            "domain_id": "default",
            "cost_center": "42",
            "links": {"self": "x"},
            "id": "ignored",
        }
    )
    assert project["cost_center"] == "42" and project["id"] != "ignored" and "links" not in project
    updated = identity.api.update_project(project["id"], {"owner": "ops", "description": "d"})
    assert (updated["cost_center"], updated["owner"], updated["description"]) == ("42", "ops", "d")
    assert identity.api.get_project(project["id"])["owner"] == "ops"
    with pytest.raises(Forbidden):
        identity.api.update_project(project["id"], {"parent_id": "elsewhere"})


def test_parents_and_subtree_as_lists_and_ids(identity: IdentityService) -> None:
    top = identity.api.create_project({"name": "top", "domain_id": "default"})
    mid = identity.api.create_project({"name": "mid", "domain_id": "default", "parent_id": top["id"]})
    leaf = identity.api.create_project({"name": "leaf", "domain_id": "default", "parent_id": mid["id"]})
    around = identity.hierarchy.around(mid["id"], parents="list", subtree="list", viewer=None)
    assert [entry["project"]["id"] for entry in around["parents"]] == [top["id"]]
    assert [entry["project"]["id"] for entry in around["subtree"]] == [leaf["id"]]
    ids = identity.hierarchy.around(leaf["id"], parents="ids", subtree="ids", viewer=None)
    assert ids == {"parents": {mid["id"]: {top["id"]: None}}, "subtree": None}
    assert identity.hierarchy.around(top["id"], parents=None, subtree="ids", viewer=None) == {
        "subtree": {mid["id"]: {leaf["id"]: None}}
    }
    user = identity.api.create_user({"name": "leafy", "domain_id": "default"}, "leafy-pass")
    identity.api.grant(
        GrantTarget("project", leaf["id"]), user["id"], identity.api.list_roles("reader")[0]["id"]
    )
    assert identity.hierarchy.around(top["id"], parents=None, subtree="list", viewer=user["id"]) == {
        "subtree": [{"project": identity.api.get_project(leaf["id"])}]
    }
    other = identity.api.create_domain({"name": "elsewhere"})
    with pytest.raises(BadRequest):
        identity.api.create_project({"name": "stray", "domain_id": other["id"], "parent_id": top["id"]})


def test_a_disabled_domain_is_deleted_with_its_contents(identity: IdentityService) -> None:
    domain = identity.api.create_domain({"name": "doomed"})
    parent = identity.api.create_project({"name": "p", "domain_id": domain["id"]})
    child = identity.api.create_project({"name": "c", "domain_id": domain["id"], "parent_id": parent["id"]})
    user = identity.api.create_user({"name": "u", "domain_id": domain["id"]}, "u-pass-word")
    group = identity.groups.create_group({"name": "g", "domain_id": domain["id"]})
    identity.groups.add_member(group["id"], user["id"])
    member = identity.api.list_roles("member")[0]["id"]
    identity.api.grant(GrantTarget("project", child["id"]), user["id"], member)
    identity.groups.grant(GrantTarget("domain", domain["id"], True), group["id"], member)
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": "u", "domain": {"id": domain["id"]}, "password": "u-pass-word"}},
        },
        "scope": {"project": {"id": child["id"]}},
    }
    token, _ = identity.tokens.issue(auth)

    with pytest.raises(Forbidden):
        identity.api.delete_domain(domain["id"])
    identity.api.update_domain(domain["id"], {"enabled": False})
    identity.api.delete_domain(domain["id"])
    for lookup, entity_id in (
        (identity.api.get_domain, domain["id"]),
        (identity.api.get_project, parent["id"]),
        (identity.api.get_project, child["id"]),
        (identity.api.get_user, user["id"]),
        (identity.groups.get_group, group["id"]),
    ):
        with pytest.raises(NotFound):
            lookup(entity_id)
    with pytest.raises(Unauthorized):
        identity.tokens.verify(token)
    assert identity.assignments.find(identity_filter(user_id=user["id"])) == []


def identity_filter(**fields: Any) -> Any:
    from overcast.identity.assignments import AssignmentFilter

    return AssignmentFilter(**fields)
