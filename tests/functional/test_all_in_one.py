"""The README's run command, as a user meets it: `overcast all-in-one` in its own process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.all_in_one import OVERCAST, RunningCloud, start_cloud, stop_cloud
from tests.support.waiting import WAIT_SECONDS


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    running = start_cloud(tmp_path_factory.mktemp("aio"))
    yield running
    stop_cloud(running)


def test_banner_says_where_the_api_listens_and_how_to_log_in(cloud: RunningCloud) -> None:
    assert cloud.url in cloud.banner
    assert f"OS_CLIENT_CONFIG_FILE={cloud.data_dir / 'clouds.yaml'}" in cloud.banner


def test_every_service_reports_up(cloud: RunningCloud) -> None:
    body = httpx.get(
        f"{cloud.url}/healthcheck", headers={"Accept": "application/json"}, timeout=WAIT_SECONDS
    ).json()
    binaries = {service["binary"]: service for service in body["services"]}
    assert {"overcast-conductor", "overcast-scheduler", "overcast-compute"} <= set(binaries)
    assert all(service["up"] is True for service in binaries.values())

    listed = subprocess.run(
        [*OVERCAST, "manage", "--data-dir", str(cloud.data_dir), "service", "list"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OVERCAST_CONFIG": "/nonexistent"},
    )
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert {row[0] for row in rows} >= {"overcast-conductor", "overcast-scheduler", "overcast-compute"}
    assert all(row[3] == "up" for row in rows)


def admin_token(cloud: RunningCloud) -> str:
    clouds = yaml.safe_load((cloud.data_dir / "clouds.yaml").read_text())["clouds"]
    auth = clouds["overcast-admin"]["auth"]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": auth["username"],
                        "domain": {"name": "Default"},
                        "password": auth["password"],
                    }
                },
            },
            "scope": {"project": {"name": auth["project_name"], "domain": {"name": "Default"}}},
        }
    }
    response = httpx.post(f"{cloud.url}/identity/v3/auth/tokens", json=body, timeout=WAIT_SECONDS)
    assert response.status_code == 201, response.text
    return response.headers["x-subject-token"]


def test_metrics_and_errors_answer(cloud: RunningCloud) -> None:
    anonymous = httpx.get(f"{cloud.url}/no/such/path", timeout=WAIT_SECONDS)
    assert anonymous.status_code == 401
    missing = httpx.get(
        f"{cloud.url}/no/such/path", headers={"X-Auth-Token": admin_token(cloud)}, timeout=WAIT_SECONDS
    )
    assert missing.status_code == 404
    assert missing.json()["itemNotFound"]["code"] == 404
    assert missing.headers["x-openstack-request-id"].startswith("req-")
    metrics = httpx.get(f"{cloud.url}/metrics", timeout=WAIT_SECONDS).text
    assert "overcast_http_requests_total" in metrics
    assert 'overcast_service_up{binary="overcast-compute"' in metrics


def test_two_clouds_side_by_side_and_sigterm_stops_gracefully(tmp_path: Path) -> None:
    first = start_cloud(tmp_path / "a")
    second = start_cloud(tmp_path / "b")
    try:
        assert httpx.get(f"{first.url}/healthcheck", timeout=WAIT_SECONDS).status_code == 200
        assert httpx.get(f"{second.url}/healthcheck", timeout=WAIT_SECONDS).status_code == 200
        assert (tmp_path / "a" / "overcast.db").exists() and (tmp_path / "b" / "overcast.db").exists()
    finally:
        codes = [stop_cloud(first), stop_cloud(second)]  # both stop, whatever the first answers
    assert codes == [0, 0]
