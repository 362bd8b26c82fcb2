"""What the Block Storage API says about itself, through real HTTP: openstacksdk's extensions and
resource_filters, the `openstack` CLI, and raw requests at microversions below and above 3.33."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import httpx
import pytest
from openstack.block_storage.v3._proxy import Proxy as BlockStorage
from openstack.connection import Connection

from tests.support.cloud import InProcessCloud, project_token
from tests.support.volume_host import add_volume_host
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("volume_discovery"))
    add_volume_host(running)
    yield running
    running.stop()


def _v3(conn: Connection) -> BlockStorage:
    return cast(BlockStorage, conn.block_storage)


def test_extensions_list_what_is_served(cloud: InProcessCloud, demo: Connection) -> None:
    extensions = {extension.alias: extension for extension in _v3(demo).extensions()}
    assert {"os-volume-actions", "backups", "os-volume-transfer", "qos-specs", "os-quota-sets"} <= set(
        extensions
    )
    # Nothing Overcast does not serve: clients switch features on from this list.
    assert not set(extensions) & {"consistencygroups", "cgsnapshots", "os-volume-manage", "os-hosts"}
    assert all(
        isinstance(extension.updated_at, str) and extension.description for extension in extensions.values()
    )
    listed = cloud.openstack("extension", "list", "--volume", "-f", "json")
    assert {row["Alias"] for row in listed} == set(extensions)


def test_resource_filters_are_what_the_lists_honour(cloud: InProcessCloud, demo: Connection) -> None:
    block_storage = _v3(demo)
    filters = {entry.resource: entry.filters for entry in block_storage.resource_filters()}
    resources = {"volume", "snapshot", "backup", "attachment", "volume_type", "group", "group_snapshot"}
    assert set(filters) == resources
    assert {"name", "status", "metadata", "bootable", "availability_zone"} <= set(filters["volume"])
    (volume_only,) = block_storage.resource_filters(resource="volume")
    assert volume_only.filters == filters["volume"]
    assert list(block_storage.resource_filters(resource="message")) == []

    first = block_storage.create_volume(size=1, name="filtered-a", metadata={"tier": "gold"})
    second = block_storage.create_volume(size=1, name="filtered-b")
    for volume in (first, second):
        wait_until(lambda v=volume: block_storage.get_volume(v.id).status == "available", timeout=30)
    # Each filter listed narrows the list (the ones these two volumes differ in).
    assert [v.id for v in block_storage.volumes(name="filtered-a")] == [first.id]
    assert {v.id for v in block_storage.volumes(status="available")} == {first.id, second.id}
    for volume in (first, second):
        block_storage.delete_volume(volume)

    listed = cloud.openstack(
        "--os-volume-api-version", "3.33", "block", "storage", "resource", "filter", "list", "-f", "json"
    )
    assert {row["Resource"] for row in listed} == set(filters)


def test_resource_filters_need_3_33(cloud: InProcessCloud) -> None:
    token = project_token(cloud, "demo")
    url = f"{cloud.base_url}/volume/v3/resource_filters"
    for version, status in (("3.32", 404), ("3.33", 200), ("3.71", 200)):
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": f"volume {version}"}
        assert httpx.get(url, headers=headers, timeout=30).status_code == status
    old = httpx.get(url, headers={"X-Auth-Token": token}, timeout=30)
    assert old.status_code == 404 and old.json()["itemNotFound"]["code"] == 404
    unauthenticated = httpx.get(url, headers={"OpenStack-API-Version": "volume 3.33"}, timeout=30)
    assert unauthenticated.status_code == 401


def test_capabilities_of_the_volume_host(cloud: InProcessCloud, admin: Connection, demo: Connection) -> None:
    block_storage = _v3(admin)
    host = next(service.host for service in block_storage.services() if service.binary == "cinder-volume")
    assert host == "volume-1@pool"
    capabilities = block_storage.get_capabilities(host)
    assert capabilities.volume_backend_name == "pool" and capabilities.storage_protocol == "fake"
    assert set(capabilities.properties) == {"multiattach", "thin_provisioning"}
    shown = cloud.openstack(
        "volume", "backend", "capability", "show", host, "-f", "json", user="overcast-admin"
    )
    assert {row["Key"] for row in shown} == {"multiattach", "thin_provisioning"}
    token = project_token(cloud, "demo")
    url = f"{cloud.base_url}/volume/v3/capabilities/{host}"
    forbidden = httpx.get(url, headers={"X-Auth-Token": token}, timeout=30)
    assert forbidden.status_code == 403 and "forbidden" in forbidden.json()
    admin_token = project_token(cloud, "admin")
    missing = httpx.get(f"{url}-nowhere", headers={"X-Auth-Token": admin_token}, timeout=30)
    assert missing.status_code == 404 and missing.json()["itemNotFound"]["message"].startswith("Can't find")
