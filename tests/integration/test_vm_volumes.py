"""A real QEMU guest (TCG) with iSCSI volumes: the volume service's iSCSI driver (its own tgtd on a free
loopback port) exports each attachment, QEMU's own initiator connects it, and the guest, read over SSH,
sees a new virtio disk with the volume's serial (vdc: this guest's config drive is vdb), writes bytes
the volume's file then holds, sees the disk grow when the volume is extended while attached, and loses
it on detach (the target goes too). A second volume of a type whose front-end QoS caps bytes per second
reads measurably slower than the first. One VM for the whole module."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.guest.publish import DEFAULT_IMAGE_ID
from overcast.service import Service
from overcast.volume.drivers.choice import can_serve_iscsi
from overcast.volume.drivers.iscsi import IscsiVolumeDriver
from overcast.volume.manager import VolumeManager
from tests.support import qemu
from tests.support.cloud import TINY, InProcessCloud
from tests.support.guests import WAIT, networks, ssh, wait_status
from tests.support.ports import free_port
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(not can_serve_iscsi(), reason="needs root on Linux with tgt and qemu-block-extra"),
]
HOST = "qemu-vol-1"
GIB = 1024**3
MIB = 1024**2


class VolumeHost:
    def __init__(self, cloud: InProcessCloud, pool: Path) -> None:
        self.driver = IscsiVolumeDriver(
            pool, portal_address="127.0.0.1", port=free_port(), supervise_interval=0.5
        )
        self.service = Service(
            cloud.cloud, VolumeManager(cloud.cloud, "volume-1", driver=self.driver, images=cloud.image_api)
        )
        self.service.start()

    def stop(self) -> None:
        self.service.stop()
        self.driver.cleanup_host()


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    folder = qemu.new_data_dir()
    yield folder
    qemu.kill_leftover_vms(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cloud(data_dir: Path) -> Iterator[tuple[InProcessCloud, VolumeHost]]:
    driver = qemu.make_driver(data_dir, boot_timeout=0)
    with qemu.cloud_with_guest(data_dir, {HOST: driver}) as running:
        volumes = VolumeHost(running, data_dir / "volume-pool")
        try:
            yield running, volumes
        finally:
            volumes.stop()


@pytest.fixture(scope="module")
def conn(cloud: tuple[InProcessCloud, VolumeHost]) -> Connection:
    return cloud[0].connect("demo")


@pytest.fixture(scope="module")
def key_name(conn: Connection) -> str:
    _, public_key = qemu.ssh_key()
    return str(conn.compute.create_keypair(name="vol-key", public_key=public_key).name)


@pytest.fixture(scope="module")
def server(cloud: tuple[InProcessCloud, VolumeHost], conn: Connection, key_name: str) -> Iterator[Any]:
    created = conn.compute.create_server(
        name="vol-vm", image_id=DEFAULT_IMAGE_ID, flavor_id=TINY, key_name=key_name, **networks(conn)
    )
    server = wait_status(conn, created, "ACTIVE")
    ssh(cloud[0], server, "true")  # booted and reachable
    yield server
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=WAIT)


def wait_volume(conn: Connection, volume: Any, status: str) -> Any:
    return conn.block_storage.wait_for_status(volume, status, failures=["error"], wait=WAIT, interval=0.3)


def guest(cloud: tuple[InProcessCloud, VolumeHost], server: Any, command: str) -> str:
    return ssh(cloud[0], server, command).strip()


def device_of(cloud: tuple[InProcessCloud, VolumeHost], server: Any, volume_id: str) -> str:
    """The guest's disk whose serial is the volume's (its kernel names disks in the order it finds them:
    this guest's config drive is a virtio disk too, so the first volume is not always vdb)."""
    serial = volume_id[:20]
    match = f'[ "$(cat $d/serial 2>/dev/null)" = "{serial}" ] && basename $d'
    find = f"for d in /sys/block/vd*; do {match}; done; true"
    return guest(cloud, server, find)


def test_an_iscsi_volume_is_hot_plugged_written_grown_and_unplugged(
    cloud: tuple[InProcessCloud, VolumeHost], conn: Connection, server: Any
) -> None:
    volumes = cloud[1]
    volume = wait_volume(conn, conn.block_storage.create_volume(name="data-1", size=1), "available")

    started = time.monotonic()
    conn.compute.create_volume_attachment(server, volume=volume.id)
    wait_volume(conn, volume, "in-use")
    disk = wait_until(lambda: device_of(cloud, server, volume.id), 60, what="the volume's disk in the guest")
    print(f"attach -> /dev/{disk} (serial {volume.id[:20]}) in the guest: {time.monotonic() - started:.1f}s")
    assert int(guest(cloud, server, f"cat /sys/block/{disk}/size")) * 512 == GIB
    assert len(volumes.driver.exports()) == 1

    write = (
        f"printf OVERCAST-VOLUME-BYTES | dd of=/dev/{disk} bs=512 seek=2048 conv=fsync 2>/dev/null; echo ok"
    )
    assert guest(cloud, server, write) == "ok"
    response = conn.block_storage.post(
        f"/volumes/{volume.id}/action", json={"os-extend": {"new_size": 2}}, microversion="3.42"
    )
    assert response.status_code == 202, response.text
    wait_until(
        lambda: guest(cloud, server, f"cat /sys/block/{disk}/size") == str(2 * GIB // 512), 60,
        what="the guest to see the grown disk",
    )  # fmt: skip

    conn.compute.delete_volume_attachment(server, volume)
    wait_volume(conn, volume, "available")
    wait_until(lambda: not device_of(cloud, server, volume.id), 60, what="the disk gone from the guest")
    assert volumes.driver.exports() == set(), "the target outlived its attachment"
    with volumes.driver.open_volume(volume.id, writable=False) as data:
        data.seek(2048 * 512)
        assert data.read(len(b"OVERCAST-VOLUME-BYTES")) == b"OVERCAST-VOLUME-BYTES"
    conn.block_storage.delete_volume(volume)


def read_seconds(cloud: tuple[InProcessCloud, VolumeHost], server: Any, device: str, mib: int) -> float:
    """How long the guest's `dd` takes to read `mib` MiB of the disk (timed by the guest's own uptime)."""
    uptime = "cut -d' ' -f1 /proc/uptime"
    command = f"{uptime}; dd if=/dev/{device} of=/dev/null bs=1M count={mib} 2>/dev/null; {uptime}"
    before, after = guest(cloud, server, command).split()
    return float(after) - float(before)


def test_a_qos_byte_limit_caps_reads_in_the_guest(
    cloud: tuple[InProcessCloud, VolumeHost], conn: Connection, server: Any
) -> None:
    admin = cloud[0].connect("admin")
    limit = 2 * MIB
    qos = admin.block_storage.post(
        "/qos-specs",
        json={"qos_specs": {"name": "slow", "consumer": "front-end", "total_bytes_sec": str(limit)}},
    ).json()["qos_specs"]
    volume_type = admin.block_storage.create_type(name="slow-disk")
    associated = admin.block_storage.get(f"/qos-specs/{qos['id']}/associate?vol_type_id={volume_type.id}")
    assert associated.status_code == 202, associated.text
    fast = wait_volume(conn, conn.block_storage.create_volume(name="fast", size=1), "available")
    slow = wait_volume(
        conn, conn.block_storage.create_volume(name="slow", size=1, volume_type="slow-disk"), "available"
    )
    conn.compute.create_volume_attachment(server, volume=fast.id)
    wait_volume(conn, fast, "in-use")
    conn.compute.create_volume_attachment(server, volume=slow.id)
    wait_volume(conn, slow, "in-use")
    devices = {
        volume.id[:20]: wait_until(lambda v=volume: device_of(cloud, server, v.id), 60, what="the disks")
        for volume in (fast, slow)
    }

    mib = 8
    fast_seconds = read_seconds(cloud, server, devices[fast.id[:20]], mib)
    slow_seconds = read_seconds(cloud, server, devices[slow.id[:20]], mib)
    print(
        f"dd {mib} MiB: unthrottled {fast_seconds:.2f}s, capped at {limit // MIB} MiB/s {slow_seconds:.2f}s"
    )
    # QEMU lets a first burst through, so the floor is looser than mib / limit.
    assert slow_seconds >= (mib * MIB / limit) * 0.6 and slow_seconds > 2 * fast_seconds

    for volume in (fast, slow):
        conn.compute.delete_volume_attachment(server, volume)
        wait_volume(conn, volume, "available")
        conn.block_storage.delete_volume(volume)


def wait_ready(conn: Connection, server: Any, boots: int) -> None:
    """Until the guest's console shows its READY line `boots` times (the console says why if never)."""

    def console() -> str:
        return str(conn.compute.get_server_console_output(server)["output"])

    try:
        wait_until(lambda: console().count(f"OVERCAST-GUEST-READY {server.id}") >= boots, WAIT, interval=0.5)
    except AssertionError:
        raise AssertionError(f"boot #{boots} never finished; console:\n{console()[-3000:]}") from None


def test_a_server_boots_from_a_volume_of_the_guest_image_and_keeps_its_data(
    cloud: tuple[InProcessCloud, VolumeHost], conn: Connection, key_name: str
) -> None:
    volume = conn.block_storage.create_volume(name="root-1", size=1, image_id=DEFAULT_IMAGE_ID)
    volume = wait_volume(conn, volume, "available")
    root = {"boot_index": 0, "uuid": volume.id, "source_type": "volume", "destination_type": "volume"}
    created = conn.compute.create_server(
        name="bfv-vm", flavor_id=TINY, key_name=key_name, block_device_mapping=[root], **networks(conn)
    )
    server = wait_status(conn, created, "ACTIVE")
    wait_ready(conn, server, 1)
    disk = device_of(cloud, server, volume.id)
    assert disk and guest(cloud, server, "awk '$2 == \"/\" {print $1}' /proc/mounts") == f"/dev/{disk}2"
    assert guest(cloud, server, "echo kept-on-the-volume > /root/bfv.txt; sync; cat /root/bfv.txt") == (
        "kept-on-the-volume"
    )

    conn.compute.stop_server(server)
    wait_status(conn, server, "SHUTOFF")
    conn.compute.start_server(server)
    wait_status(conn, server, "ACTIVE")
    wait_ready(conn, server, 2)
    assert guest(cloud, server, "cat /root/bfv.txt") == "kept-on-the-volume"

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=WAIT)
    wait_volume(conn, volume, "available")  # not delete_on_termination: the volume outlives the server


def test_an_admin_swap_copies_the_data_to_the_new_volume_while_the_guest_runs(
    cloud: tuple[InProcessCloud, VolumeHost], conn: Connection, server: Any
) -> None:
    admin = cloud[0].connect("admin")
    old = wait_volume(conn, conn.block_storage.create_volume(name="swap-old", size=1), "available")
    new = wait_volume(conn, conn.block_storage.create_volume(name="swap-new", size=1), "available")
    conn.compute.create_volume_attachment(server, volume=old.id)
    wait_volume(conn, old, "in-use")
    disk = wait_until(lambda: device_of(cloud, server, old.id), 60, what="the old volume's disk")
    write = f"printf SWAPPED-BYTES | dd of=/dev/{disk} bs=512 seek=4096 conv=fsync 2>/dev/null; echo ok"
    assert guest(cloud, server, write) == "ok"

    path = f"/servers/{server.id}/os-volume_attachments/{old.id}"
    assert admin.compute.put(path, json={"volumeAttachment": {"volumeId": new.id}}).status_code == 202
    wait_volume(conn, new, "in-use")
    wait_volume(conn, old, "available")

    # The guest kept its disk (same device, same serial) while QEMU moved it onto the new volume.
    assert device_of(cloud, server, old.id) == disk
    with cloud[1].driver.open_volume(new.id, writable=False) as data:
        data.seek(4096 * 512)
        assert data.read(len(b"SWAPPED-BYTES")) == b"SWAPPED-BYTES"
    assert len(cloud[1].driver.exports()) == 1  # only the new volume's attachment is exported
    conn.compute.delete_volume_attachment(server, new)
    wait_volume(conn, new, "available")
    wait_until(lambda: not device_of(cloud, server, old.id), 60, what="the swapped disk gone")
