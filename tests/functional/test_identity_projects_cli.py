"""Projects through the real `openstack` CLI and openstacksdk: tags and tag filters, properties kept,
parents and children shown, and a disabled domain deleted with its contents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.identity_cloud import IdentityCloud, openstack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityCloud]:
    running = IdentityCloud(tmp_path_factory.mktemp("identity-projects"))
    running.start()
    yield running
    running.stop()


def names(rows: list[dict[str, str]]) -> set[str]:
    return {row["Name"] for row in rows}


def test_tags_properties_and_filters(cloud: IdentityCloud) -> None:
    made = openstack(
        cloud, "project", "create", "--tag", "prod", "--tag", "eu", "--property", "cost_center=42", "tagged-a"
    )
    assert sorted(made["tags"]) == ["eu", "prod"] and made["cost_center"] == "42"
    openstack(cloud, "project", "create", "--tag", "dev", "tagged-b")
    assert names(openstack(cloud, "project", "list", "--tags", "prod,eu")) == {"tagged-a"}
    assert names(openstack(cloud, "project", "list", "--tags-any", "prod,dev")) == {"tagged-a", "tagged-b"}
    assert "tagged-a" not in names(openstack(cloud, "project", "list", "--not-tags-any", "eu"))

    openstack(cloud, "project", "set", "--tag", "audited", "tagged-b", formatted=False)
    assert sorted(openstack(cloud, "project", "show", "tagged-b")["tags"]) == ["audited", "dev"]
    openstack(cloud, "project", "set", "--remove-tag", "dev", "tagged-b", formatted=False)
    assert openstack(cloud, "project", "show", "tagged-b")["tags"] == ["audited"]
    openstack(cloud, "project", "set", "--clear-tags", "--property", "owner=ops", "tagged-a", formatted=False)
    shown = openstack(cloud, "project", "show", "tagged-a")
    assert (shown["tags"], shown["cost_center"], shown["owner"]) == ([], "42", "ops")


def test_parents_and_children(cloud: IdentityCloud) -> None:
    top = openstack(cloud, "project", "create", "tree-top")
    mid = openstack(cloud, "project", "create", "--parent", "tree-top", "tree-mid")
    leaf = openstack(cloud, "project", "create", "--parent", "tree-mid", "tree-leaf")
    # The CLI asks for parents_as_ids and subtree_as_ids: nested ids.
    shown = openstack(cloud, "project", "show", "--parents", "--children", "tree-mid")
    assert (shown["parents"], shown["subtree"]) == ({top["id"]: None}, {leaf["id"]: None})
    shown = openstack(cloud, "project", "show", "--parents", "tree-leaf")
    assert shown["parents"] == {mid["id"]: {top["id"]: None}}
    assert names(openstack(cloud, "project", "list", "--parent", mid["id"])) == {"tree-leaf"}


def test_a_disabled_domain_goes_with_its_projects_and_users(cloud: IdentityCloud) -> None:
    openstack(cloud, "domain", "create", "short-lived")
    openstack(cloud, "project", "create", "--domain", "short-lived", "doomed-project")
    openstack(cloud, "user", "create", "--domain", "short-lived", "--password", "doomed-pass", "doomed-user")
    openstack(cloud, "group", "create", "--domain", "short-lived", "doomed-group")
    openstack(cloud, "domain", "set", "--disable", "short-lived", formatted=False)
    openstack(cloud, "domain", "delete", "short-lived", formatted=False)
    assert "short-lived" not in names(openstack(cloud, "domain", "list"))
    assert "doomed-project" not in names(openstack(cloud, "project", "list"))
    assert "doomed-user" not in names(openstack(cloud, "user", "list"))
    assert "doomed-group" not in names(openstack(cloud, "group", "list"))
