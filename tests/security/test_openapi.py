"""Each API's OpenAPI document: served without a token, valid OpenAPI 3, the real paths, our error shapes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.support.cloud import InProcessCloud

DOCUMENTS = {
    "/compute/v2.1/openapi.json": (
        "/compute/v2.1/servers",
        "/compute/v2.1/servers/{server_id}/action",
        "/compute/v2.1/flavors/{flavor_id}",
        "/compute/v2.1/os-keypairs",
    ),
    "/identity/v3/openapi.json": (
        "/identity/v3/auth/tokens",
        "/identity/v3/projects/{project_id}",
        "/identity/v3/users/{user_id}/application_credentials",
    ),
    "/networking/v2.0/openapi.json": (
        "/networking/v2.0/networks",
        "/networking/v2.0/networks/{network_id}",
        "/networking/v2.0/ports/{port_id}",
        "/networking/v2.0/routers/{router_id}/add_router_interface",
        "/networking/v2.0/security-group-rules",
    ),
    "/volume/v3/openapi.json": (
        "/volume/v3/{project_id}/volumes",
        "/volume/v3/{project_id}/volumes/{volume_id}/action",
        "/volume/v3/{project_id}/attachments/{attachment_id}",
        "/volume/v3/{project_id}/types/{type_id}/extra_specs",
    ),
    "/image/v2/openapi.json": (
        "/image/v2/images",
        "/image/v2/images/{image_id}",
        "/image/v2/images/{image_id}/file",
        "/image/v2/images/{image_id}/members/{member_id}",
    ),
    "/billing/v1/openapi.json": (
        "/billing/v1/invoices",
        "/billing/v1/accounts/{account_id}",
        "/billing/v1/price-lists",
        "/billing/v1/payments/webhook",
    ),
    "/portal/v1/openapi.json": (
        "/portal/v1/signups",
        "/portal/v1/plans/{name}",
        "/portal/v1/accounts/{account_id}/action",
        "/portal/v1/tickets",
    ),
    "/rating/v2/openapi.json": ("/rating/v2/summary", "/rating/v2/dataframes"),
}


def fetch(cloud: InProcessCloud, url: str) -> dict[str, Any]:
    response = httpx.get(cloud.base_url + url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.parametrize("url", sorted(DOCUMENTS))
def test_document_is_valid_openapi_with_the_real_paths_and_no_token_needed(
    cloud: InProcessCloud, url: str
) -> None:
    document = fetch(cloud, url)
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": cloud.base_url}]
    prefix = "/" + url.split("/")[1]
    assert document["paths"]
    assert all(path.startswith(prefix) for path in document["paths"])
    for path in DOCUMENTS[url]:
        assert path in document["paths"], f"{path} missing from {url}"


@pytest.mark.parametrize("url", sorted(DOCUMENTS))
def test_every_operation_needs_the_token_scheme_except_the_public_ones(
    cloud: InProcessCloud, url: str
) -> None:
    document = fetch(cloud, url)
    scheme = document["components"]["securitySchemes"]["token"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-Auth-Token"}
    assert document["security"] == [{"token": []}]
    public = {
        (method, path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security") == []
    }
    if url.startswith("/identity"):
        assert ("post", "/identity/v3/auth/tokens") in public
        assert ("get", "/identity/v3/auth/tokens") not in public
    service_root = "/" + url.split("/")[1]
    assert ("get", service_root) in public
    for method, path in public:
        # What the document calls public really answers without a token...
        if method == "get":
            assert httpx.get(cloud.base_url + path, timeout=30).status_code < 400, path
    # ... and what it does not call public refuses a request without one.
    for path in DOCUMENTS[url]:
        if "{" not in path and ("get", path) not in public:
            assert httpx.get(cloud.base_url + path, timeout=30).status_code == 401, path


def test_errors_are_documented_in_each_apis_own_shape_never_fastapis_422(cloud: InProcessCloud) -> None:
    compute = fetch(cloud, "/compute/v2.1/openapi.json")
    identity = fetch(cloud, "/identity/v3/openapi.json")
    image = fetch(cloud, "/image/v2/openapi.json")
    networking = fetch(cloud, "/networking/v2.0/openapi.json")
    for document in (compute, identity, image, networking):
        for item in document["paths"].values():
            for operation in item.values():
                assert "422" not in operation["responses"]
                assert "400" in operation["responses"]
        assert "HTTPValidationError" not in document["components"]["schemas"]

    def error_schema(document: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
        schema: dict[str, Any] = document["paths"][path][method]["responses"][status]["content"][
            "application/json"
        ]["schema"]
        return schema

    nova = error_schema(compute, "/compute/v2.1/servers/{server_id}", "get", "404")
    assert nova["maxProperties"] == 1
    assert nova["additionalProperties"]["required"] == ["code", "message"]
    keystone = error_schema(identity, "/identity/v3/projects/{project_id}", "get", "404")
    assert keystone["required"] == ["error"]
    glance = error_schema(image, "/image/v2/images/{image_id}", "get", "404")
    assert glance["required"] == ["message", "code", "title"]
    neutron = error_schema(networking, "/networking/v2.0/ports/{port_id}", "get", "404")
    assert neutron["required"] == ["NeutronError"]
    assert neutron["properties"]["NeutronError"]["required"] == ["type", "message"]
    # revision_number in If-Match: a stale one is a 412 on the resources that carry revisions.
    assert "412" in networking["paths"]["/networking/v2.0/ports/{port_id}"]["put"]["responses"]
    # Glance answers a client that does not ask for JSON with its HTML page.
    assert "text/html" in image["paths"]["/image/v2/images/{image_id}"]["get"]["responses"]["404"]["content"]


def test_request_models_and_microversions_appear_as_the_routes_read_them(cloud: InProcessCloud) -> None:
    compute = fetch(cloud, "/compute/v2.1/openapi.json")
    create = compute["paths"]["/compute/v2.1/servers"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServerCreateBody"
    }
    version = next(p for p in create["parameters"] if p["name"] == "OpenStack-API-Version")
    assert version["in"] == "header"
    pattern = re.compile(version["schema"]["pattern"])
    served = ("compute 2.1", "compute 2.62", "compute 2.100", "compute latest")
    assert all(pattern.search(text) for text in served)
    assert not any(pattern.search(text) for text in ("compute 2.101", "compute 2.0", "2.1"))
    image = fetch(cloud, "/image/v2/openapi.json")
    patch = image["paths"]["/image/v2/images/{image_id}"]["patch"]
    assert "application/openstack-images-v2.1-json-patch" in patch["requestBody"]["content"]
    assert "415" in patch["responses"]
    download = image["paths"]["/image/v2/images/{image_id}/file"]["get"]["responses"]
    assert "application/octet-stream" in download["200"]["content"]
    created = image["paths"]["/image/v2/images"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["properties"]["id"]["type"] == "string"
