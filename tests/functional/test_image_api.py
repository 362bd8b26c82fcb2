"""The Image API driven by the real `openstack` CLI, openstacksdk and raw HTTP, against a whole cloud
in one process (API over real HTTP, conductor, scheduler, a fake compute host)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from overcast.image.settings import ImageSettings
from tests.support.cloud import InProcessCloud
from tests.support.waiting import WAIT_SECONDS

MIB = 1024 * 1024
SIZE_CAP = 8 * MIB


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(
        tmp_path_factory.mktemp("image-cloud"),
        compute_hosts=("compute-1",),
        image_settings=ImageSettings(size_cap=SIZE_CAP),
    )
    yield running
    running.stop()


def http(cloud: InProcessCloud, conn: Connection) -> httpx.Client:
    return httpx.Client(
        base_url=f"{cloud.base_url}/image/v2",
        headers={"X-Auth-Token": conn.auth_token, "Accept": "application/json"},
        timeout=30,
    )


@pytest.mark.slow
def test_openstack_cli_image_lifecycle(cloud: InProcessCloud, admin: Connection, tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 123)
    source = tmp_path / "disk.raw"
    source.write_bytes(data)
    created = cloud.openstack(
        "image", "create", "--file", str(source), "--disk-format", "raw", "--container-format", "bare",
        "--property", "hw_architecture=x86_64", "cli-image", "-f", "json",
    )  # fmt: skip
    assert created["status"] == "active" and created["size"] == len(data)
    assert created["checksum"] == hashlib.md5(data).hexdigest()

    listed = cloud.openstack("image", "list", "-f", "json")
    assert {"cli-image", "overcast-tiny"} <= {item["Name"] for item in listed}
    cloud.openstack("image", "set", "--property", "hw_disk_bus=virtio", "--min-ram", "64", "--tag", "web",
                    "cli-image")  # fmt: skip
    shown = cloud.openstack("image", "show", "cli-image", "-f", "json")
    assert shown["min_ram"] == 64 and shown["tags"] == ["web"]
    assert shown["properties"]["hw_disk_bus"] == "virtio"
    assert shown["properties"]["hw_architecture"] == "x86_64"

    saved = tmp_path / "saved.raw"
    cloud.openstack("image", "save", "--file", str(saved), "cli-image")
    assert saved.read_bytes() == data

    # Share with the admin project; it sees the image in its list once it accepted.
    admin_project = admin.current_project_id
    cloud.openstack("image", "add", "project", created["id"], admin_project)
    cloud.openstack("image", "set", "--accept", created["id"], user="overcast-admin")
    members = cloud.openstack("image", "member", "list", created["id"], "-f", "json")
    assert [(m["Member ID"], m["Status"]) for m in members] == [(admin_project, "accepted")]

    cloud.openstack("image", "delete", "cli-image")
    assert "cli-image" not in {item["Name"] for item in cloud.openstack("image", "list", "-f", "json")}


@pytest.mark.slow
def test_boot_a_server_from_an_uploaded_image(
    cloud: InProcessCloud, demo: Connection, tmp_path: Path
) -> None:
    disk = tmp_path / "boot.raw"
    disk.write_bytes(os.urandom(MIB))
    with disk.open("rb") as source:  # openstacksdk leaves a file it opens from filename= open
        image = demo.image.create_image("bootable", data=source, disk_format="raw",
                                        container_format="bare",
                                        min_ram=128, hw_disk_bus="virtio")  # fmt: skip
    assert demo.image.get_image(image.id).status == "active"
    # openstacksdk, since `openstack server create` sends block_device_mapping_v2, which the compute API
    # does not take yet.
    flavor = demo.compute.find_flavor("m1.tiny", ignore_missing=False)
    created = demo.compute.create_server(
        name="booted", image_id=image.id, flavor_id=flavor.id, networks="none"
    )
    server = demo.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30)
    assert server.image["id"] == image.id
    spec = cloud.driver.hypervisor.vms[server.id].spec  # the fake hypervisor's record of what it booted
    assert spec.image.id == image.id
    assert spec.image.properties["hw_disk_bus"] == "virtio"
    assert spec.image.properties["os_hash_algo"] == "sha512"
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=0.1, wait=30)


def test_sdk_import_flow_and_stores(cloud: InProcessCloud, demo: Connection) -> None:
    assert [store.id for store in demo.image.stores()] == ["file"]
    assert "glance-direct" in demo.image.get_import_info().import_methods["value"]
    image = demo.image.create_image("imported", data=b"imported bytes" * 1000, disk_format="raw",
                                    container_format="bare", use_import=True,
                                    validate_checksum=False)  # fmt: skip
    final = demo.image.wait_for_status(image, status="active", failures=["queued"], interval=0.1, wait=30)
    assert final.checksum == hashlib.md5(b"imported bytes" * 1000).hexdigest()
    assert final.store == "file" or final.properties.get("stores") == "file"
    demo.image.delete_image(final)


def _json_error(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    assert set(body) == {"message", "code", "title"}
    assert body["code"].startswith(str(response.status_code))
    return str(body["message"])


def test_bad_input_is_refused_cleanly(cloud: InProcessCloud, demo: Connection) -> None:
    client = http(cloud, demo)
    created = client.post("/images", json={"name": "bad", "disk_format": "qcow2", "container_format": "bare"})
    assert created.status_code == 201
    image_id = created.json()["id"]
    assert created.headers["OpenStack-image-import-methods"] == "glance-direct,copy-image"

    # Download of a queued image: 204, as Glance answers.
    assert client.get(f"/images/{image_id}/file").status_code == 204
    assert client.get(f"/images/{os.urandom(4).hex()}/file").status_code == 404

    octets = {"Content-Type": "application/octet-stream"}
    wrong = client.put(f"/images/{image_id}/file", content=os.urandom(100_000), headers=octets)
    assert wrong.status_code == 400 and "not qcow2" in _json_error(wrong)

    patch = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
    for operations, status in (
        ([{"op": "replace", "path": "/name/extra", "value": "x"}], 400),
        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
        ([{"op": "remove", "path": "/no_such_property"}], 409),
        ([{"op": "replace", "path": "/disk_format", "value": "vmdk"}], 400),
    ):
        response = client.patch(f"/images/{image_id}", json=operations, headers=patch)
        assert response.status_code == status, response.text
        _json_error(response)
    wrong_type = client.patch(f"/images/{image_id}", json=[], headers={"Content-Type": "application/json"})
    assert wrong_type.status_code == 415

    fixed = client.patch(f"/images/{image_id}", headers=patch,
                         json=[{"op": "replace", "path": "/disk_format", "value": "raw"}])  # fmt: skip
    assert fixed.json()["disk_format"] == "raw"

    too_large = client.put(f"/images/{image_id}/file", content=bytes(SIZE_CAP + 1), headers=octets)
    assert too_large.status_code == 413
    streamed_too_large = client.put(f"/images/{image_id}/file", headers=octets,
                                    content=iter([bytes(MIB)] * 9))  # fmt: skip
    assert streamed_too_large.status_code == 413
    assert client.get(f"/images/{image_id}").json()["status"] == "queued"

    data = os.urandom(MIB + 1)
    assert client.put(f"/images/{image_id}/file", content=data, headers=octets).status_code == 204
    again = client.put(f"/images/{image_id}/file", content=b"more", headers=octets)
    assert again.status_code == 409

    whole = client.get(f"/images/{image_id}/file")
    assert whole.content == data and whole.headers["Content-MD5"] == hashlib.md5(data).hexdigest()
    part = client.get(f"/images/{image_id}/file", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert client.get(f"/images/{image_id}/file", headers={"Range": "bytes=9999999-"}).status_code == 416

    html = client.get(f"/images/{os.urandom(4).hex()}", headers={"Accept": "*/*"})
    assert html.status_code == 404 and html.headers["content-type"].startswith("text/html")
    assert client.delete(f"/images/{image_id}").status_code == 204


def test_only_admins_publish_and_lists_page(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    client = http(cloud, demo)
    refused = client.post("/images", json={"name": "pub", "visibility": "public"})
    assert refused.status_code == 403
    ids = {
        client.post("/images", json={"name": f"page-{n}", "tags": ["paged"]}).json()["id"] for n in range(5)
    }
    page = client.get("/images", params={"tag": "paged", "limit": 2, "sort": "name:asc"}).json()
    assert [image["name"] for image in page["images"]] == ["page-0", "page-1"]
    assert page["next"].startswith("/v2/images?")
    assert {image.id for image in demo.image.images(tag="paged")} == ids
    assert {image.id for image in admin.image.images(tag="paged")} == ids  # admins see every project's
    for image_id in ids:
        demo.image.delete_image(image_id)


def test_versions_and_schemas(cloud: InProcessCloud, demo: Connection) -> None:
    root = httpx.get(f"{cloud.base_url}/image", timeout=WAIT_SECONDS)
    assert root.status_code == 300
    assert root.json()["versions"][0] == {
        "id": "v2.16", "status": "CURRENT", "links": [{"rel": "self", "href": f"{cloud.base_url}/image/v2/"}]
    }  # fmt: skip
    schema = demo.image.get_image_schema()
    assert "disk_format" in schema.properties
    client = http(cloud, demo)
    for name in ("images", "member", "members"):
        assert client.get(f"/schemas/{name}").json()["name"] == name
