"""Inherited and system grants, system-scoped tokens and implied roles through the real `openstack` CLI
and openstacksdk against an Overcast identity API."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from tests.support.identity_cloud import OPENSTACK, IdentityCloud, openstack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityCloud]:
    running = IdentityCloud(tmp_path_factory.mktemp("identity-grant-scopes"))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(cloud: IdentityCloud, monkeypatch_module: pytest.MonkeyPatch) -> Connection:
    import openstack as sdk

    monkeypatch_module.setenv("OS_CLIENT_CONFIG_FILE", str(cloud.bootstrap.clouds_yaml))
    return sdk.connect(cloud="overcast-admin")


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def login_with_cli(cloud: IdentityCloud, user: str, password: str, *scope: str) -> dict[str, Any]:
    """`openstack token issue` as `user`, with the scope options given (e.g. --os-system-scope all)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update(
        HOME=str(cloud.settings.data_dir),
        OS_AUTH_URL=f"{cloud.base_url}/identity",
        OS_USERNAME=user,
        OS_PASSWORD=password,
        OS_USER_DOMAIN_NAME="Default",
        OS_IDENTITY_API_VERSION="3",
    )
    result = subprocess.run(
        [str(OPENSTACK), *scope, "token", "issue", "-f", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_role_add_inherited_gives_the_role_on_every_project_of_the_domain(cloud: IdentityCloud) -> None:
    openstack(cloud, "domain", "create", "inherit-domain")
    openstack(cloud, "project", "create", "--domain", "inherit-domain", "inherit-a")
    openstack(cloud, "project", "create", "--domain", "inherit-domain", "--parent", "inherit-a", "inherit-b")
    openstack(cloud, "user", "create", "--password", "heir-pass", "heir")
    openstack(
        cloud,
        "role",
        "add",
        "--domain",
        "inherit-domain",
        "--user",
        "heir",
        "--inherited",
        "member",
        formatted=False,
    )

    listed = openstack(cloud, "role", "assignment", "list", "--user", "heir", "--names")
    assert [(row["Role"], row["Domain"], row["Inherited"]) for row in listed] == [
        ("member", "inherit-domain", True)
    ]
    effective = openstack(cloud, "role", "assignment", "list", "--user", "heir", "--effective", "--names")
    assert sorted((row["Role"], row["Project"]) for row in effective) == [
        ("member", "inherit-a@inherit-domain"),
        ("member", "inherit-b@inherit-domain"),
        ("reader", "inherit-a@inherit-domain"),
        ("reader", "inherit-b@inherit-domain"),
    ]
    token = login_with_cli(
        cloud,
        "heir",
        "heir-pass",
        "--os-project-name",
        "inherit-b",
        "--os-project-domain-name",
        "inherit-domain",
    )
    assert token["project_id"]

    openstack(
        cloud,
        "role",
        "remove",
        "--domain",
        "inherit-domain",
        "--user",
        "heir",
        "--inherited",
        "member",
        formatted=False,
    )
    assert openstack(cloud, "role", "assignment", "list", "--user", "heir") == []


def test_system_role_gives_a_system_scoped_token(cloud: IdentityCloud) -> None:
    openstack(cloud, "user", "create", "--password", "auditor-pass", "system-auditor")
    openstack(cloud, "role", "add", "--system", "all", "--user", "system-auditor", "reader", formatted=False)
    listed = openstack(cloud, "role", "assignment", "list", "--system", "all", "--names")
    assert ("reader", "system-auditor@Default", "all") in {
        (row["Role"], row["User"], row["System"]) for row in listed
    }

    token = login_with_cli(cloud, "system-auditor", "auditor-pass", "--os-system-scope", "all")
    assert token["id"].startswith("oc1.") and "project_id" not in token

    openstack(
        cloud, "role", "remove", "--system", "all", "--user", "system-auditor", "reader", formatted=False
    )
    listed = openstack(cloud, "role", "assignment", "list", "--system", "all", "--names")
    assert "system-auditor@Default" not in {row["User"] for row in listed}


def test_implied_roles_through_the_cli(cloud: IdentityCloud) -> None:
    observer = openstack(cloud, "role", "create", "observer")
    reader = openstack(cloud, "role", "show", "reader")
    created = openstack(cloud, "implied", "role", "create", "observer", "--implied-role", "reader")
    assert (created["prior_role"], created["implies"]) == (observer["id"], reader["id"])
    rules = openstack(cloud, "implied", "role", "list")
    pairs = {(rule["Prior Role Name"], rule["Implied Role Name"]) for rule in rules}
    assert {
        ("admin", "manager"),
        ("manager", "member"),
        ("member", "reader"),
        ("observer", "reader"),
    } <= pairs
    openstack(cloud, "implied", "role", "delete", "observer", "--implied-role", "reader", formatted=False)
    rules = openstack(cloud, "implied", "role", "list")
    assert "observer" not in {rule["Prior Role Name"] for rule in rules}


def test_openstacksdk_grants_on_the_system_and_inherited(cloud: IdentityCloud, admin: Connection) -> None:
    identity = admin.identity
    user = identity.create_user(name="sdk-heir", password="sdk-heir-pass", domain_id="default")
    project = identity.create_project(name="sdk-parent", domain_id="default")
    reader = identity.find_role("reader")
    identity.assign_project_role_to_user(project, user, reader, inherited=True)
    assert identity.validate_user_has_project_role(project, user, reader, inherited=True)
    assert not identity.validate_user_has_project_role(project, user, reader)
    system = "all"
    identity.assign_system_role_to_user(user, reader, system)
    assert identity.validate_user_has_system_role(user, reader, system)
    identity.unassign_system_role_from_user(user, reader, system)
    assert not identity.validate_user_has_system_role(user, reader, system)


def test_a_domain_manager_runs_their_domain_with_the_cli(cloud: IdentityCloud) -> None:
    domain = openstack(cloud, "domain", "create", "managed")["id"]
    openstack(cloud, "user", "create", "--domain", "managed", "--password", "boss-pass", "boss")
    openstack(cloud, "role", "add", "--domain", "managed", "--user", "boss", "--user-domain", "managed",
              "manager", formatted=False)  # fmt: skip

    def as_boss(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
        env.update(
            HOME=str(cloud.settings.data_dir),
            OS_AUTH_URL=f"{cloud.base_url}/identity",
            OS_USERNAME="boss",
            OS_PASSWORD="boss-pass",
            OS_USER_DOMAIN_NAME="managed",
            OS_DOMAIN_NAME="managed",
            OS_IDENTITY_API_VERSION="3",
        )
        result = subprocess.run([str(OPENSTACK), *args], env=env, capture_output=True, text=True, timeout=120)
        assert (result.returncode == 0) == ok, result.stderr
        return result

    # A domain's user cannot look its domain up by name (listing domains is the admins'): ids, as in Keystone.
    as_boss("project", "create", "--domain", domain, "team")
    created = as_boss(
        "user", "create", "--domain", domain, "--password", "worker-pass", "-f", "json", "worker"
    )
    worker = json.loads(created.stdout)["id"]
    team = as_boss("project", "show", "--domain", domain, "team", "-f", "value", "-c", "id").stdout.strip()
    as_boss("role", "add", "--project", team, "--user", worker, "member")
    listed = as_boss("project", "list", "-f", "value", "-c", "Name").stdout.split()
    assert listed == ["team"]
    # The CLI reports a refused grant only as a warning (its exit status is 0 whatever the answer): the
    # assignments below show it was refused.
    as_boss("role", "add", "--project", team, "--user", worker, "admin")
    as_boss("project", "create", "--domain", "default", "not-mine", ok=False)
    effective = openstack(cloud, "role", "assignment", "list", "--user", worker, "--effective", "--names")
    assert {row["Role"] for row in effective} == {"member", "reader"}
