"""The writable catalog through the real `openstack` CLI and openstacksdk: a service and its endpoints
made, shown in `catalog list` (the token's catalog), changed and deleted."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.identity_cloud import IdentityCloud, openstack
from tests.support.waiting import WAIT_SECONDS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityCloud]:
    running = IdentityCloud(tmp_path_factory.mktemp("identity-catalog"))
    running.start()
    yield running
    running.stop()


def test_service_and_endpoints_join_and_leave_the_tokens_catalog(cloud: IdentityCloud) -> None:
    service = openstack(cloud, "service", "create", "--name", "designate", "--description", "DNS", "dns")
    assert (service["type"], service["name"], service["description"], service["enabled"]) == (
        "dns",
        "designate",
        "DNS",
        True,
    )
    region = cloud.settings.region
    url = "http://127.0.0.1:9001/dns"
    public = openstack(cloud, "endpoint", "create", "--region", region, "designate", "public", url)
    assert (public["service_id"], public["interface"], public["url"], public["region"]) == (
        service["id"],
        "public",
        url,
        region,
    )
    catalog = {entry["Type"]: str(entry["Endpoints"]) for entry in openstack(cloud, "catalog", "list")}
    assert url in catalog["dns"]

    openstack(cloud, "endpoint", "set", "--url", "http://127.0.0.1:9002/dns", public["id"], formatted=False)
    assert openstack(cloud, "endpoint", "show", public["id"])["url"] == "http://127.0.0.1:9002/dns"
    listed = openstack(cloud, "endpoint", "list", "--service", "dns")
    assert [row["ID"] for row in listed] == [public["id"]]

    openstack(cloud, "service", "set", "--disable", "designate", formatted=False)
    assert "dns" not in {entry["Type"] for entry in openstack(cloud, "catalog", "list")}
    openstack(cloud, "service", "delete", "designate", formatted=False)
    assert "designate" not in {row["Name"] for row in openstack(cloud, "service", "list")}
    assert public["id"] not in {row["ID"] for row in openstack(cloud, "endpoint", "list")}


def test_an_endpoint_of_no_service_or_region_is_refused_in_keystones_shape(cloud: IdentityCloud) -> None:
    service = openstack(cloud, "service", "create", "--name", "placement", "placement")
    token = openstack(cloud, "token", "issue")["id"]
    with httpx.Client(
        base_url=f"{cloud.base_url}/identity/v3", headers={"X-Auth-Token": token}, timeout=WAIT_SECONDS
    ) as http:
        endpoint = {
            "service_id": service["id"],
            "interface": "public",
            "url": "http://x",
            "region_id": "nowhere",
        }
        refused = http.post("/endpoints", json={"endpoint": endpoint})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == 400
        no_service = http.post(
            "/endpoints", json={"endpoint": {**endpoint, "service_id": "nope", "region_id": None}}
        )
        assert no_service.status_code == 404
        bad_interface = http.post("/endpoints", json={"endpoint": {**endpoint, "interface": "private"}})
        assert bad_interface.status_code == 400
        assert http.post("/services", json={"service": {"name": "typeless"}}).status_code == 400
        assert http.get("/services/nope").json()["error"]["code"] == 404
