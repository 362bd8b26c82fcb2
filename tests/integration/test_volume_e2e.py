"""Block storage end to end as a user meets it: the `openstack` CLI and openstacksdk against an in-process
cloud whose compute host runs real QEMU guests (TCG) and whose volume host exports volumes over iSCSI (its
own tgtd on a free loopback port). A filesystem made and written in one guest is read, byte for byte, in
another after detach and re-attach; the second guest boots from a volume made from the guest image and
keeps what it wrote across stop and start; a volume made from a snapshot, and one restored from a backup
after its source is deleted, hold the same files; a volume transferred to another project is that
project's. Two VMs for the whole module. (Hot plug, extend while attached and QoS limits are in
test_vm_volumes.py.)"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.guest import READY_MARKER
from overcast.guest.publish import DEFAULT_IMAGE_ID, DEFAULT_IMAGE_NAME
from overcast.volume.drivers.choice import can_serve_iscsi
from tests.support import qemu
from tests.support.cloud import TINY, InProcessCloud
from tests.support.guests import WAIT, networks, wait_status
from tests.support.volume_guests import VolumeHost, device_of, guest, wait_volume
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
    pytest.mark.skipif(not can_serve_iscsi(), reason="needs root on Linux with tgt and qemu-block-extra"),
]
HOST = "qemu-e2e-1"
MOUNT = "/mnt/volume"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    folder = qemu.new_data_dir()
    yield folder
    qemu.kill_leftover_vms(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cloud(data_dir: Path) -> Iterator[InProcessCloud]:
    driver = qemu.make_driver(data_dir, boot_timeout=0)
    with qemu.cloud_with_guest(data_dir, {HOST: driver}) as running:
        volumes = VolumeHost(running, data_dir / "volume-pool")
        try:
            yield running
        finally:
            volumes.stop()


@pytest.fixture(scope="module")
def conn(cloud: InProcessCloud) -> Connection:
    _, public_key = qemu.ssh_key()
    connection = cloud.connect("demo")
    connection.compute.create_keypair(name="e2e-key", public_key=public_key)
    return connection


def _ready(cloud: InProcessCloud, conn: Connection, created: Any) -> Any:
    """The server once its guest says it is ready on the console (a TCG boot takes a while after ACTIVE,
    and SSH to a guest still booting hangs rather than failing) and answers over SSH."""
    server = wait_status(conn, created, "ACTIVE")

    def console() -> str:
        return str(conn.compute.get_server_console_output(server)["output"])

    try:
        wait_until(lambda: READY_MARKER in console(), WAIT, what="the guest's ready line", interval=1.0)
    except AssertionError:
        raise AssertionError(f"{server.name} did not boot; console ends:\n{console()[-3000:]}") from None
    guest(cloud, server, "true")
    return server


@pytest.fixture(scope="module")
def first(cloud: InProcessCloud, conn: Connection) -> Iterator[Any]:
    created = conn.compute.create_server(
        name="e2e-vm-1", image_id=DEFAULT_IMAGE_ID, flavor_id=TINY, key_name="e2e-key", **networks(conn)
    )
    server = _ready(cloud, conn, created)
    yield server
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=WAIT)


@pytest.fixture(scope="module")
def boot_volume(cloud: InProcessCloud, conn: Connection) -> Any:
    """A 1 GiB volume made from the guest image with the CLI (the image's bytes copied into it)."""
    made = cloud.openstack("volume", "create", "--size", "1", "--image", DEFAULT_IMAGE_NAME, "--bootable",
                           "boot-disk", "-f", "json")  # fmt: skip
    return wait_volume(conn, conn.block_storage.get_volume(made["id"]), "available")


@pytest.fixture(scope="module")
def second(cloud: InProcessCloud, conn: Connection, boot_volume: Any) -> Iterator[Any]:
    """A server booted from `boot_volume` with the CLI (no image disk of its own)."""
    made = cloud.openstack("server", "create", "--volume", boot_volume.id, "--flavor", "m1.tiny",
                           "--key-name", "e2e-key", "--nic", "auto", "e2e-vm-2", "-f", "json")  # fmt: skip
    server = _ready(cloud, conn, conn.compute.get_server(made["id"]))
    yield server
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=WAIT)


def _attach_with_cli(cloud: InProcessCloud, conn: Connection, server: Any, volume: Any) -> str:
    cloud.openstack("server", "add", "volume", server.name, volume.id)
    wait_volume(conn, volume, "in-use")
    return str(wait_until(lambda: device_of(cloud, server, volume.id), 60, what="the disk in the guest"))


def _detach_with_cli(cloud: InProcessCloud, conn: Connection, server: Any, volume: Any) -> None:
    cloud.openstack("server", "remove", "volume", server.name, volume.id)
    wait_volume(conn, volume, "available")
    wait_until(lambda: not device_of(cloud, server, volume.id), 60, what="the disk gone from the guest")


def _write_files(cloud: InProcessCloud, server: Any, disk: str) -> str:
    """mkfs + a file of 4 MiB random bytes on the disk, unmounted again; returns the file's sha256."""
    command = (
        f"mke2fs -q /dev/{disk} >/dev/null 2>&1 && mkdir -p {MOUNT} && mount /dev/{disk} {MOUNT} && "
        f"head -c 4194304 /dev/urandom > {MOUNT}/payload && sha256sum {MOUNT}/payload && "
        f"umount {MOUNT} && sync"
    )
    return guest(cloud, server, command).split()[0]


def _read_digest(cloud: InProcessCloud, server: Any, disk: str) -> str:
    command = f"mkdir -p {MOUNT} && mount /dev/{disk} {MOUNT} && sha256sum {MOUNT}/payload; umount {MOUNT}"
    return guest(cloud, server, command).split()[0]


def _volume(cloud: InProcessCloud, conn: Connection, *args: str) -> Any:
    made = cloud.openstack("volume", "create", *args, "-f", "json")
    return wait_volume(conn, conn.block_storage.get_volume(made["id"]), "available")


def test_a_filesystem_written_in_one_guest_is_read_byte_for_byte_in_another(
    cloud: InProcessCloud, conn: Connection, first: Any, second: Any
) -> None:
    volume = _volume(cloud, conn, "--size", "1", "shared-data")
    assert volume.size == 1

    disk = _attach_with_cli(cloud, conn, first, volume)
    assert int(guest(cloud, first, f"cat /sys/block/{disk}/size")) * 512 == 1024**3
    written = _write_files(cloud, first, disk)
    _detach_with_cli(cloud, conn, first, volume)

    conn.compute.create_volume_attachment(second, volume=volume.id)  # openstacksdk this time
    wait_volume(conn, volume, "in-use")
    disk = wait_until(lambda: device_of(cloud, second, volume.id), 60, what="the volume's disk in guest 2")
    assert _read_digest(cloud, second, disk) == written
    conn.compute.delete_volume_attachment(second, volume)
    wait_volume(conn, volume, "available")
    conn.block_storage.delete_volume(volume)


def test_a_server_booted_from_a_volume_keeps_what_it_wrote_across_stop_and_start(
    cloud: InProcessCloud, conn: Connection, second: Any, boot_volume: Any
) -> None:
    assert conn.block_storage.get_volume(boot_volume.id).status == "in-use"
    assert not (conn.compute.get_server(second).image or {}).get("id"), "a volume-backed server has no image"
    disk = device_of(cloud, second, boot_volume.id)
    assert f"/dev/{disk}2 / " in guest(cloud, second, "cat /proc/mounts"), "/ is not on the boot volume"
    written = guest(cloud, second, "head -c 65536 /dev/urandom > /root/kept && sync && sha256sum /root/kept")

    cloud.openstack("server", "stop", second.name)
    wait_status(conn, second, "SHUTOFF")
    cloud.openstack("server", "start", second.name)
    started = wait_status(conn, second, "ACTIVE")
    assert _once_up(cloud, started, "sha256sum /root/kept") == written


def test_a_volume_backed_server_is_rescued_with_its_volume_as_the_second_disk(
    cloud: InProcessCloud, conn: Connection, second: Any, boot_volume: Any
) -> None:
    # Stable rescue (2.87): the rescue image boots as the first disk, the root volume is there to repair.
    cloud.openstack("--os-compute-api-version", "2.87", "server", "rescue", "--image", DEFAULT_IMAGE_NAME,
                    second.name)  # fmt: skip
    rescued = wait_status(conn, second, "RESCUE")
    mounts = _once_up(cloud, rescued, "cat /proc/mounts")
    volume_disk = device_of(cloud, rescued, boot_volume.id)
    assert volume_disk and "/dev/vda2 / " in mounts and f"/dev/{volume_disk}" not in mounts, mounts
    cloud.openstack("server", "unrescue", second.name)
    started = wait_status(conn, second, "ACTIVE")
    mounts = _once_up(cloud, started, "cat /proc/mounts")
    assert f"/dev/{device_of(cloud, started, boot_volume.id)}2 / " in mounts, "/ not on the boot volume again"


def test_a_volume_backed_server_is_rebuilt_onto_a_reimaged_root_volume(
    cloud: InProcessCloud, conn: Connection, second: Any, boot_volume: Any
) -> None:
    # 2.93: the root volume is rewritten with the image (Block Storage os-reimage) and booted again.
    assert guest(cloud, second, "echo old > /root/before && sync && cat /root/before") == "old"
    cloud.openstack("--os-compute-api-version", "2.93", "server", "rebuild", "--image", DEFAULT_IMAGE_NAME,
                    "--reimage-boot-volume", second.name)  # fmt: skip
    rebuilt = wait_status(conn, second, "ACTIVE")
    assert _once_up(cloud, rebuilt, "cat /root/before 2>/dev/null || echo gone").strip() == "gone"
    mounts = _once_up(cloud, rebuilt, "cat /proc/mounts")
    assert f"/dev/{device_of(cloud, rebuilt, boot_volume.id)}2 / " in mounts, "/ not on the boot volume"
    assert conn.block_storage.get_volume(boot_volume.id).status == "in-use"


def _once_up(cloud: InProcessCloud, server: Any, command: str) -> str:
    """`command`'s output once the rebooting guest answers (SSH to a guest still booting hangs)."""

    def attempt() -> str | None:
        try:
            return guest(cloud, server, command)
        except subprocess.TimeoutExpired:
            return None

    return str(wait_until(attempt, WAIT, what="the restarted guest"))


def test_a_volume_from_a_snapshot_and_one_restored_from_a_backup_hold_the_same_files(
    cloud: InProcessCloud, conn: Connection, first: Any
) -> None:
    source = _volume(cloud, conn, "--size", "1", "snapped-data")
    disk = _attach_with_cli(cloud, conn, first, source)
    written = _write_files(cloud, first, disk)
    _detach_with_cli(cloud, conn, first, source)

    snap = cloud.openstack("volume", "snapshot", "create", "--volume", source.id, "data-snap", "-f", "json")
    snapshot = conn.block_storage.wait_for_status(
        conn.block_storage.get_snapshot(snap["id"]), "available", failures=["error"], wait=WAIT, interval=0.3
    )
    from_snapshot = _volume(cloud, conn, "--snapshot", snapshot.id, "--size", "1", "data-copy")
    made = cloud.openstack("volume", "backup", "create", "--name", "data-backup", source.id, "-f", "json")
    backup = conn.block_storage.wait_for_status(
        conn.block_storage.get_backup(made["id"]), "available", failures=["error"], wait=WAIT, interval=0.3
    )
    conn.block_storage.delete_snapshot(snapshot)
    conn.block_storage.wait_for_delete(snapshot, wait=WAIT)
    conn.block_storage.delete_volume(source)
    conn.block_storage.wait_for_delete(source, wait=WAIT)

    cloud.openstack("volume", "backup", "restore", backup.id, "data-restored")
    restored = wait_until(
        lambda: next(iter(conn.block_storage.volumes(name="data-restored")), None),
        60,
        what="the restored volume",
    )
    restored = wait_volume(conn, restored, "available")

    for volume in (from_snapshot, restored):
        disk = _attach_with_cli(cloud, conn, first, volume)
        assert _read_digest(cloud, first, disk) == written, f"{volume.name} does not hold the written file"
        _detach_with_cli(cloud, conn, first, volume)
        conn.block_storage.delete_volume(volume)
    conn.block_storage.delete_backup(backup)


def test_a_volume_transferred_to_another_project_is_that_projects(
    cloud: InProcessCloud, conn: Connection
) -> None:
    volume = _volume(cloud, conn, "--size", "1", "given-away")
    request = cloud.openstack("volume", "transfer", "request", "create", volume.id, "-f", "json")
    accepted = cloud.openstack(
        "volume", "transfer", "request", "accept", "--auth-key", request["auth_key"], request["id"],
        "-f", "json", user="overcast-admin",
    )  # fmt: skip
    assert accepted["volume_id"] == volume.id
    admin = cloud.connect("admin")
    assert admin.block_storage.get_volume(volume.id).project_id == admin.current_project_id
    assert volume.id not in {mine.id for mine in conn.block_storage.volumes()}
    admin.block_storage.delete_volume(volume.id)
