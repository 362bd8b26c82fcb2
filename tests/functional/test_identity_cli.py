"""The real `openstack` CLI and openstacksdk against an Overcast API serving identity over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.support.identity_cloud import OPENSTACK, IdentityCloud, openstack


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityCloud]:
    running = IdentityCloud(tmp_path_factory.mktemp("identity-cli"))
    running.start()
    yield running
    running.stop()


@pytest.mark.slow
def test_openstack_cli_manages_identity(cloud: IdentityCloud) -> None:
    token = openstack(cloud, "token", "issue")
    assert token["id"].startswith("oc1.")
    assert token["user_id"] and token["project_id"]

    project = openstack(cloud, "project", "create", "--description", "built by the CLI", "cli-project")
    assert project["name"] == "cli-project"
    assert project["description"] == "built by the CLI"

    user = openstack(
        cloud, "user", "create", "--password", "s3cret-pass", "--project", "cli-project", "cli-user"
    )
    assert user["name"] == "cli-user"
    assert user["default_project_id"] == project["id"]

    assert (
        openstack(
            cloud, "role", "add", "--project", "cli-project", "--user", "cli-user", "member", formatted=False
        )
        is None
    )

    assignments = openstack(cloud, "role", "assignment", "list", "--project", "cli-project", "--names")
    assert [(a["Role"], a["User"], a["Project"]) for a in assignments] == [
        ("member", "cli-user@Default", "cli-project@Default")
    ]

    catalog = openstack(cloud, "catalog", "list")
    types = {entry["Type"] for entry in catalog}
    assert types == {
        "identity", "compute", "image", "network", "block-storage", "volumev3", "ec2", "billing", "portal",
        "rating",
    }  # fmt: skip
    compute = next(entry for entry in catalog if entry["Type"] == "compute")
    assert f"{cloud.base_url}/compute/v2.1" in str(compute["Endpoints"])


@pytest.mark.slow
def test_new_user_logs_in_with_the_cli_and_sees_its_project(cloud: IdentityCloud) -> None:
    openstack(cloud, "project", "create", "login-project")
    openstack(cloud, "user", "create", "--password", "login-pass", "login-user")
    openstack(
        cloud, "role", "add", "--project", "login-project", "--user", "login-user", "reader", formatted=False
    )
    env_cloud = cloud.settings.data_dir / "login.yaml"
    admin = cloud.bootstrap.clouds_yaml.read_text()
    entry = admin.split("  overcast-demo:")[1]
    entry = entry.replace('"demo"', '"login-user"', 1).replace('"demo"', '"login-project"', 1)
    entry = entry.replace(json.dumps(cloud.bootstrap.demo_password), '"login-pass"')
    env_cloud.write_text("clouds:\n  login:" + entry)
    result = subprocess.run(
        [str(OPENSTACK), "--os-cloud", "login", "token", "issue", "-f", "json"],
        env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(env_cloud), "HOME": str(cloud.settings.data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    issued = json.loads(result.stdout)
    projects = [p["id"] for p in cloud.identity.api.list_projects(name="login-project")]
    assert issued["project_id"] == projects[0]


def test_openstacksdk_connects_and_lists(cloud: IdentityCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    import openstack as sdk

    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(cloud.bootstrap.clouds_yaml))
    connection = sdk.connect(cloud="overcast-demo")
    token = connection.session.get_token()
    assert token.startswith("oc1.")
    catalog = connection.session.auth.get_access(connection.session).service_catalog
    url = catalog.url_for(service_type="compute", interface="public")
    assert url == f"{cloud.base_url}/compute/v2.1"
    # The demo user is a member, not an admin: listing every user is refused.
    with pytest.raises(sdk.exceptions.ForbiddenException):
        list(connection.identity.users())
    assert [p.name for p in connection.identity.user_projects(connection.current_user_id)] == ["demo"]
