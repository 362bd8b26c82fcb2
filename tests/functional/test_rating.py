"""CloudKitty's v2 summary and dataframes through the real client (`openstack rating ...`, from
python-cloudkittyclient) against a cloud whose servers ran for known durations on an injected clock.

Prices (EUR per hour): running m1.tiny 0.10, stopped 0.01. Server A runs 0-2 h and is stopped 2-3 h,
server B runs 1-3 h; the report is read at 3 h: A 0.20 + 0.01, B 0.20, 0.41 in all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from tests.support.clock import FakeClock, cloud_clock
from tests.support.cloud import InProcessCloud, move_clock, project_token
from tests.support.compute_api import settled, tiny_server
from tests.support.metering import metered_cloud, recorded
from tests.support.openstack_cli import run_openstack

MAY = datetime(2031, 5, 1, tzinfo=UTC)
JUNE = datetime(2031, 6, 1, tzinfo=UTC)
T0 = datetime(2031, 5, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
PERIOD = ("--begin", "2031-05-01T00:00:00Z", "--end", "2031-06-01T00:00:00Z")
RIVAL_PASSWORD = "rival-password-for-rating"


@pytest.fixture(scope="module")
def clock() -> Iterator[FakeClock]:
    with cloud_clock(T0) as clock:
        yield clock


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[InProcessCloud]:
    running = metered_cloud(tmp_path_factory.mktemp("rating"), clock)
    yield running
    running.stop()


def billing(cloud: InProcessCloud, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
    response = httpx.request(
        method,
        f"{cloud.base_url}/billing/v1{path}",
        json=body,
        headers={"X-Auth-Token": project_token(cloud, "admin")},
        timeout=30,
    )
    assert response.status_code == expect, response.text
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def usage(cloud: InProcessCloud, clock: FakeClock, demo: Connection, admin: Connection) -> dict[str, str]:
    """The scenario above; the ids of servers A and B, the demo project and a rival project."""
    billing(cloud, "POST", "/price-lists", {"price_list": {
        "name": "standard", "currency": "EUR", "effective_from": MAY.isoformat(), "rates": [
            {"metric": "instance.running", "unit": "hour", "price": "0.10", "match": "m1.tiny"},
            {"metric": "instance.stopped", "unit": "hour", "price": "0.01"},
        ],
    }}, expect=201)  # fmt: skip
    rival = admin.identity.create_project(name="rival", domain_id="default")
    user = admin.identity.create_user(name="rival", password=RIVAL_PASSWORD, domain_id="default")
    admin.identity.assign_project_role_to_user(rival, user, admin.identity.find_role("member"))
    for name, project in (("acme", demo.current_project_id), ("rival", rival.id)):
        account = billing(cloud, "POST", "/accounts", {"account": {
            "name": name, "currency": "EUR", "price_list": "standard", "mode": "postpaid",
        }}, expect=201)["account"]  # fmt: skip
        billing(cloud, "PUT", f"/accounts/{account['id']}/projects/{project}")

    a = tiny_server(demo, "a")
    recorded(cloud, a.id, "create.end")
    move_clock(cloud, clock, T0 + HOUR)
    b = tiny_server(demo, "b")
    recorded(cloud, b.id, "create.end")
    move_clock(cloud, clock, T0 + 2 * HOUR)
    demo.compute.stop_server(a)
    settled(demo, a.id, "SHUTOFF")
    recorded(cloud, a.id, "power_off.end")
    move_clock(cloud, clock, T0 + 3 * HOUR)
    return {"a": a.id, "b": b.id, "demo": str(demo.current_project_id), "rival": str(rival.id)}


def rating_cli(cloud: InProcessCloud, *args: str, user: str = "overcast-demo") -> Any:
    return cloud.openstack("rating", *args, "-f", "json", user=user)


def rival_cli(cloud: InProcessCloud, *args: str) -> Any:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update(
        HOME=str(cloud.data_dir),
        OS_AUTH_URL=f"{cloud.base_url}/identity",
        OS_USERNAME="rival",
        OS_PASSWORD=RIVAL_PASSWORD,
        OS_PROJECT_NAME="rival",
        OS_USER_DOMAIN_NAME="Default",
        OS_PROJECT_DOMAIN_NAME="Default",
        OS_REGION_NAME="RegionOne",
        OS_IDENTITY_API_VERSION="3",
    )
    result = run_openstack(["rating", *args], env, timeout=120)
    return result


def rows(listing: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(row[key] for key in keys) for row in listing)


def test_summary_totals_the_rated_usage_as_the_billing_api_does(
    cloud: InProcessCloud, usage: dict[str, str]
) -> None:
    [whole] = rating_cli(cloud, "summary", "get", *PERIOD)
    assert (whole["Begin"], whole["End"]) == ("2031-05-01T00:00:00Z", "2031-06-01T00:00:00Z")
    assert (whole["Qty"], whole["Rate"]) == (5, 0.41)
    token = project_token(cloud, "demo")
    rated = httpx.get(
        f"{cloud.base_url}/billing/v1/usage",
        params={"start": MAY.isoformat(), "end": JUNE.isoformat()},
        headers={"X-Auth-Token": token},
        timeout=30,
    ).json()["usage"]
    assert rated["total"] == "0.41"
    # Without begin and end: the current month, as CloudKitty defaults.
    assert rating_cli(cloud, "summary", "get") == [whole]


def test_summary_groups_filters_and_pages(cloud: InProcessCloud, usage: dict[str, str]) -> None:
    by_type = rating_cli(cloud, "summary", "get", *PERIOD, "-g", "type")
    assert rows(by_type, "Type", "Qty", "Rate") == [("instance", 4, 0.4), ("instance.stopped", 1, 0.01)]
    by_resource = rating_cli(cloud, "summary", "get", *PERIOD, "-g", "id", "-g", "project_id")
    assert rows(by_resource, "Id", "Project id", "Rate") == sorted(
        [(usage["a"], usage["demo"], 0.21), (usage["b"], usage["demo"], 0.2)]
    )
    only_b = rating_cli(cloud, "summary", "get", *PERIOD, "-g", "id", "--filter", f"id:{usage['b']}")
    assert rows(only_b, "Id", "Qty", "Rate") == [(usage["b"], 2, 0.2)]
    running = rating_cli(cloud, "summary", "get", *PERIOD, "--filter", "type:instance")
    assert rows(running, "Qty", "Rate") == [(4, 0.4)]
    pages = [
        rating_cli(cloud, "summary", "get", *PERIOD, "-g", "id", "--limit", "1", "--offset", str(offset))
        for offset in (0, 1, 2)
    ]
    assert [len(page) for page in pages] == [1, 1, 0]
    assert sorted(page[0]["Id"] for page in pages[:2]) == sorted([usage["a"], usage["b"]])


def test_dataframes_list_each_rated_resource_of_the_period(
    cloud: InProcessCloud, usage: dict[str, str]
) -> None:
    frames = rating_cli(cloud, "dataframes", "get", *PERIOD)
    assert rows(frames, "Metric Type", "Unit", "Quantity", "Price", "Group By") == sorted([
        ("instance", "hour", 2, 0.2, f'id="{usage["a"]}" project_id="{usage["demo"]}"'),
        ("instance.stopped", "hour", 1, 0.01, f'id="{usage["a"]}" project_id="{usage["demo"]}"'),
        ("instance", "hour", 2, 0.2, f'id="{usage["b"]}" project_id="{usage["demo"]}"'),
    ])  # fmt: skip
    assert {(frame["Begin"], frame["End"]) for frame in frames} == {
        ("2031-05-01T00:00:00Z", "2031-06-01T00:00:00Z")
    }
    assert {frame["Metadata"] for frame in frames} == {'flavor_name="m1.tiny"'}
    stopped = rating_cli(cloud, "dataframes", "get", *PERIOD, "--filter", "type:instance.stopped")
    assert rows(stopped, "Metric Type", "Price") == [("instance.stopped", 0.01)]
    paged = [
        rating_cli(cloud, "dataframes", "get", *PERIOD, "--limit", "2", "--offset", str(offset))
        for offset in (0, 2)
    ]
    assert [len(page) for page in paged] == [2, 1]
    assert sorted(row["Price"] for page in paged for row in page) == [0.01, 0.2, 0.2]


def test_another_projects_member_sees_nothing_of_the_demo_project(
    cloud: InProcessCloud, usage: dict[str, str]
) -> None:
    asked = rival_cli(cloud, "summary", "get", *PERIOD, "-g", "project_id", "-f", "json")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout or "[]") == []
    # Filtering on the demo project does not widen a member's view: CloudKitty's rule.
    filtered = rival_cli(
        cloud, "summary", "get", *PERIOD, "--filter", f"project_id:{usage['demo']}", "-f", "json"
    )
    assert json.loads(filtered.stdout or "[]") == []
    frames = rival_cli(cloud, "dataframes", "get", *PERIOD, "-f", "json")
    assert frames.returncode != 0 and "No resource found" in frames.stderr, frames.stderr
    # An admin sees every billed project's, or one project's when it filters on it.
    everything = rating_cli(cloud, "summary", "get", *PERIOD, "-g", "project_id", user="overcast-admin")
    assert rows(everything, "Project id", "Rate") == [(usage["demo"], 0.41)]
    demo_only = rating_cli(
        cloud, "summary", "get", *PERIOD, "--filter", f"project_id:{usage['rival']}", user="overcast-admin"
    )
    assert demo_only == []


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("summary", "limit=0", "Invalid limit 0"),
        ("summary", "offset=-1", "Invalid offset -1"),
        ("summary", "groupby=colour", "Unknown groupby 'colour'"),
        ("summary", "groupby=time-d", "not supported"),
        ("summary", "filters=type", "Invalid filter 'type'"),
        ("summary", "filters=type:instance&filters=type:ip.floating", "given twice"),
        ("summary", "begin=yesterday", "Invalid begin"),
        ("summary", "begin=2031-06-01T00:00:00Z&end=2031-05-01T00:00:00Z", "end must be after begin"),
        ("summary", "response_format=xml", "Invalid response_format"),
        ("dataframes", "groupby=type", "Unknown query parameter(s): groupby"),
        ("dataframes", "limit=ten", "Invalid limit 'ten'"),
    ],
)
def test_bad_parameters_are_a_400_in_cloudkittys_shape(
    cloud: InProcessCloud, usage: dict[str, str], path: str, query: str, message: str
) -> None:
    response = httpx.get(
        f"{cloud.base_url}/rating/v2/{path}?{query}",
        headers={"X-Auth-Token": project_token(cloud, "demo")},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert list(body) == ["message"] and message in body["message"], body


def test_summary_object_format_and_errors_of_no_token_unknown_paths_and_methods(
    cloud: InProcessCloud, usage: dict[str, str]
) -> None:
    response = httpx.get(
        f"{cloud.base_url}/rating/v2/summary",
        params={
            "begin": MAY.isoformat(),
            "end": JUNE.isoformat(),
            "groupby": "type",
            "response_format": "object",
        },
        headers={"X-Auth-Token": project_token(cloud, "demo")},
        timeout=30,
    )
    span = {"begin": "2031-05-01T00:00:00Z", "end": "2031-06-01T00:00:00Z"}
    assert response.json() == {"total": 2, "results": [
        {**span, "qty": 4, "rate": 0.4, "type": "instance"},
        {**span, "qty": 1, "rate": 0.01, "type": "instance.stopped"},
    ]}  # fmt: skip
    anonymous = httpx.get(f"{cloud.base_url}/rating/v2/summary", timeout=30)
    assert anonymous.status_code == 401 and list(anonymous.json()) == ["message"]
    headers = {"X-Auth-Token": project_token(cloud, "demo")}
    unknown = httpx.get(f"{cloud.base_url}/rating/v2/scope", headers=headers, timeout=30)
    assert unknown.status_code == 404 and list(unknown.json()) == ["message"]
    # Adding dataframes is CloudKitty's collector's business; here metering records usage.
    posted = httpx.post(
        f"{cloud.base_url}/rating/v2/dataframes", json={"dataframes": []}, headers=headers, timeout=30
    )
    assert posted.status_code == 405 and list(posted.json()) == ["message"]
    versions = httpx.get(f"{cloud.base_url}/rating", timeout=30).json()
    assert versions["versions"][0]["id"] == "v2"
