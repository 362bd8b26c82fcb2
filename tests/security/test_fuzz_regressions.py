"""5xx the fuzzer (tests/security/test_fuzz.py) found in request models nobody else owns, each kept fixed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.cloud import InProcessCloud


def demo_identity(cloud: InProcessCloud, admin_token: str, demo_token: str) -> dict[str, Any]:
    headers = {"X-Auth-Token": admin_token, "X-Subject-Token": demo_token}
    token: dict[str, Any] = httpx.get(
        f"{cloud.base_url}/identity/v3/auth/tokens", headers=headers, timeout=30
    ).json()["token"]
    return token


@pytest.mark.parametrize(
    ("resource", "body"),
    [
        ("projects", {"project": {"name": None}}),
        ("projects", {"project": {"enabled": None}}),
        ("users", {"user": {"enabled": None}}),
        ("users", {"user": {"name": None}}),
    ],
)
def test_an_identity_update_that_nulls_a_required_attribute_is_a_400_not_a_500(
    cloud: InProcessCloud, admin_token: str, demo_token: str, resource: str, body: dict[str, Any]
) -> None:
    """Found as PATCH /identity/v3/projects/{id} {"project": {"name": null}} -> 500 (NOT NULL constraint)."""
    demo = demo_identity(cloud, admin_token, demo_token)
    target = demo["project"]["id"] if resource == "projects" else demo["user"]["id"]
    url = f"{cloud.base_url}/identity/v3/{resource}/{target}"
    headers = {"X-Auth-Token": admin_token}
    response = httpx.patch(url, json=body, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == 400
    assert "not null" in response.json()["error"]["message"]
    # Leaving the attribute out still means "unchanged".
    unchanged = httpx.patch(
        url, json={resource[:-1]: {"description": "still here"}}, headers=headers, timeout=30
    )
    assert unchanged.status_code == 200, unchanged.text
    assert unchanged.json()[resource[:-1]]["enabled"] is True


def test_a_null_user_description_clears_it_as_for_projects(
    cloud: InProcessCloud, admin_token: str, demo_token: str
) -> None:
    """Found as PATCH /identity/v3/users/{id} {"user": {"description": null}} -> 500 (NOT NULL constraint)."""
    user_id = demo_identity(cloud, admin_token, demo_token)["user"]["id"]
    url = f"{cloud.base_url}/identity/v3/users/{user_id}"
    headers = {"X-Auth-Token": admin_token}
    described = httpx.patch(url, json={"user": {"description": "temporary"}}, headers=headers, timeout=30)
    assert described.status_code == 200, described.text
    response = httpx.patch(url, json={"user": {"description": None}}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert not response.json()["user"].get("description")


@pytest.mark.parametrize("resource", ["projects", "users"])
@pytest.mark.parametrize("domain_id", ["another-domain", None])
def test_moving_a_user_or_project_to_another_domain_is_a_400_not_silently_ignored(
    cloud: InProcessCloud, admin_token: str, demo_token: str, resource: str, domain_id: str | None
) -> None:
    """Found as PATCH /identity/v3/users/{id} {"user": {"domain_id": "a"}} -> 200, the domain unchanged."""
    demo = demo_identity(cloud, admin_token, demo_token)
    target = demo["project"] if resource == "projects" else demo["user"]
    url = f"{cloud.base_url}/identity/v3/{resource}/{target['id']}"
    headers = {"X-Auth-Token": admin_token}
    key = resource[:-1]
    response = httpx.patch(url, json={key: {"domain_id": domain_id}}, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    assert "domain_id" in response.json()["error"]["message"]
    # Naming the domain it is already in changes nothing and is allowed, as in Keystone.
    same = httpx.patch(url, json={key: {"domain_id": target["domain"]["id"]}}, headers=headers, timeout=30)
    assert same.status_code == 200, same.text
    assert same.json()[key]["domain_id"] == target["domain"]["id"]
