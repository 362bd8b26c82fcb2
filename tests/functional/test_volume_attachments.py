"""os-volume_attachments through real HTTP: the whole cloud in-process (fake virt driver, a volume host on
the fake volume driver) driven by openstacksdk and the `openstack` CLI as users drive Nova and Cinder."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection
from sqlalchemy import select

from overcast.db.models.block_device_mapping import BlockDeviceMapping
from overcast.virt.driver import DriverError
from overcast.virt.fake import FakeDriver
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.volume_host import add_volume_host
from tests.support.waiting import wait_until
from tests.unit.volume.driver_contract import read_at, write_at

WAIT: dict[str, Any] = {"interval": 0.1, "wait": 30}
COMPUTE_HOST = "compute-1"


class VolumeCloud:
    """An in-process cloud with fake compute hosts (one unless named) and one volume host beside them."""

    def __init__(self, data_dir: Path, hosts: Sequence[str] = (COMPUTE_HOST,)) -> None:
        self.computes = {host: FakeDriver() for host in hosts}
        self.compute = self.computes[hosts[0]]
        self.cloud = InProcessCloud(data_dir, drivers=self.computes, volume_driver="fake")
        self.volume_driver = add_volume_host(self.cloud)

    def mappings(self, server_id: str) -> list[BlockDeviceMapping]:
        with self.cloud.cloud.db.reader() as session:
            query = select(BlockDeviceMapping).where(BlockDeviceMapping.instance_uuid == server_id)
            return list(session.scalars(query))

    def stop(self) -> None:
        self.cloud.stop()


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VolumeCloud]:
    running = VolumeCloud(tmp_path_factory.mktemp("volume-attachments"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cloud(volumes: VolumeCloud) -> InProcessCloud:
    return volumes.cloud


@pytest.fixture(scope="module", autouse=True)
def room_for_volumes(demo: Connection, admin: Connection) -> None:
    """The module makes more volumes than Cinder's default quota of 10 allows one project."""
    quotas = {"quota_set": {"volumes": 100, "gigabytes": 1000}}
    response = admin.block_storage.put(f"/os-quota-sets/{demo.current_project_id}", json=quotas)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def small_image(demo: Connection) -> str:
    """An image with data (the seeded one has none in the in-process cloud) for volumes made from it."""
    image = demo.image.create_image(
        name="bfv-raw", data=b"\x00" * 65536 + b"OVERCAST", disk_format="raw", container_format="bare"
    )
    return str(image.id)


def boot(conn: Connection, name: str) -> Any:
    created = conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    return conn.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], **WAIT)


def make_volume(conn: Connection, name: str, size: int = 1) -> Any:
    volume = conn.block_storage.create_volume(name=name, size=size)
    return conn.block_storage.wait_for_status(volume, "available", failures=["error"], **WAIT)


def wait_volume(conn: Connection, volume: Any, status: str) -> Any:
    return conn.block_storage.wait_for_status(volume, status, failures=["error"], **WAIT)


def test_attach_list_show_and_detach_with_openstacksdk(volumes: VolumeCloud, demo: Connection) -> None:
    server = boot(demo, "vol-sdk")
    volume = make_volume(demo, "data-sdk")

    attachment = demo.compute.create_volume_attachment(server, volume=volume.id)
    assert attachment.volume_id == volume.id and attachment.device == "/dev/vdb"

    in_use = wait_volume(demo, volume, "in-use")
    assert [a["server_id"] for a in in_use.attachments] == [server.id]
    assert volumes.compute.volume_ids(server.id) == [volume.id]
    listed = list(demo.compute.volume_attachments(server))
    assert [(a.volume_id, a.device) for a in listed] == [(volume.id, "/dev/vdb")]
    shown = demo.compute.get_server(server)
    assert [v["id"] for v in shown.attached_volumes] == [volume.id]
    mapping = volumes.mappings(server.id)[0]
    assert mapping.connection_info is not None and mapping.connection_info["driver_volume_type"] == "fake"

    demo.compute.delete_volume_attachment(server, volume)
    wait_volume(demo, volume, "available")
    wait_until(lambda: not volumes.mappings(server.id), what="the mapping removed")
    assert volumes.compute.volume_ids(server.id) == []
    assert not list(demo.compute.volume_attachments(server))
    # Nothing stays exported for the attachment that ended.
    assert volumes.volume_driver.exports() == set()
    demo.compute.delete_server(server)


def test_the_cli_adds_and_removes_a_volume(
    volumes: VolumeCloud, cloud: InProcessCloud, demo: Connection
) -> None:
    server = boot(demo, "vol-cli")
    volume = make_volume(demo, "data-cli")

    cloud.openstack("server", "add", "volume", server.id, volume.id)
    wait_volume(demo, volume, "in-use")
    listed = cloud.openstack("server", "volume", "list", server.id, "-f", "json")
    assert [row["Volume ID"] for row in listed] == [volume.id]

    cloud.openstack("server", "remove", "volume", server.id, volume.id)
    wait_volume(demo, volume, "available")
    demo.compute.delete_server(server)


def test_bad_attaches_are_clear_4xx_and_leave_nothing(volumes: VolumeCloud, demo: Connection) -> None:
    server = boot(demo, "vol-bad")
    other = boot(demo, "vol-bad-2")
    volume = make_volume(demo, "data-bad")
    demo.compute.create_volume_attachment(server, volume=volume.id)
    wait_volume(demo, volume, "in-use")

    with pytest.raises(sdk_exceptions.BadRequestException, match="Invalid volume"):
        demo.compute.create_volume_attachment(other, volume=volume.id)  # in use elsewhere
    with pytest.raises(sdk_exceptions.BadRequestException):
        demo.compute.create_volume_attachment(server, volume=volume.id)  # already attached here
    with pytest.raises(sdk_exceptions.NotFoundException):
        demo.compute.create_volume_attachment(server, volume="4b7c1a6e-0d5f-4e52-9c1b-8a2f3e4d5c6b")
    with pytest.raises(sdk_exceptions.NotFoundException):
        demo.compute.get_volume_attachment(other, volume.id)
    response = demo.compute.post(
        f"/servers/{server.id}/os-volume_attachments",
        json={"volumeAttachment": {"volumeId": volume.id, "device": "not-a-device"}},
    )
    assert response.status_code == 400 and "badRequest" in response.json()
    assert [m.volume_id for m in volumes.mappings(other.id)] == []
    assert [m.volume_id for m in volumes.mappings(server.id)] == [volume.id]

    demo.compute.stop_server(other)
    demo.compute.wait_for_server(other, status="SHUTOFF", **WAIT)
    second = make_volume(demo, "data-stopped")
    demo.compute.create_volume_attachment(other, volume=second.id)  # a stopped server takes volumes too
    wait_volume(demo, second, "in-use")
    demo.compute.delete_server(other)
    demo.compute.wait_for_delete(other, **WAIT)
    wait_volume(demo, second, "available")  # the delete ended the attachment; not delete_on_termination
    demo.compute.delete_server(server)


def test_a_failed_plug_gives_everything_back(volumes: VolumeCloud, demo: Connection) -> None:
    server = boot(demo, "vol-fail")
    volume = make_volume(demo, "data-fail")
    volumes.compute.fail_next("attach_volume", DriverError("the hypervisor refused the disk"))

    demo.compute.create_volume_attachment(server, volume=volume.id)

    wait_volume(demo, volume, "available")
    wait_until(lambda: not volumes.mappings(server.id), what="the mapping removed")
    assert demo.compute.get_server(server).status == "ACTIVE"
    assert volumes.volume_driver.exports() == set()
    actions = list(demo.compute.server_actions(server))
    attach = next(a for a in actions if a.action == "attach_volume")
    events = demo.compute.get_server_action(attach.request_id, server).events
    assert [e["result"] for e in events if e["event"] == "compute_attach_volume"] == ["Error"]
    demo.compute.delete_server(server)


def test_delete_on_termination_at_2_79_and_its_update_at_2_85(volumes: VolumeCloud, demo: Connection) -> None:
    server = boot(demo, "vol-dot")
    doomed = make_volume(demo, "doomed")
    kept = make_volume(demo, "kept")
    attach = {"volumeAttachment": {"volumeId": doomed.id, "delete_on_termination": True}}
    old = demo.compute.post(f"/servers/{server.id}/os-volume_attachments", json=attach, microversion="2.78")
    assert old.status_code == 400
    made = demo.compute.post(f"/servers/{server.id}/os-volume_attachments", json=attach, microversion="2.79")
    assert made.status_code == 200 and made.json()["volumeAttachment"]["delete_on_termination"] is True
    demo.compute.create_volume_attachment(server, volume=kept.id)
    wait_volume(demo, doomed, "in-use")
    wait_volume(demo, kept, "in-use")
    body = {"volumeAttachment": {"volumeId": kept.id, "delete_on_termination": False}}
    changed = demo.compute.put(
        f"/servers/{server.id}/os-volume_attachments/{kept.id}", json=body, microversion="2.85"
    )
    assert changed.status_code == 202
    shown = demo.compute.get(f"/servers/{server.id}", microversion="2.85").json()["server"]
    assert shown["os-extended-volumes:volumes_attached"] == [
        {"id": doomed.id, "delete_on_termination": True}, {"id": kept.id, "delete_on_termination": False},
    ]  # fmt: skip

    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, **WAIT)
    demo.block_storage.wait_for_delete(doomed, **WAIT)
    wait_volume(demo, kept, "available")


def test_an_admin_detaches_from_a_server_whose_host_is_down(
    volumes: VolumeCloud, demo: Connection, admin: Connection
) -> None:
    server = boot(demo, "vol-down")
    volume = make_volume(demo, "data-down")
    demo.compute.create_volume_attachment(server, volume=volume.id)
    wait_volume(demo, volume, "in-use")
    # os-services names the binary as Nova does (nova-compute) or as we do: either is the compute service.
    found = admin.compute.services()
    service = next(s for s in found if s.host == COMPUTE_HOST and s.binary.endswith("-compute"))
    admin.compute.update_service_forced_down(service, COMPUTE_HOST, service.binary, True)
    try:
        admin.compute.delete_volume_attachment(server, volume)
        wait_volume(demo, volume, "available")
        assert volumes.mappings(server.id) == []
    finally:
        admin.compute.update_service_forced_down(service, COMPUTE_HOST, service.binary, False)
    demo.compute.delete_server(server)


def test_an_online_extend_reaches_the_guest(volumes: VolumeCloud, demo: Connection) -> None:
    server = boot(demo, "vol-extend")
    volume = make_volume(demo, "data-extend")
    demo.compute.create_volume_attachment(server, volume=volume.id)
    wait_volume(demo, volume, "in-use")
    response = demo.block_storage.post(
        f"/volumes/{volume.id}/action", json={"os-extend": {"new_size": 2}}, microversion="3.42"
    )
    assert response.status_code == 202, response.text

    def grown() -> bool:
        vm = volumes.compute.hypervisor.vms[server.id]
        return bool(vm.volumes[volume.id].get("size_bytes") == 2 * 1024**3)

    wait_until(grown, timeout=60, what="the guest told of the new size")
    demo.compute.delete_server(server)


def test_the_cli_boots_a_server_from_a_new_volume_of_an_image(
    volumes: VolumeCloud, cloud: InProcessCloud, demo: Connection, small_image: str
) -> None:
    created = cloud.openstack(
        "server", "create", "--image", small_image, "--flavor", "m1.tiny", "--nic", "none",
        "--boot-from-volume", "1", "--wait", "bfv-cli", "-f", "json",
    )  # fmt: skip
    server = demo.compute.get_server(created["id"])
    assert server.status == "ACTIVE" and not server.image.get("id")
    (root,) = volumes.mappings(server.id)
    assert (root.boot_index, root.device_name, root.source_type) == (0, "/dev/vda", "image")
    volume = demo.block_storage.get_volume(root.volume_id)
    assert volume.status == "in-use" and volume.size == 1 and volume.is_bootable
    spec = volumes.compute.hypervisor.vms[server.id].spec
    assert [(v["volume_id"], v["boot_index"]) for v in spec.block_device_info] == [(volume.id, 0)]
    # A root volume stays: detaching it is refused; the server's delete leaves it (no delete_on_termination).
    assert demo.compute.delete(f"/servers/{server.id}/os-volume_attachments/{volume.id}").status_code == 400
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, **WAIT)
    wait_volume(demo, volume, "available")


def test_boot_from_an_existing_volume_with_a_blank_data_volume(
    volumes: VolumeCloud, demo: Connection, small_image: str
) -> None:
    boot_volume = demo.block_storage.create_volume(name="bootable", size=1, image_id=small_image)
    wait_volume(demo, boot_volume, "available")
    mappings = [
        {"source_type": "volume", "destination_type": "volume", "boot_index": 0, "uuid": boot_volume.id},
        {
            "source_type": "blank",
            "destination_type": "volume",
            "volume_size": 2,
            "delete_on_termination": True,
        },
    ]
    body = {"server": {"name": "bfv-existing", "flavorRef": TINY, "imageRef": "", "networks": "none",
                       "block_device_mapping_v2": mappings}}  # fmt: skip
    response = demo.compute.post("/servers", json=body, microversion="2.79")
    assert response.status_code == 202, response.text
    server = demo.compute.wait_for_server(
        demo.compute.get_server(response.json()["server"]["id"]), failures=["ERROR"], **WAIT
    )
    root, data = volumes.mappings(server.id)
    assert root.volume_id == boot_volume.id and data.device_name == "/dev/vdb" and data.volume_size == 2
    assert sorted(volumes.compute.volume_ids(server.id)) == sorted([boot_volume.id, str(data.volume_id)])
    shown = demo.compute.get(f"/servers/{server.id}", microversion="2.79").json()["server"]
    assert shown["image"] == ""  # Nova's image of a volume-backed server
    # Its rescue (2.87) needs an image, and this root volume was not made from one
    # (test_volume_backed_rescue.py). Rebuild is a 400 before 2.93.
    rescue, rebuild = {"rescue": None}, {"rebuild": {"imageRef": small_image}}
    for action, version in ((rescue, "2.100"), (rebuild, "2.92")):
        refused = demo.compute.post(f"/servers/{server.id}/action", json=action, microversion=version)
        assert refused.status_code == 400 and "volume-backed" in refused.text, refused.text
    # From 2.93 the root volume is reimaged (os-reimage) and the server boots from it again.
    write_at(volumes.volume_driver, boot_volume.id, 65536, b"USERDATA")
    rebuilt = demo.compute.post(f"/servers/{server.id}/action", json=rebuild, microversion="2.93")
    assert rebuilt.status_code == 202, rebuilt.text
    wait_until(lambda: demo.compute.get_server(server.id).status == "ACTIVE", what="the server rebuilt")
    assert read_at(volumes.volume_driver, boot_volume.id, 65536, 8) == b"OVERCAST"
    wait_volume(demo, boot_volume, "in-use")
    [root_again] = [one for one in volumes.mappings(server.id) if one.boot_index == 0]
    assert root_again.volume_id == boot_volume.id and root_again.connection_info is not None
    assert boot_volume.id in volumes.compute.volume_ids(server.id)
    assert demo.compute.get(f"/servers/{server.id}", microversion="2.93").json()["server"]["image"] == ""
    assert {v["id"]: v["delete_on_termination"] for v in shown["os-extended-volumes:volumes_attached"]} == {
        boot_volume.id: False, data.volume_id: True,
    }  # fmt: skip
    # The same volume cannot boot a second server.
    again = demo.compute.post("/servers", json=dict(body, server=dict(body["server"], name="bfv-twice")),
                              microversion="2.79")  # fmt: skip
    assert again.status_code == 400, again.text
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, **WAIT)
    wait_until(lambda: demo.block_storage.find_volume(data.volume_id) is None, what="the blank volume gone")
    wait_volume(demo, boot_volume, "available")


def test_bad_block_device_mappings_are_400s(demo: Connection) -> None:
    base = {"name": "bfv-bad", "flavorRef": TINY, "networks": "none"}
    cases = [
        # an image on a volume without a size
        [{"source_type": "image", "destination_type": "volume", "boot_index": 0, "uuid": IMAGE_ID}],
        [{"source_type": "volume", "destination_type": "volume", "boot_index": 0,
          "uuid": "4b7c1a6e-0d5f-4e52-9c1b-8a2f3e4d5c6b"}],  # an unknown volume
        [{"source_type": "blank", "destination_type": "volume", "boot_index": 0, "volume_size": 1}],
    ]  # fmt: skip
    for mappings in cases:
        body = {"server": dict(base, block_device_mapping_v2=mappings)}
        response = demo.compute.post("/servers", json=body, microversion="2.79")
        assert response.status_code == 400, (mappings, response.text)
        assert "Block Device Mapping is Invalid" in response.json()["badRequest"]["message"]
    # 2.63: trusted image certificates validate an image a host downloads; a boot volume is none.
    from_volume = [{"source_type": "volume", "destination_type": "volume", "boot_index": 0,
                    "uuid": "4b7c1a6e-0d5f-4e52-9c1b-8a2f3e4d5c6b"}]  # fmt: skip
    body = {"server": dict(base, block_device_mapping_v2=from_volume, trusted_image_certificates=["c"])}
    response = demo.compute.post("/servers", json=body, microversion="2.63")
    assert response.status_code == 400 and "booting from volume" in response.text, response.text


def test_a_boot_volume_that_cannot_be_made_fails_the_build_with_a_fault(
    volumes: VolumeCloud, demo: Connection
) -> None:
    volumes.volume_driver.fail_next("create_volume")
    root = {"source_type": "blank", "destination_type": "volume", "volume_size": 1, "boot_index": 1}
    body = {"server": {"name": "bfv-broken", "flavorRef": TINY, "imageRef": IMAGE_ID, "networks": "none",
                       "block_device_mapping_v2": [root]}}  # fmt: skip
    response = demo.compute.post("/servers", json=body, microversion="2.79")
    assert response.status_code == 202, response.text
    server = demo.compute.wait_for_server(
        demo.compute.get_server(response.json()["server"]["id"]), status="ERROR", **WAIT
    )
    assert "aborted" in server.fault["message"] or "error" in server.fault["message"]
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, **WAIT)


def test_create_image_of_a_volume_backed_server_snapshots_its_volumes(
    volumes: VolumeCloud, demo: Connection, small_image: str
) -> None:
    root = {"source_type": "image", "destination_type": "volume", "boot_index": 0, "uuid": small_image,
            "volume_size": 1, "delete_on_termination": True}  # fmt: skip
    body = {
        "server": {
            "name": "bfv-snap",
            "flavorRef": TINY,
            "networks": "none",
            "block_device_mapping_v2": [root],
        }
    }
    response = demo.compute.post("/servers", json=body, microversion="2.79")
    assert response.status_code == 202, response.text
    server = demo.compute.wait_for_server(
        demo.compute.get_server(response.json()["server"]["id"]), failures=["ERROR"], **WAIT
    )
    (volume_id,) = [m.volume_id for m in volumes.mappings(server.id)]

    image = demo.compute.create_server_image(server, "bfv-snap-image", wait=True, timeout=30)

    image = demo.image.get_image(image)
    assert image.status == "active" and image.properties["bdm_v2"] == "True"
    (described,) = json.loads(image.properties["block_device_mapping"])
    assert described["source_type"] == "snapshot" and described["boot_index"] == 0
    snapshot = demo.block_storage.get_snapshot(described["snapshot_id"])
    assert snapshot.volume_id == volume_id
    demo.block_storage.wait_for_status(snapshot, "available", failures=["error"], **WAIT)

    # Booting the image makes a volume-backed server whose root volume comes from the snapshot.
    again = boot_from(demo, "bfv-from-snap", image.id)
    (mapping,) = volumes.mappings(again.id)
    assert mapping.boot_index == 0 and mapping.snapshot_id == snapshot.id and mapping.volume_id != volume_id
    for made in (server, again):
        demo.compute.delete_server(made)
        demo.compute.wait_for_delete(made, **WAIT)


def boot_from(conn: Connection, name: str, image_id: str) -> Any:
    created = conn.compute.create_server(name=name, image_id=image_id, flavor_id=TINY, networks="none")
    return conn.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], **WAIT)


def test_volumes_stay_across_resize_and_stop_start(volumes: VolumeCloud, demo: Connection) -> None:
    server = boot(demo, "vol-resize")
    volume = make_volume(demo, "data-resize")
    demo.compute.create_volume_attachment(server, volume=volume.id)
    wait_volume(demo, volume, "in-use")

    demo.compute.resize_server(server, "2")
    demo.compute.wait_for_server(server, status="VERIFY_RESIZE", failures=["ERROR"], **WAIT)
    assert volumes.compute.volume_ids(server.id) == [volume.id]
    demo.compute.confirm_server_resize(server)
    demo.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)
    demo.compute.stop_server(server)
    demo.compute.wait_for_server(server, status="SHUTOFF", **WAIT)
    demo.compute.start_server(server)
    demo.compute.wait_for_server(server, status="ACTIVE", **WAIT)
    assert volumes.compute.volume_ids(server.id) == [volume.id]
    assert demo.block_storage.get_volume(volume).status == "in-use"
    demo.compute.delete_server(server)


def test_an_admin_swaps_an_attached_volume_for_another(
    volumes: VolumeCloud, demo: Connection, admin: Connection
) -> None:
    server = boot(demo, "vol-swap")
    old = make_volume(demo, "swap-old")
    new = make_volume(demo, "swap-new")
    demo.compute.create_volume_attachment(server, volume=old.id)
    wait_volume(demo, old, "in-use")
    body = {"volumeAttachment": {"volumeId": new.id}}
    path = f"/servers/{server.id}/os-volume_attachments/{old.id}"
    assert demo.compute.put(path, json=body).status_code == 403  # swapping is an admin's
    assert admin.compute.put(path, json=body).status_code == 202

    wait_volume(demo, new, "in-use")
    wait_volume(demo, old, "available")
    assert volumes.compute.volume_ids(server.id) == [new.id]
    (mapping,) = volumes.mappings(server.id)
    assert (mapping.volume_id, mapping.device_name) == (new.id, "/dev/vdb")
    demo.compute.delete_server(server)
