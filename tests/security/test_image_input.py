"""Image input a member can send that ended in a 500 or was stored as given (issue #12, defects 11 and 14).

`min_ram`/`min_disk` of 2^64 overflowed the database column, a lone surrogate in a name could not be
encoded for the database, 5,000-deep JSON in a JSON-patch update overflowed the parser's recursion,
and names kept NUL, newlines and right-to-left overrides. Each is a 400 in Glance's shape, on create
and on PATCH, and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
JSON = {"Content-Type": "application/json"}

BAD_NAMES = {
    "NUL": "disk\x00.img",
    "newline": "disk\nINFO forged log line",
    "carriage return": "disk\r.img",
    "escape": "disk\x1b[31m.img",
    "right-to-left override": "gpj.\u202eexe",
    "left-to-right isolate": "disk\u2066.img",
    "C1 control": "disk\x85.img",
}
OUT_OF_RANGE = [2**64, 2**63, 2**31, -1]


@pytest.fixture(scope="module")
def http(cloud: Any, demo: Connection) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{cloud.base_url}/image/v2",
        headers={"X-Auth-Token": str(demo.auth_token), "Accept": "application/json"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def image(http: httpx.Client) -> dict[str, Any]:
    response = http.post("/images", json={"name": "input-target", "disk_format": "raw"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _image_count(http: httpx.Client) -> int:
    return len(http.get("/images", params={"limit": 1000}).json()["images"])


def assert_glance_400(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "400 Bad Request" and body["title"] == "Bad Request"


@pytest.mark.parametrize("field", ["min_ram", "min_disk"])
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_out_of_range_minimums_are_refused_on_create(http: httpx.Client, field: str, value: int) -> None:
    before = _image_count(http)
    assert_glance_400(http.post("/images", content=json.dumps({"name": "big", field: value}), headers=JSON))
    assert _image_count(http) == before


@pytest.mark.parametrize("field", ["min_ram", "min_disk"])
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_out_of_range_minimums_are_refused_on_patch(
    http: httpx.Client, image: dict[str, Any], field: str, value: int
) -> None:
    operations = [{"op": "replace", "path": f"/{field}", "value": value}]
    assert_glance_400(http.patch(f"/images/{image['id']}", content=json.dumps(operations), headers=PATCH))
    assert http.get(f"/images/{image['id']}").json()[field] == 0


def test_largest_minimum_glance_allows_is_kept(http: httpx.Client, image: dict[str, Any]) -> None:
    operations = [{"op": "replace", "path": "/min_ram", "value": 2**31 - 1}]
    response = http.patch(f"/images/{image['id']}", content=json.dumps(operations), headers=PATCH)
    assert response.status_code == 200, response.text
    assert response.json()["min_ram"] == 2**31 - 1
    reset = [{"op": "replace", "path": "/min_ram", "value": 0}]
    assert http.patch(f"/images/{image['id']}", content=json.dumps(reset), headers=PATCH).status_code == 200


@pytest.mark.parametrize("kind", list(BAD_NAMES))
def test_names_with_controls_or_overrides_are_refused(
    http: httpx.Client, image: dict[str, Any], kind: str
) -> None:
    name = BAD_NAMES[kind]
    before = _image_count(http)
    assert_glance_400(http.post("/images", json={"name": name}))
    assert _image_count(http) == before
    operations = [{"op": "replace", "path": "/name", "value": name}]
    assert_glance_400(http.patch(f"/images/{image['id']}", content=json.dumps(operations), headers=PATCH))
    assert http.get(f"/images/{image['id']}").json()["name"] == "input-target"


def test_ordinary_unicode_names_are_kept(http: httpx.Client) -> None:
    # Accents, CJK, an emoji family joined by zero-width joiners, a tab-free space.
    name = "débian 日本 \U0001f468\u200d\U0001f469\u200d\U0001f467 v1"
    response = http.post("/images", json={"name": name})
    assert response.status_code == 201, response.text
    assert http.get(f"/images/{response.json()['id']}").json()["name"] == name


@pytest.mark.parametrize("where", ["name", "property value", "property name"])
def test_lone_surrogates_are_refused(http: httpx.Client, image: dict[str, Any], where: str) -> None:
    escaped = "\\ud800"
    body = {
        "name": f'{{"name": "x{escaped}"}}',
        "property value": f'{{"name": "ok", "os_distro": "x{escaped}"}}',
        "property name": f'{{"name": "ok", "x{escaped}": "v"}}',
    }[where]
    before = _image_count(http)
    assert_glance_400(http.post("/images", content=body.encode(), headers=JSON))
    assert _image_count(http) == before
    patch = f'[{{"op": "replace", "path": "/name", "value": "x{escaped}"}}]'
    assert_glance_400(http.patch(f"/images/{image['id']}", content=patch.encode(), headers=PATCH))


def test_a_paired_surrogate_escape_is_text(http: httpx.Client) -> None:
    response = http.post("/images", content=b'{"name": "smile \\ud83d\\ude00"}', headers=JSON)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "smile \U0001f600"


@pytest.mark.parametrize("depth", [33, 5000])
def test_deep_json_patch_is_refused(http: httpx.Client, image: dict[str, Any], depth: int) -> None:
    value = "[" * depth + "]" * depth
    body = f'[{{"op": "add", "path": "/os_distro", "value": {value}}}]'.encode()
    assert_glance_400(http.patch(f"/images/{image['id']}", content=body, headers=PATCH))
    # Whatever the Content-Type says, the image routes parse the body through the same checks.
    for content_type in ("text/plain", "application/octet-stream"):
        created = http.post("/images", content=("{" + f'"a": {value}' + "}").encode(),
                            headers={"Content-Type": content_type})  # fmt: skip
        assert_glance_400(created)


@pytest.mark.parametrize("name", ["hw_firmware_type", "hw_disk_bus"])
def test_a_property_with_choices_in_the_image_schema_refuses_other_values(
    http: httpx.Client, image: dict[str, Any], name: str
) -> None:
    """Found by the fuzzer: the value was stored although /v2/schemas/image names its only choices."""
    choices = http.get("/schemas/image").json()["properties"][name]["enum"]
    before = _image_count(http)
    assert_glance_400(http.post("/images", json={"name": "choice", name: "__not_a_choice__"}))
    assert _image_count(http) == before
    patch = [{"op": "add", "path": f"/{name}", "value": "__not_a_choice__"}]
    assert_glance_400(http.patch(f"/images/{image['id']}", content=json.dumps(patch), headers=PATCH))
    patch = [{"op": "add", "path": f"/{name}", "value": choices[0]}]
    accepted = http.patch(f"/images/{image['id']}", content=json.dumps(patch), headers=PATCH)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()[name] == choices[0]
