"""Cold resize of a real VM through the public API: openstacksdk against the in-process cloud with two
QEMU compute hosts (TCG), each keeping its VMs in its own folder.

One server lives through the whole story, so the guest boots as few times as the story needs: resized on
its own host and confirmed, resized and reverted, then stopped and resized to the other host (the disk
travels as a hidden transfer image through the image service, as between machines, and the VM stays off)
and confirmed. The guest
itself is asked for its limits: CPUs, memory and the size of its root disk.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection
from sqlalchemy import select

from overcast.compute import instance_extra
from overcast.db.models.image import Image
from overcast.guest.publish import DEFAULT_IMAGE_ID
from overcast.virt.qemu.driver import QemuDriver
from overcast.virt.qemu.launch import PID_FILE
from tests.support import qemu
from tests.support.cloud import InProcessCloud
from tests.support.compute_api import compute
from tests.support.guests import WAIT, networks, ssh, wait_status
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
]
HOSTS = ("qemu-a", "qemu-b")
COMPUTE = "overcast-compute"
SECTORS_PER_GB = 1024**3 // 512
# name: (vcpus, memory MB, root disk GB)
FLAVORS = {
    "rs-small": (1, 192, 1),
    "rs-big": (2, 320, 2),
    "rs-huge": (2, 384, 3),
    "rs-xl": (1, 416, 4),
}


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    folder = qemu.new_data_dir()
    yield folder
    qemu.kill_leftover_vms(folder)  # whatever a failure left running
    shutil.rmtree(folder, ignore_errors=True)


def instances(data_dir: Path, host: str) -> Path:
    return data_dir / host / "instances"


@pytest.fixture(scope="module")
def cloud(data_dir: Path) -> Iterator[InProcessCloud]:
    # Two compute hosts on one machine, each with its own instances folder. The drivers wait for the
    # guest's READY line before a server turns ACTIVE or VERIFY_RESIZE, so SSH answers at once.
    drivers = {host: QemuDriver(data_dir / host, accelerator="tcg", boot_timeout=120) for host in HOSTS}
    with qemu.cloud_with_guest(data_dir, drivers) as running:
        yield running


@pytest.fixture(scope="module")
def admin(cloud: InProcessCloud) -> Connection:
    return cloud.connect("admin")


@pytest.fixture(scope="module")
def conn(cloud: InProcessCloud, admin: Connection) -> Connection:
    for name, (vcpus, ram, disk) in FLAVORS.items():
        admin.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk, id=name)
    return cloud.connect("demo")


def only_host(cloud: InProcessCloud, admin: Connection, host: str) -> None:
    """Let the scheduler place on `host` alone (the other compute service is disabled)."""
    for name in HOSTS:
        action = "enable" if name == host else "disable"
        response = compute(admin, "PUT", f"/os-services/{action}", json={"host": name, "binary": COMPUTE})
        assert response.status_code == 200, response.text


def limits(cloud: InProcessCloud, server: Any) -> tuple[int, int, int]:
    """(CPUs, MemTotal in MB, root disk in GB) as the guest sees them."""
    out = ssh(
        cloud,
        server,
        "grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo; cat /sys/block/vda/size",
    )
    out = out.split()
    cpus, mem_kb, sectors = int(out[0]), int(out[2]), int(out[4])
    return cpus, mem_kb // 1024, sectors // SECTORS_PER_GB


def assert_flavor_limits(cloud: InProcessCloud, server: Any, flavor: str) -> None:
    vcpus, ram, disk = FLAVORS[flavor]
    cpus, mem_mb, disk_gb = limits(cloud, server)
    assert (cpus, disk_gb) == (vcpus, disk), f"guest sees {cpus} CPUs and {disk_gb} GB, not {flavor}'s"
    assert ram - 64 < mem_mb <= ram, f"guest sees {mem_mb} MB of memory, not {flavor}'s {ram}"


def resize(conn: Connection, server: Any, flavor: str) -> Any:
    conn.compute.resize_server(server, flavor)
    return wait_status(conn, server, "VERIFY_RESIZE")


def set_aside(data_dir: Path, host: str, server: Any) -> Path:
    return instances(data_dir, host) / f"{server.id}_resize"


def transfer_image(cloud: InProcessCloud, server: Any) -> Image | None:
    """The image the last move sent the disk through (deleted or not), from the migration data."""
    with cloud.cloud.db.reader() as session:
        moved = instance_extra.system_metadata(session, server.id).get("resize_migration_data") or {}
        image_id = moved.get("transfer_image_id")
        return session.scalars(select(Image).where(Image.id == image_id)).first() if image_id else None


def test_resize_confirm_revert_and_a_stopped_server_to_another_host(
    cloud: InProcessCloud, conn: Connection, admin: Connection, data_dir: Path
) -> None:
    a, b = HOSTS
    only_host(cloud, admin, a)
    _, public_key = qemu.ssh_key()
    conn.compute.create_keypair(name="resize-key", public_key=public_key)
    server = conn.compute.create_server(
        name="rs-1", image_id=DEFAULT_IMAGE_ID, flavor_id="rs-small", key_name="resize-key", **networks(conn)
    )
    server = wait_status(conn, server, "ACTIVE")
    assert_flavor_limits(cloud, server, "rs-small")
    ssh(cloud, server, "echo kept > /root/marker; sync")

    # On the same host (the only one enabled): more CPUs, memory and disk; confirm drops the old disk.
    server = resize(conn, server, "rs-big")
    assert set_aside(data_dir, a, server).is_dir()
    assert_flavor_limits(cloud, server, "rs-big")
    assert ssh(cloud, server, "cat /root/marker").strip() == "kept"
    conn.compute.confirm_server_resize(server)
    server = wait_status(conn, server, "ACTIVE")
    assert server.flavor["original_name"] == "rs-big"
    assert not set_aside(data_dir, a, server).exists()

    # Revert: the old VM comes back with its old limits and its old disk (what was written since, gone).
    server = resize(conn, server, "rs-huge")
    assert_flavor_limits(cloud, server, "rs-huge")
    ssh(cloud, server, "echo lost > /root/after-resize; sync")
    conn.compute.revert_server_resize(server)
    server = wait_status(conn, server, "ACTIVE")
    assert server.flavor["original_name"] == "rs-big"
    assert_flavor_limits(cloud, server, "rs-big")
    assert ssh(cloud, server, "cat /root/marker; ls /root").split() == ["kept", "marker"]
    assert not set_aside(data_dir, a, server).exists()

    # Stopped, to the other host: the disk goes through a hidden transfer image (the destination gets
    # the overlay, without its backing reference, and attaches its own copy of the base), and the VM
    # stays off.
    conn.compute.stop_server(server)
    wait_status(conn, server, "SHUTOFF")
    only_host(cloud, admin, b)
    server = resize(conn, server, "rs-xl")
    assert admin.compute.get_server(server).compute_host == b
    assert server.power_state == 4 and not (instances(data_dir, b) / server.id / PID_FILE).exists()
    assert set_aside(data_dir, a, server).is_dir()
    image = transfer_image(cloud, server)
    assert image is not None and image.os_hidden and image.properties["image_type"] == "resize-transfer"
    assert image.size and image.deleted  # uploaded, fetched by host b, then deleted
    hidden = admin.image.get("/images?os_hidden=true").json()["images"]
    assert image.id not in {listed["id"] for listed in hidden}
    conn.compute.confirm_server_resize(server)
    server = wait_status(conn, server, "SHUTOFF")
    assert not set_aside(data_dir, a, server).exists()
    conn.compute.start_server(server)
    server = wait_status(conn, server, "ACTIVE")
    assert_flavor_limits(cloud, server, "rs-xl")
    assert ssh(cloud, server, "cat /root/marker").strip() == "kept"

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=120)
    for host in HOSTS:
        assert [p.name for p in instances(data_dir, host).iterdir()] == ["_base"]
        bases = instances(data_dir, host) / "_base"
        wait_until(lambda bases=bases: not list(bases.iterdir()), WAIT, what="bases pruned", interval=0.2)
