"""Groups and regions through the real `openstack` CLI and plain HTTP against an Overcast identity API."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.identity_cloud import OPENSTACK, IdentityCloud, openstack


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityCloud]:
    running = IdentityCloud(tmp_path_factory.mktemp("identity-groups"))
    running.start()
    yield running
    running.stop()


def user_cloud_file(cloud: IdentityCloud, user: str, password: str, project: str) -> Path:
    """A clouds.yaml for `user` scoped to `project`, built from the demo entry bootstrap wrote."""
    entry = cloud.bootstrap.clouds_yaml.read_text().split("  overcast-demo:")[1]
    entry = entry.replace('"demo"', json.dumps(user), 1).replace('"demo"', json.dumps(project), 1)
    entry = entry.replace(json.dumps(cloud.bootstrap.demo_password), json.dumps(password))
    path = cloud.settings.data_dir / f"{user}.yaml"
    path.write_text("clouds:\n  mine:" + entry)
    return path


def token_issue(cloud_file: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(OPENSTACK), "--os-cloud", "mine", "token", "issue", "-f", "json"],
        env={**os.environ, "OS_CLIENT_CONFIG_FILE": str(cloud_file), "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def admin_headers(cloud: IdentityCloud, http: httpx.Client) -> dict[str, str]:
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {
                    "name": "admin",
                    "domain": {"id": "default"},
                    "password": cloud.bootstrap.admin_password,
                }
            },
        },
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
    }
    response = http.post("/auth/tokens", json={"auth": auth})
    assert response.status_code == 201, response.text
    return {"X-Auth-Token": response.headers["X-Subject-Token"]}


@pytest.mark.slow
def test_a_group_role_lets_its_member_scope_to_the_project(cloud: IdentityCloud) -> None:
    openstack(cloud, "project", "create", "group-project")
    user = openstack(cloud, "user", "create", "--password", "group-pass", "group-user")
    group = openstack(cloud, "group", "create", "--description", "made by the CLI", "cli-group")
    assert (group["name"], group["description"], group["domain_id"]) == (
        "cli-group",
        "made by the CLI",
        "default",
    )

    openstack(cloud, "group", "add", "user", "cli-group", "group-user", formatted=False)
    contains = subprocess.run(
        [str(OPENSTACK), "group", "contains", "user", "cli-group", "group-user"],
        env={
            **os.environ,
            "OS_CLIENT_CONFIG_FILE": str(cloud.bootstrap.clouds_yaml),
            "OS_CLOUD": "overcast-admin",
            "HOME": str(cloud.settings.data_dir),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert contains.returncode == 0, contains.stderr
    assert "group-user in group cli-group" in contains.stdout

    cloud_file = user_cloud_file(cloud, "group-user", "group-pass", "group-project")
    refused = token_issue(cloud_file, cloud.settings.data_dir)
    assert refused.returncode != 0

    openstack(
        cloud, "role", "add", "--group", "cli-group", "--project", "group-project", "member", formatted=False
    )
    issued = token_issue(cloud_file, cloud.settings.data_dir)
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)
    assert token["user_id"] == user["id"]

    assignments = openstack(cloud, "role", "assignment", "list", "--group", "cli-group", "--names")
    assert [(a["Role"], a["Group"], a["Project"]) for a in assignments] == [
        ("member", "cli-group@Default", "group-project@Default")
    ]
    effective = openstack(
        cloud, "role", "assignment", "list", "--user", "group-user", "--effective", "--names"
    )
    assert sorted((a["Role"], a["Project"]) for a in effective) == [
        ("member", "group-project@Default"),
        ("reader", "group-project@Default"),
    ]


@pytest.mark.slow
def test_openstack_cli_manages_regions(cloud: IdentityCloud) -> None:
    listed = openstack(cloud, "region", "list")
    assert [r["Region"] for r in listed] == [cloud.settings.region]

    created = openstack(cloud, "region", "create", "--description", "west", "RegionTwo")
    assert (created["region"], created["description"]) == ("RegionTwo", "west")
    child = openstack(cloud, "region", "create", "--parent-region", "RegionTwo", "RegionTwoA")
    assert child["parent_region"] == "RegionTwo"
    assert openstack(cloud, "region", "show", "RegionTwoA")["parent_region"] == "RegionTwo"
    assert {r["Region"] for r in openstack(cloud, "region", "list")} == {
        cloud.settings.region,
        "RegionTwo",
        "RegionTwoA",
    }
    openstack(cloud, "region", "delete", "RegionTwo", formatted=False)
    assert [r["Region"] for r in openstack(cloud, "region", "list")] == [cloud.settings.region]


def test_http_status_codes_of_groups_and_regions(cloud: IdentityCloud) -> None:
    with httpx.Client(base_url=cloud.base_url + "/identity/v3", timeout=30) as http:
        admin = admin_headers(cloud, http)
        group = http.post("/groups", json={"group": {"name": "http-group"}}, headers=admin)
        assert group.status_code == 201
        group_id = group.json()["group"]["id"]
        assert http.post("/groups", json={"group": {"name": "http-group"}}, headers=admin).status_code == 409
        renamed = http.patch(f"/groups/{group_id}", json={"group": {"name": "renamed"}}, headers=admin)
        assert renamed.json()["group"]["name"] == "renamed"
        users = http.get("/users?name=admin", headers=admin).json()["users"]
        member = f"/groups/{group_id}/users/{users[0]['id']}"
        assert http.head(member, headers=admin).status_code == 404
        assert http.put(member, headers=admin).status_code == 204
        assert http.head(member, headers=admin).status_code == 204
        assert [u["name"] for u in http.get(f"/groups/{group_id}/users", headers=admin).json()["users"]] == [
            "admin"
        ]
        assert http.delete(f"/groups/{group_id}", headers=admin).status_code == 204
        assert http.get(f"/groups/{group_id}", headers=admin).status_code == 404

        put = http.put("/regions/by-put", json={"region": {"description": "put"}}, headers=admin)
        assert put.status_code == 201 and put.json()["region"]["id"] == "by-put"
        assert http.put("/regions/by-put", json={"region": {}}, headers=admin).status_code == 409
        orphan = http.post("/regions", json={"region": {"parent_region_id": "nowhere"}}, headers=admin)
        assert orphan.status_code == 404
        cycle = http.patch("/regions/by-put", json={"region": {"parent_region_id": "by-put"}}, headers=admin)
        assert cycle.status_code == 400
        in_use = http.delete(f"/regions/{cloud.settings.region}", headers=admin)
        assert in_use.status_code == 403
