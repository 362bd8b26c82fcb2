"""The image service as Glance's clients use it beyond images: metadata definitions, tasks, several stores
(`stores=` uploads, copy-image) with the `os_glance_*` import properties, JSON-patch v2.0 and an empty
image id, through openstacksdk (`conn.image.*`), the `openstack` CLI and raw HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from overcast.image.settings import ImageSettings
from tests.support.cloud import InProcessCloud
from tests.support.waiting import WAIT_SECONDS

DATA = b"overcast image catalog " * 4096


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    data_dir = tmp_path_factory.mktemp("image-catalog")
    settings = ImageSettings(size_cap=64 * 1024 * 1024, enabled_stores=("fast:file", "cheap:file"))
    running = InProcessCloud(data_dir, image_settings=settings, compute_hosts=("compute-1",))
    yield running
    running.stop()


def image_url(conn: Connection, path: str) -> str:
    return conn.image.get_endpoint().rstrip("/") + path


def stores_of(conn: Connection, image_id: str) -> list[str]:
    shown = conn.session.get(image_url(conn, f"/images/{image_id}")).json()
    return sorted(store for store in shown.get("stores", "").split(",") if store)


def wait_for(check: Any, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# --- metadata definitions -------------------------------------------------------------------------
def test_metadef_namespace_lifecycle_with_openstacksdk(admin: Connection, demo: Connection) -> None:
    created = admin.image.create_metadef_namespace(namespace="OS::Overcast::Demo", display_name="Demo")
    assert (created.namespace, created.visibility, created.is_protected) == (
        "OS::Overcast::Demo",
        "private",
        False,
    )
    assert "OS::Overcast::Demo" in {ns.namespace for ns in admin.image.metadef_namespaces()}
    # Private and another project's: the demo user neither sees nor lists it, and may not create one.
    assert "OS::Overcast::Demo" not in {ns.namespace for ns in demo.image.metadef_namespaces()}
    with pytest.raises(sdk_exceptions.NotFoundException):
        demo.image.get_metadef_namespace("OS::Overcast::Demo")
    with pytest.raises(sdk_exceptions.ForbiddenException):
        demo.image.create_metadef_namespace(namespace="mine")
    with pytest.raises(sdk_exceptions.ConflictException):
        admin.image.create_metadef_namespace(namespace="OS::Overcast::Demo")

    admin.image.update_metadef_namespace(created, description="A description", visibility="public")
    shown = demo.image.get_metadef_namespace("OS::Overcast::Demo")
    assert (shown.description, shown.display_name, shown.visibility) == ("A description", "Demo", "public")

    obj = admin.image.create_metadef_object(
        namespace=created,
        name="cpu",
        description="CPU",
        required=["cores"],
        properties={"cores": {"title": "Cores", "type": "integer"}},
    )
    assert (obj.name, obj.required) == ("cpu", ["cores"])
    assert [o.name for o in demo.image.metadef_objects(created.namespace)] == ["cpu"]
    renamed = admin.image.update_metadef_object(
        "cpu", namespace=created.namespace, name="processor", description="The CPU"
    )
    assert (renamed.name, renamed.description) == ("processor", "The CPU")

    prop = admin.image.create_metadef_property(
        created.namespace,
        name="hw_watchdog_action",
        title="Watchdog",
        type="string",
        enum=["reset", "poweroff"],
    )
    assert prop.enum == ["reset", "poweroff"]
    admin.image.update_metadef_property(
        prop, created.namespace, name="hw_watchdog_action", title="Watch", type="string"
    )
    assert admin.image.get_metadef_property("hw_watchdog_action", created).title == "Watch"
    assert [p.name for p in admin.image.metadef_properties(created)] == ["hw_watchdog_action"]
    with pytest.raises(sdk_exceptions.BadRequestException):
        admin.image.create_metadef_property(created.namespace, name="untyped", title="No type")

    association = admin.image.create_metadef_resource_type_association(
        metadef_namespace=created.namespace, name="OS::Glance::Image", prefix="hw_"
    )
    assert (association.name, association.prefix) == ("OS::Glance::Image", "hw_")
    assert "OS::Glance::Image" in {rt.name for rt in admin.image.metadef_resource_types()}
    assert [a.name for a in admin.image.metadef_resource_type_associations(metadef_namespace=created)] == [
        "OS::Glance::Image"
    ]

    namespace = admin.image.get_metadef_namespace(created.namespace)
    namespace.add_tag(admin.image, "t1")
    namespace.set_tags(admin.image, ["t2", "t3"], append=True)
    namespace.fetch_tags(admin.image)
    assert sorted(tag["name"] for tag in namespace.tags) == ["t1", "t2", "t3"]
    namespace.remove_tag(admin.image, "t1")
    namespace.set_tags(admin.image, ["t9"])
    namespace.fetch_tags(admin.image)
    assert [tag["name"] for tag in namespace.tags] == ["t9"]

    # Protected: neither it nor what it holds can be deleted until it is unprotected.
    admin.image.update_metadef_namespace(created, protected=True)
    with pytest.raises(sdk_exceptions.ForbiddenException):
        admin.image.delete_metadef_namespace(created)
    with pytest.raises(sdk_exceptions.ForbiddenException):
        admin.image.delete_metadef_property(prop, created)
    admin.image.update_metadef_namespace(created, protected=False)
    admin.image.delete_metadef_resource_type_association("OS::Glance::Image", metadef_namespace=created)
    admin.image.delete_metadef_namespace(created)
    with pytest.raises(sdk_exceptions.NotFoundException):
        admin.image.get_metadef_namespace(created.namespace)


def test_metadef_schemas_describe_what_the_api_takes(demo: Connection) -> None:
    for name in ("namespace", "namespaces", "object", "objects", "property", "properties", "tag", "tags",
                 "resource_type", "resource_types"):  # fmt: skip
        response = demo.session.get(image_url(demo, f"/schemas/metadefs/{name}"))
        assert response.status_code == 200, name
    namespace = demo.image.get_metadef_namespace_schema()
    assert namespace.properties["namespace"]["maxLength"] == 80
    assert namespace.additional_properties is False


def test_metadef_cli(cloud: InProcessCloud) -> None:
    cloud.openstack(
        "image",
        "metadef",
        "namespace",
        "create",
        "--public",
        "--description",
        "From the CLI",
        "cli-namespace",
        user="overcast-admin",
    )
    listed = cloud.openstack("image", "metadef", "namespace", "list", "-f", "json")
    assert "cli-namespace" in {item["namespace"] for item in listed}
    cloud.openstack(
        "image",
        "metadef",
        "property",
        "create",
        "--name",
        "hw_disk_bus",
        "--title",
        "Bus",
        "--type",
        "string",
        "--schema",
        '{"enum": ["virtio", "scsi"]}',
        "cli-namespace",
        user="overcast-admin",
    )
    shown = cloud.openstack(
        "image", "metadef", "property", "show", "cli-namespace", "hw_disk_bus", "-f", "json"
    )
    assert (shown["title"], shown["enum"]) == ("Bus", ["virtio", "scsi"])
    shown = cloud.openstack("image", "metadef", "namespace", "show", "cli-namespace", "-f", "json")
    assert shown["description"] == "From the CLI"
    cloud.openstack("image", "metadef", "namespace", "delete", "cli-namespace", user="overcast-admin")


# --- stores, imports and their tasks --------------------------------------------------------------
def test_two_filesystem_stores_uploads_copies_and_import_properties(
    cloud: InProcessCloud, admin: Connection, demo: Connection
) -> None:
    stores = {store.id: store for store in admin.image.stores()}
    assert set(stores) == {"fast", "cheap"} and stores["fast"].is_default
    image = demo.image.create_image(name="two-stores", disk_format="raw", container_format="bare")
    response = demo.session.put(
        image_url(demo, f"/images/{image.id}/file"),
        data=DATA,
        headers={"Content-Type": "application/octet-stream", "X-Image-Meta-Store": "cheap"},
    )
    assert response.status_code == 204
    assert stores_of(demo, image.id) == ["cheap"]
    assert (cloud.data_dir / "images-cheap" / image.id).read_bytes() == DATA

    # copy-image (an admin's) to the other store: a task records it, the image's properties follow it.
    admin.image.import_image(admin.image.get_image(image.id), method="copy-image", stores=["fast"])
    assert wait_for(lambda: stores_of(admin, image.id) == ["cheap", "fast"])
    assert wait_for(lambda: admin.image.get_image(image.id).properties.get("os_glance_import_task") is None)
    properties = admin.session.get(image_url(admin, f"/images/{image.id}")).json()
    assert properties["os_glance_importing_to_stores"] == ""
    assert properties["os_glance_failed_import"] == ""
    assert "os_glance_import_task" not in properties
    tasks = admin.session.get(image_url(admin, f"/images/{image.id}/tasks")).json()["tasks"]
    assert [(t["type"], t["status"], t["result"]) for t in tasks] == [
        ("api_image_import", "success", {"image_id": image.id})
    ]
    listed = list(admin.image.tasks())
    assert tasks[0]["id"] in {task.id for task in listed}
    assert admin.image.get_task(tasks[0]["id"]).status == "success"
    # Tasks are admins' (Glance's tasks_api_access); an image's own are its viewers'.
    with pytest.raises(sdk_exceptions.ForbiddenException):
        list(demo.image.tasks())
    assert demo.session.get(image_url(demo, f"/images/{image.id}/tasks"), raise_exc=False).status_code == 200
    # Already in both: nothing to copy.
    again = admin.session.post(
        image_url(admin, f"/images/{image.id}/import"),
        json={"method": {"name": "copy-image"}, "stores": ["fast"]},
        raise_exc=False,
    )
    assert again.status_code == 409
    # The properties are Glance's to keep.
    refused = demo.session.patch(
        image_url(demo, f"/images/{image.id}"),
        json=[{"op": "add", "path": "/os_glance_failed_import", "value": "fast"}],
        headers={"Content-Type": "application/openstack-images-v2.1-json-patch"},
        raise_exc=False,
    )
    assert refused.status_code == 403


def test_glance_direct_import_makes_a_task(admin: Connection, demo: Connection) -> None:
    image = demo.image.create_image(name="staged", disk_format="raw", container_format="bare")
    demo.image.stage_image(image, data=DATA)
    demo.image.import_image(image, method="glance-direct", stores=["fast", "cheap"])
    active = wait_for(lambda: demo.image.get_image(image.id).status == "active")
    assert active
    tasks = demo.session.get(image_url(demo, f"/images/{image.id}/tasks")).json()["tasks"]
    assert [(t["status"], t["input"]["backend"]) for t in tasks] == [("success", ["fast", "cheap"])]
    assert stores_of(demo, image.id) == ["cheap", "fast"]


# --- request shapes -------------------------------------------------------------------------------
def test_json_patch_v2_0_and_an_empty_image_id(demo: Connection) -> None:
    image = demo.image.create_image(name="patched", disk_format="raw", container_format="bare")
    response = demo.session.patch(
        image_url(demo, f"/images/{image.id}"),
        json=[{"replace": "/name", "value": "renamed"}, {"add": "/os_distro", "value": "debian"}],
        headers={"Content-Type": "application/openstack-images-v2.0-json-patch"},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["os_distro"]) == ("renamed", "debian")
    bad = demo.session.patch(
        image_url(demo, f"/images/{image.id}"),
        json=[{"op": "replace", "path": "/name", "value": "x"}],
        headers={
            "Content-Type": "application/openstack-images-v2.0-json-patch",
            "Accept": "application/json",
        },
        raise_exc=False,
    )
    assert bad.status_code == 400 and bad.json()["title"] == "Bad Request"
    for method in ("GET", "DELETE"):
        empty = demo.session.request(
            image_url(demo, "/images/"), method, headers={"Accept": "application/json"}, raise_exc=False
        )
        assert empty.status_code == 404, method
        assert empty.json()["code"] == "404 Not Found"
    demo.image.delete_image(image)


def test_stores_imports_and_tasks_with_the_cli(cloud: InProcessCloud, tmp_path: Path) -> None:
    stores = cloud.openstack("image", "stores", "list", "-f", "json")
    assert {(store["ID"], bool(store.get("Default"))) for store in stores} == {
        ("fast", True),
        ("cheap", False),
    }
    data = tmp_path / "disk.raw"
    data.write_bytes(DATA)
    image = cloud.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare",
                            "--file", str(data), "--import", "cli-imported", "-f", "json")  # fmt: skip
    assert wait_for(lambda: cloud.openstack("image", "show", image["id"], "-f", "json")["status"] == "active")
    cloud.openstack(  # --store takes several ids: the image goes first
        "image", "import", image["id"], "--method", "copy-image", "--store", "cheap", user="overcast-admin"
    )
    tasks = wait_for(
        lambda: [
            task for task in cloud.openstack("image", "task", "list", "-f", "json", user="overcast-admin")
            if task["Status"] == "success"
        ]
    )  # fmt: skip
    assert len(tasks) >= 2
    shown = cloud.openstack("image", "task", "show", tasks[0]["ID"], "-f", "json", user="overcast-admin")
    assert shown["type"] == "api_image_import" and shown["status"] == "success"
    assert wait_for(lambda: cloud.openstack("image", "show", image["id"], "-f", "json")["properties"].get(
        "os_glance_importing_to_stores") == "")  # fmt: skip
    assert cloud.openstack("image", "task", "list", check=False).returncode != 0  # a member: 403
