"""Endpoint groups and project endpoints, unified limits, trusts and trust-scoped tokens, stored policies
and federation resources through the real `openstack` CLI against an Overcast identity API."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.identity_cloud import OPENSTACK, IdentityCloud, openstack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityCloud]:
    running = IdentityCloud(tmp_path_factory.mktemp("identity-keystone-resources"))
    running.start()
    yield running
    running.stop()


def as_user(cloud: IdentityCloud, user: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update(
        HOME=str(cloud.settings.data_dir),
        OS_AUTH_URL=f"{cloud.base_url}/identity",
        OS_USERNAME=user,
        OS_PASSWORD=password,
        OS_USER_DOMAIN_NAME="Default",
        OS_IDENTITY_API_VERSION="3",
    )
    return subprocess.run([str(OPENSTACK), *args], env=env, capture_output=True, text=True, timeout=120)


def test_endpoint_groups_and_project_endpoints_filter_the_catalog(cloud: IdentityCloud) -> None:
    openstack(cloud, "project", "create", "filtered")
    openstack(
        cloud, "user", "create", "--password", "filtered-pass", "--project", "filtered", "filtered-user"
    )
    openstack(
        cloud, "role", "add", "--project", "filtered", "--user", "filtered-user", "member", formatted=False
    )
    image = openstack(cloud, "service", "show", "image")
    filters = cloud.settings.data_dir / "filters.json"
    filters.write_text(json.dumps({"service_id": image["id"]}))
    group = openstack(
        cloud, "endpoint", "group", "create", "--description", "images only", "images", str(filters)
    )
    assert (group["name"], group["filters"]) == ("images", {"service_id": image["id"]})
    openstack(cloud, "endpoint", "group", "add", "project", "images", "filtered", formatted=False)
    listed = openstack(cloud, "endpoint", "group", "list", "--project", "filtered")
    assert [row["Name"] for row in listed] == ["images"]

    result = as_user(
        cloud,
        "filtered-user",
        "filtered-pass",
        "--os-project-name",
        "filtered",
        "--os-project-domain-name",
        "Default",
        "catalog",
        "list",
        "-f",
        "json",
    )
    assert result.returncode == 0, result.stderr
    assert {entry["Type"] for entry in json.loads(result.stdout)} == {"image"}

    openstack(cloud, "endpoint", "group", "remove", "project", "images", "filtered", formatted=False)
    openstack(cloud, "endpoint", "group", "delete", "images", formatted=False)
    assert openstack(cloud, "endpoint", "group", "list") == []


def test_registered_and_project_limits(cloud: IdentityCloud) -> None:
    region = cloud.settings.region
    registered = openstack(
        cloud,
        "registered",
        "limit",
        "create",
        "--service",
        "compute",
        "--default-limit",
        "10",
        "--region",
        region,
        "cores",
    )
    assert (registered["resource_name"], registered["default_limit"]) == ("cores", 10)
    limit = openstack(
        cloud,
        "limit",
        "create",
        "--project",
        "demo",
        "--service",
        "compute",
        "--resource-limit",
        "4",
        "--region",
        region,
        "cores",
    )
    assert (limit["resource_name"], limit["resource_limit"]) == ("cores", 4)
    assert [row["Resource Limit"] for row in openstack(cloud, "limit", "list", "--project", "demo")] == [4]
    demo_view = openstack(cloud, "limit", "list", name="overcast-demo")
    assert [row["ID"] for row in demo_view] == [limit["id"]]
    openstack(cloud, "limit", "set", "--resource-limit", "6", limit["id"])
    assert openstack(cloud, "limit", "show", limit["id"])["resource_limit"] == 6
    openstack(cloud, "limit", "delete", limit["id"], formatted=False)
    openstack(cloud, "registered", "limit", "delete", registered["id"], formatted=False)
    assert openstack(cloud, "registered", "limit", "list") == []


def test_a_trust_gives_its_trustee_a_token_for_the_trustors_project(cloud: IdentityCloud) -> None:
    openstack(cloud, "user", "create", "--password", "helper-pass", "helper")
    trust = openstack(
        cloud, "trust", "create", "--project", "admin", "--role", "member", "--impersonate", "admin", "helper"
    )
    assert trust["is_impersonation"] is True and [r["name"] for r in trust["roles"]] == ["member"]
    listed = openstack(cloud, "trust", "list")
    assert trust["id"] in {row["ID"] for row in listed}
    result = as_user(
        cloud, "helper", "helper-pass", "--os-trust-id", trust["id"], "token", "issue", "-f", "json"
    )
    assert result.returncode == 0, result.stderr
    token: dict[str, Any] = json.loads(result.stdout)
    admin_id = openstack(cloud, "user", "show", "admin")["id"]
    assert token["user_id"] == admin_id and token["project_id"]
    # A trust-scoped token makes no further trust (no redelegation), in Keystone's error shape.
    again = {"trustor_user_id": admin_id, "trustee_user_id": admin_id, "impersonation": False}
    refused = httpx.post(
        f"{cloud.base_url}/identity/v3/OS-TRUST/trusts",
        json={"trust": again},
        headers={"X-Auth-Token": token["id"]},
        timeout=30,
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == 403
    openstack(cloud, "trust", "delete", trust["id"], formatted=False)
    result = as_user(
        cloud, "helper", "helper-pass", "--os-trust-id", trust["id"], "token", "issue", "-f", "json"
    )
    assert result.returncode != 0


def test_stored_policies_and_federation_resources(cloud: IdentityCloud) -> None:
    blob = cloud.settings.data_dir / "policy.json"
    blob.write_text('{"compute:create": ""}')
    made = openstack(cloud, "policy", "create", "--type", "application/json", str(blob))
    # The CLI shows the blob as "rules".
    assert (made["type"], json.loads(made["rules"])) == ("application/json", {"compute:create": ""})
    openstack(cloud, "policy", "delete", made["id"], formatted=False)

    idp = openstack(
        cloud, "identity", "provider", "create", "--remote-id", "https://idp.example/saml", "--enable", "acme"
    )
    assert (idp["id"], idp["enabled"]) == ("acme", True)
    rules = cloud.settings.data_dir / "rules.json"
    rules.write_text(
        json.dumps([{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "REMOTE_USER"}]}])
    )
    openstack(cloud, "mapping", "create", "--rules", str(rules), "acme-map")
    protocol = openstack(
        cloud,
        "federation",
        "protocol",
        "create",
        "--identity-provider",
        "acme",
        "--mapping",
        "acme-map",
        "saml2",
    )
    assert protocol["mapping"] == "acme-map"
    sp = openstack(
        cloud,
        "service",
        "provider",
        "create",
        "--auth-url",
        "https://sp.example/v3/auth",
        "--service-provider-url",
        "https://sp.example/ECP",
        "partner",
    )
    assert sp["auth_url"] == "https://sp.example/v3/auth"
    for resource in (
        ("federation", "protocol", "delete", "--identity-provider", "acme", "saml2"),
        ("mapping", "delete", "acme-map"),
        ("identity", "provider", "delete", "acme"),
        ("service", "provider", "delete", "partner"),
    ):
        openstack(cloud, *resource, formatted=False)
    assert openstack(cloud, "identity", "provider", "list") == []
