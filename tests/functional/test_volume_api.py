"""The Block Storage v3 API through real HTTP: openstacksdk's block_storage proxy, the `openstack volume`
CLI and raw requests against the in-process cloud with a volume host on the fake volume driver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from openstack.block_storage.v3._proxy import Proxy as BlockStorage
from openstack.connection import Connection

from tests.support.cloud import InProcessCloud, project_token
from tests.support.volume_host import VOLUME_HOST, add_volume_host
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("volume_api"))
    add_volume_host(running)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def demo_token(cloud: InProcessCloud) -> str:
    return project_token(cloud, "demo")


def _request(
    cloud: InProcessCloud,
    token: str | None,
    method: str,
    path: str,
    *,
    version: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    headers = {"X-Auth-Token": token} if token else {}
    if version:
        headers["OpenStack-API-Version"] = f"volume {version}"
    return httpx.request(method, f"{cloud.base_url}{path}", headers=headers, timeout=30, **kwargs)


def _v3(conn: Connection) -> BlockStorage:
    """The block_storage proxy as the v3 one the catalog gives (openstacksdk types it as v2 or v3)."""
    return cast(BlockStorage, conn.block_storage)


def _wait_status(conn: Connection, volume_id: str, status: str) -> Any:
    def reached() -> Any:
        volume = conn.block_storage.get_volume(volume_id)
        assert volume.status != "error", volume
        return volume if volume.status == status else None

    return wait_until(reached, timeout=30)


def test_version_documents_need_no_token(cloud: InProcessCloud) -> None:
    root = _request(cloud, None, "GET", "/volume/")
    assert root.status_code == 300
    (v3,) = root.json()["versions"]
    assert (v3["id"], v3["min_version"], v3["version"], v3["status"]) == ("v3.0", "3.0", "3.71", "CURRENT")
    assert _request(cloud, None, "GET", "/volume/v3/").json()["versions"][0]["id"] == "v3.0"


def test_microversions_are_echoed_and_bounded(cloud: InProcessCloud, demo_token: str) -> None:
    plain = _request(cloud, demo_token, "GET", "/volume/v3/volumes")
    assert plain.status_code == 200 and plain.headers["OpenStack-API-Version"] == "volume 3.0"
    latest = _request(cloud, demo_token, "GET", "/volume/v3/volumes", version="latest")
    assert latest.headers["OpenStack-API-Version"] == "volume 3.71"
    too_new = _request(cloud, demo_token, "GET", "/volume/v3/volumes", version="3.72")
    assert too_new.status_code == 406
    malformed = _request(cloud, demo_token, "GET", "/volume/v3/volumes", version="3.x")
    assert malformed.status_code == 400 and "badRequest" in malformed.json()


def test_openstacksdk_volume_lifecycle(cloud: InProcessCloud) -> None:
    demo = cloud.connect("demo")
    volume = demo.block_storage.create_volume(size=1, name="data", metadata={"purpose": "test"})
    volume = _wait_status(demo, volume.id, "available")
    assert (volume.size, volume.name, volume.volume_type) == (1, "data", "__DEFAULT__")
    assert volume.metadata == {"purpose": "test"}
    listed = [v.id for v in demo.block_storage.volumes(details=True, name="data")]
    assert listed == [volume.id]
    demo.block_storage.extend_volume(volume, 2)
    volume = _wait_status(demo, volume.id, "available")
    assert volume.size == 2
    demo.block_storage.set_volume_bootable_status(volume, True)
    assert demo.block_storage.get_volume(volume.id).is_bootable is True
    demo.block_storage.delete_volume(volume)
    demo.block_storage.wait_for_delete(volume, wait=30)


def test_attachments_api_flow(cloud: InProcessCloud, demo_token: str) -> None:
    demo = cloud.connect("demo")
    volume = _wait_status(demo, demo.block_storage.create_volume(size=1).id, "available")
    connector = {
        "host": "compute-1",
        "initiator": "iqn.2010-10.org.overcast:host:compute-1",
        "ip": "127.0.0.1",
    }
    created = _request(
        cloud,
        demo_token,
        "POST",
        "/volume/v3/attachments",
        version="3.54",
        json={"attachment": {"volume_uuid": volume.id, "instance_uuid": "server-1", "mode": "rw"}},
    )
    assert created.status_code == 200, created.text
    attachment = created.json()["attachment"]
    assert attachment["status"] == "reserved"
    below = _request(cloud, demo_token, "GET", "/volume/v3/attachments", version="3.26")
    assert below.status_code == 404
    updated = _request(
        cloud,
        demo_token,
        "PUT",
        f"/volume/v3/attachments/{attachment['id']}",
        version="3.54",
        json={"attachment": {"connector": connector}},
    )
    assert updated.json()["attachment"]["connection_info"]["driver_volume_type"] == "fake"
    done = _request(
        cloud,
        demo_token,
        "POST",
        f"/volume/v3/attachments/{attachment['id']}/action",
        version="3.54",
        json={"os-complete": None},
    )
    assert done.status_code == 204
    shown = demo.block_storage.get_volume(volume.id)
    assert shown.status == "in-use" and shown.attachments[0]["server_id"] == "server-1"

    # Deleting an attached volume and attaching it again are clear 400s in Cinder's shape.
    refused = _request(cloud, demo_token, "DELETE", f"/volume/v3/volumes/{volume.id}")
    assert refused.status_code == 400 and "attached" in refused.json()["badRequest"]["message"]
    again = _request(
        cloud,
        demo_token,
        "POST",
        "/volume/v3/attachments",
        version="3.54",
        json={"attachment": {"volume_uuid": volume.id, "instance_uuid": "server-2"}},
    )
    assert again.status_code == 400

    removed = _request(
        cloud, demo_token, "DELETE", f"/volume/v3/attachments/{attachment['id']}", version="3.54"
    )
    assert removed.status_code == 200 and removed.json() == {"attachments": []}
    assert demo.block_storage.get_volume(volume.id).status == "available"
    demo.block_storage.delete_volume(volume)


@pytest.mark.parametrize(
    ("body", "status", "fault"),
    [
        ({"volume": {"size": 0}}, 400, "badRequest"),
        ({"volume": {"size": -1}}, 400, "badRequest"),
        ({"volume": {"size": "big"}}, 400, "badRequest"),
        ({"volume": {"size": 1, "volume_type": "no-such-type"}}, 404, "itemNotFound"),
        ({"volume": {"size": 1, "availability_zone": "elsewhere"}}, 400, "badRequest"),
        ({"volume": {"size": 100000}}, 413, "overLimit"),
        ({"volume": {"size": 1, "bogus": 1}}, 400, "badRequest"),
        ({"size": 1}, 400, "badRequest"),
    ],
)
def test_bad_volume_creates_are_clear_4xx_and_make_nothing(
    cloud: InProcessCloud, demo_token: str, body: dict[str, Any], status: int, fault: str
) -> None:
    before = _request(cloud, demo_token, "GET", "/volume/v3/volumes").json()["volumes"]
    response = _request(cloud, demo_token, "POST", "/volume/v3/volumes", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {fault} and response.json()[fault]["code"] == status
    assert _request(cloud, demo_token, "GET", "/volume/v3/volumes").json()["volumes"] == before


def test_shrink_and_another_projects_volume(cloud: InProcessCloud, demo_token: str) -> None:
    admin = cloud.connect("admin")
    volume = _wait_status(admin, admin.block_storage.create_volume(size=2).id, "available")
    shrink = _request(
        cloud,
        project_token(cloud, "admin"),
        "POST",
        f"/volume/v3/volumes/{volume.id}/action",
        json={"os-extend": {"new_size": 1}},
    )
    assert shrink.status_code == 400 and "greater than current size" in shrink.json()["badRequest"]["message"]
    for method, path, body in [
        ("GET", f"/volume/v3/volumes/{volume.id}", None),
        ("DELETE", f"/volume/v3/volumes/{volume.id}", None),
        ("POST", f"/volume/v3/volumes/{volume.id}/action", {"os-extend": {"new_size": 3}}),
    ]:
        response = _request(cloud, demo_token, method, path, json=body)
        assert response.status_code == 404 and "itemNotFound" in response.json(), (method, path)
    admin.block_storage.delete_volume(volume)


def test_project_id_urls_and_catalog(cloud: InProcessCloud, demo_token: str) -> None:
    demo = cloud.connect("demo")
    endpoint = demo.block_storage.get_endpoint()
    assert endpoint is not None
    assert endpoint.rstrip("/").endswith(f"/volume/v3/{demo.current_project_id}")
    with_project = _request(cloud, demo_token, "GET", f"/volume/v3/{demo.current_project_id}/volumes/detail")
    assert with_project.status_code == 200
    other = _request(cloud, demo_token, "GET", "/volume/v3/not-my-project/volumes")
    assert other.status_code == 400 and "Malformed request url" in other.json()["badRequest"]["message"]


def test_types_qos_quotas_limits_services_zones(cloud: InProcessCloud) -> None:
    admin = cloud.connect("admin")
    demo = cloud.connect("demo")
    fast = admin.block_storage.create_type(name="fast", extra_specs={"volume_backend_name": "pool"})
    qos = admin.block_storage.create_qos_spec(name="capped", consumer="front-end", write_bytes_sec="1048576")
    _v3(admin).associate_qos_spec(qos.id, fast.id)
    volume = _wait_status(demo, demo.block_storage.create_volume(size=1, volume_type="fast").id, "available")
    assert volume.volume_type == "fast"
    quotas = _v3(admin).get_quota_set(str(demo.current_project_id), usage=True)
    assert quotas.usage["volumes"] >= 1 and quotas.usage["volumes_fast"] == 1
    limits = demo.block_storage.get_limits()
    assert limits.absolute.total_volumes_used >= 1
    services = list(admin.block_storage.services())
    assert [(s.binary, s.host, s.state) for s in services] == [("cinder-volume", f"{VOLUME_HOST}@pool", "up")]
    zones = list(_v3(demo).availability_zones())
    assert [z.name for z in zones] == ["nova"]
    demo.block_storage.delete_volume(volume)
    demo.block_storage.wait_for_delete(volume, wait=30)
    _v3(admin).delete_type(fast.id)


def test_openstack_cli_volume_flow(cloud: InProcessCloud) -> None:
    created = cloud.openstack("volume", "create", "--size", "1", "cli-volume", "-f", "json")
    volume_id = created["id"]
    wait_until(
        lambda: cloud.openstack("volume", "show", volume_id, "-f", "json")["status"] == "available",
        timeout=30,
    )
    listed = cloud.openstack("volume", "list", "-f", "json")
    assert "cli-volume" in {row["Name"] for row in listed}
    cloud.openstack("volume", "set", "--size", "2", volume_id)
    wait_until(lambda: cloud.openstack("volume", "show", volume_id, "-f", "json")["size"] == 2, timeout=30)
    cloud.openstack("volume", "set", "--property", "tier=cold", "--bootable", volume_id)
    shown = cloud.openstack("volume", "show", volume_id, "-f", "json")
    assert shown["properties"] == {"tier": "cold"} and str(shown["bootable"]).lower() == "true"
    cloud.openstack("volume", "delete", volume_id)


def test_openstack_cli_admin_volume_commands(cloud: InProcessCloud) -> None:
    admin = "overcast-admin"
    cloud.openstack(
        "volume", "type", "create", "--property", "volume_backend_name=pool", "cli-cold", user=admin
    )
    cloud.openstack(
        "volume",
        "qos",
        "create",
        "--consumer",
        "front-end",
        "--property",
        "write_bytes_sec=10485760",
        "cli-capped",
        user=admin,
    )
    cloud.openstack("volume", "qos", "associate", "cli-capped", "cli-cold", user=admin)
    qos = cloud.openstack("volume", "qos", "show", "cli-capped", "-f", "json", user=admin)
    assert qos["consumer"] == "front-end" and qos["properties"] == {"write_bytes_sec": "10485760"}
    types = cloud.openstack("volume", "type", "list", "--long", "-f", "json", user=admin)
    assert {"cli-cold", "__DEFAULT__"} <= {row["Name"] for row in types}
    services = cloud.openstack("volume", "service", "list", "-f", "json", user=admin)
    assert [(row["Binary"], row["Status"], row["State"]) for row in services] == [
        ("cinder-volume", "enabled", "up")
    ]
    zones = cloud.openstack("availability", "zone", "list", "--volume", "-f", "json", user=admin)
    assert [row["Zone Name"] for row in zones] == ["nova"]
    cloud.openstack("volume", "qos", "disassociate", "--volume-type", "cli-cold", "cli-capped", user=admin)
    cloud.openstack("volume", "qos", "delete", "cli-capped", user=admin)
    cloud.openstack("volume", "type", "delete", "cli-cold", user=admin)
