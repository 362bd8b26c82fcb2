"""Stable rescue (2.87) of a volume-backed server through real HTTP: the rescue image boots first and the
root volume is the second disk; before 2.87, or with no image to rescue with, Nova's 400. The whole cloud
in-process (fake virt driver, a volume host on the fake volume driver)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from tests.functional.test_volume_attachments import WAIT, VolumeCloud, wait_volume
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.compute_api import settled


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VolumeCloud]:
    running = VolumeCloud(tmp_path_factory.mktemp("bfv-rescue"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cloud(volumes: VolumeCloud) -> InProcessCloud:
    return volumes.cloud


def boot_from_volume(demo: Connection, name: str, mapping: dict[str, Any]) -> Any:
    root = {"destination_type": "volume", "boot_index": 0, **mapping}
    body = {"server": {"name": name, "flavorRef": TINY, "imageRef": "", "networks": "none",
                       "block_device_mapping_v2": [root]}}  # fmt: skip
    response = demo.compute.post("/servers", json=body, microversion="2.79")
    assert response.status_code == 202, response.text
    created = demo.compute.get_server(response.json()["server"]["id"])
    return demo.compute.wait_for_server(created, failures=["ERROR"], **WAIT)


def action(demo: Connection, server: Any, body: dict[str, Any], version: str) -> Any:
    return demo.compute.post(f"/servers/{server.id}/action", json=body, microversion=version)


def test_a_volume_backed_server_is_rescued_from_2_87(volumes: VolumeCloud, demo: Connection) -> None:
    image = demo.image.create_image(
        name="rescue-raw", data=b"\x00" * 65536, disk_format="raw", container_format="bare"
    )
    server = boot_from_volume(
        demo, "bfv-rescued", {"source_type": "image", "uuid": image.id, "volume_size": 1,
                              "delete_on_termination": True},
    )  # fmt: skip
    try:
        refused = action(demo, server, {"rescue": None}, "2.86")
        assert refused.status_code == 400 and "volume-backed" in refused.text
        # No rescue image named: the one the root volume was made from.
        rescued = action(demo, server, {"rescue": {"adminPass": "Rescue-Me-1"}}, "2.87")
        assert rescued.status_code == 200, rescued.text
        assert rescued.json() == {"adminPass": "Rescue-Me-1"}
        settled(demo, server.id, "RESCUE")
        vm = volumes.compute.hypervisor.vms[server.id]
        assert vm.rescued and f"Booting rescue image {image.id}; original disk on /dev/vdb" in vm.console
        assert action(demo, server, {"unrescue": None}, "2.87").status_code == 202
        settled(demo, server.id, "ACTIVE")
        # Another image asked for by reference.
        assert action(demo, server, {"rescue": {"rescue_image_ref": IMAGE_ID}}, "2.87").status_code == 200
        settled(demo, server.id, "RESCUE")
        assert action(demo, server, {"unrescue": None}, "2.87").status_code == 202
        settled(demo, server.id, "ACTIVE")
    finally:
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, **WAIT)
        demo.image.delete_image(image)


def test_a_volume_not_made_from_an_image_needs_a_rescue_image(volumes: VolumeCloud, demo: Connection) -> None:
    blank = demo.block_storage.create_volume(name="blank-root", size=1)
    wait_volume(demo, blank, "available")
    server = boot_from_volume(demo, "bfv-blank", {"source_type": "volume", "uuid": blank.id})
    try:
        refused = action(demo, server, {"rescue": None}, "2.87")
        assert refused.status_code == 400 and "rescue_image_ref is required" in refused.text
        assert action(demo, server, {"rescue": {"rescue_image_ref": IMAGE_ID}}, "2.87").status_code == 200
        settled(demo, server.id, "RESCUE")
    finally:
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, **WAIT)
        wait_volume(demo, blank, "available")
        demo.block_storage.delete_volume(blank)
