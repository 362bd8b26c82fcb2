"""GET /flavors/{flavor_id}/os-scheduler-explain: the scheduler's dry run for a flavor, admins only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openstack.connection import Connection

from tests.support.cloud import COMPUTE_HOSTS, TINY, InProcessCloud
from tests.support.compute_api import compute


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("explain"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def huge(admin: Connection) -> str:
    """A flavor no compute host has the memory for."""
    flavor = admin.compute.create_flavor(name="huge", vcpus=1, ram=64 * 1024 * 1024, disk=1)
    return str(flavor.id)


def test_a_flavor_that_fits_lists_the_hosts_it_would_get(admin: Connection) -> None:
    response = compute(admin, "GET", f"/flavors/{TINY}/os-scheduler-explain")
    assert response.status_code == 200, response.text
    explanation = response.json()["scheduler_explanation"]
    assert explanation["flavor"]["id"] == TINY and explanation["no_valid_host"] is None
    assert explanation["hosts_known"] == len(COMPUTE_HOSTS)
    assert {host["host"] for host in explanation["hosts"]} == set(COMPUTE_HOSTS)
    assert all(report["hosts_rejected"] == 0 for report in explanation["filters"])


def test_a_flavor_too_big_for_every_host_says_which_filter_refused(admin: Connection, huge: str) -> None:
    response = compute(admin, "GET", f"/flavors/{huge}/os-scheduler-explain")
    assert response.status_code == 200, response.text
    explanation = response.json()["scheduler_explanation"]
    assert explanation["hosts"] == [] and explanation["hosts_passing"] == 0
    assert explanation["no_valid_host"].startswith("No valid host was found.")
    refusing = [report for report in explanation["filters"] if report["hosts_rejected"]]
    assert refusing and refusing[0]["hosts_before"] == len(COMPUTE_HOSTS)
    assert refusing[0]["name"] in explanation["no_valid_host"]


def test_an_availability_zone_without_hosts_leaves_none(admin: Connection) -> None:
    response = compute(admin, "GET", f"/flavors/{TINY}/os-scheduler-explain?availability_zone=nowhere")
    assert response.status_code == 200, response.text
    assert response.json()["scheduler_explanation"]["hosts"] == []


def test_a_member_is_refused_and_bad_requests_are_4xx(demo: Connection, admin: Connection) -> None:
    assert compute(demo, "GET", f"/flavors/{TINY}/os-scheduler-explain").status_code == 403
    missing = compute(admin, "GET", "/flavors/no-such-flavor/os-scheduler-explain")
    assert missing.status_code == 404 and "itemNotFound" in missing.json()
    unknown = compute(admin, "GET", f"/flavors/{TINY}/os-scheduler-explain?colour=blue")
    assert unknown.status_code == 400 and "colour" in unknown.json()["badRequest"]["message"]
    too_long = compute(admin, "GET", f"/flavors/{TINY}/os-scheduler-explain?project_id={'p' * 300}")
    assert too_long.status_code == 400
