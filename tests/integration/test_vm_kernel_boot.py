"""Direct kernel boot of a real VM through the public API: the published overcast-tiny-direct image (its
kernel_id and ramdisk_id name overcast-tiny-kernel and overcast-tiny-ramdisk) boots with QEMU's -kernel,
-initrd and -append, no boot loader, on the in-process cloud's QEMU compute host (TCG).

One server lives through the whole story: boot (the guest finds its root by label, gets its address by
DHCP and its key from the config drive), snapshot (Nova's semantics: the snapshot names the same kernel
and ramdisk), rescue and unrescue, a resize confirmed, delete.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.guest.publish import (
    DIRECT_IMAGE_ID,
    DIRECT_IMAGE_NAME,
    KERNEL_IMAGE_ID,
    KERNEL_IMAGE_NAME,
    RAMDISK_IMAGE_ID,
    RAMDISK_IMAGE_NAME,
)
from overcast.guest.scripts import KERNEL_ARGS
from overcast.virt.qemu.driver import QemuDriver
from overcast.virt.qemu.launch import read_pid
from tests.support import qemu
from tests.support.cloud import InProcessCloud
from tests.support.guests import WAIT, networks, ssh, wait_status
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
]
HOST = "qemu-kb"
READY = "OVERCAST-GUEST-READY"
FLAVORS = {"kb-small": (1, 192, 1), "kb-big": (2, 256, 2)}  # name: (vcpus, memory MB, root disk GB)


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    folder = qemu.new_data_dir()
    yield folder
    qemu.kill_leftover_vms(folder)  # whatever a failure left running
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cloud(data_dir: Path) -> Iterator[InProcessCloud]:
    # The driver waits for the guest's READY line before a server turns ACTIVE.
    driver = QemuDriver(data_dir, accelerator="tcg", boot_timeout=120, soft_reboot_timeout=30)
    with qemu.cloud_with_guest(data_dir, {HOST: driver}) as running:
        yield running


@pytest.fixture(scope="module")
def conn(cloud: InProcessCloud) -> Connection:
    admin = cloud.connect("admin")
    for name, (vcpus, ram, disk) in FLAVORS.items():
        admin.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk, id=name)
    return cloud.connect("demo")


def qemu_command(data_dir: Path, server: Any) -> list[str]:
    pid = read_pid(data_dir / "instances" / server.id)
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def option(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


def console(conn: Connection, server: Any) -> str:
    output: str = conn.compute.get_server_console_output(server)["output"]
    return output


def test_the_published_machine_image_names_its_kernel_and_ramdisk(conn: Connection) -> None:
    kernel, ramdisk = conn.image.get_image(KERNEL_IMAGE_ID), conn.image.get_image(RAMDISK_IMAGE_ID)
    assert (kernel.name, kernel.disk_format, kernel.container_format) == (KERNEL_IMAGE_NAME, "aki", "aki")
    assert (ramdisk.name, ramdisk.disk_format, ramdisk.container_format) == (RAMDISK_IMAGE_NAME, "ari", "ari")
    machine = conn.image.get_image(DIRECT_IMAGE_ID)
    assert machine.name == DIRECT_IMAGE_NAME and machine.status == "active" and machine.visibility == "public"
    assert (machine.kernel_id, machine.ramdisk_id) == (KERNEL_IMAGE_ID, RAMDISK_IMAGE_ID)
    assert machine.os_command_line == KERNEL_ARGS


def test_a_direct_kernel_boot_server_boots_snapshots_rescues_and_resizes(
    cloud: InProcessCloud, conn: Connection, data_dir: Path
) -> None:
    _, public_key = qemu.ssh_key()
    conn.compute.create_keypair(name="kb-key", public_key=public_key)
    server = conn.compute.create_server(
        name="kb-1", image_id=DIRECT_IMAGE_ID, flavor_id="kb-small", key_name="kb-key", **networks(conn)
    )
    server = wait_status(conn, server, "ACTIVE")
    assert f"{READY} {server.id}" in console(conn, server)

    # QEMU itself loads the kernel and initramfs, linked into the instance folder; no disk is a boot device.
    folder = data_dir / "instances" / server.id
    args = qemu_command(data_dir, server)
    assert option(args, "-kernel") == ["kernel"] and option(args, "-initrd") == ["ramdisk"]
    assert option(args, "-append") == [KERNEL_ARGS]
    assert not any("bootindex" in device for device in option(args, "-device"))
    assert (folder / "kernel").stat().st_size == conn.image.get_image(KERNEL_IMAGE_ID).size
    # The guest mounted its root by label, got its address by DHCP, its key from the config drive
    # (SSH works), its hostname from the metadata.
    out = ssh(cloud, server, "cat /proc/cmdline; grep ' / ' /proc/mounts; ip -4 addr show eth0; hostname")
    assert "root=LABEL=overcast-root" in out and "/dev/vda " in out and "inet 10.0.2.15/" in out
    assert out.split()[-1] == "kb-1"
    ssh(cloud, server, "echo kept > /root/marker; sync")

    # A snapshot keeps the kernel and ramdisk of the image (Nova's inherited properties).
    snapshot_id = conn.compute.create_server_image(server, name="kb-snap", wait=True, timeout=WAIT).id
    snapshot = conn.image.get_image(snapshot_id)
    assert snapshot.status == "active" and snapshot.properties["image_type"] == "snapshot"
    assert (snapshot.kernel_id, snapshot.ramdisk_id) == (KERNEL_IMAGE_ID, RAMDISK_IMAGE_ID)
    assert snapshot.os_command_line == KERNEL_ARGS

    # Rescue with the server's own image boots its kernel again, the server's disk beside the rescue disk.
    conn.compute.rescue_server(server)
    server = wait_status(conn, server, "RESCUE")
    args = qemu_command(data_dir, server)
    assert option(args, "-kernel") == ["kernel.rescue"] and option(args, "-initrd") == ["ramdisk.rescue"]
    assert console(conn, server).count(f"{READY} {server.id}") == 2
    conn.compute.unrescue_server(server)
    server = wait_status(conn, server, "ACTIVE")
    assert not (folder / "kernel.rescue").exists() and option(qemu_command(data_dir, server), "-kernel") == [
        "kernel"
    ]
    assert ssh(cloud, server, "cat /root/marker").strip() == "kept"

    # Resize: the set-aside folder keeps the old VM's kernel; the new VM boots its own, bigger.
    conn.compute.resize_server(server, "kb-big")
    server = wait_status(conn, server, "VERIFY_RESIZE")
    assert (data_dir / "instances" / f"{server.id}_resize" / "kernel").is_file()
    assert option(qemu_command(data_dir, server), "-kernel") == ["kernel"]
    assert ssh(cloud, server, "grep -c ^processor /proc/cpuinfo; cat /root/marker").split() == ["2", "kept"]
    conn.compute.confirm_server_resize(server)
    server = wait_status(conn, server, "ACTIVE")

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=WAIT)
    conn.image.delete_image(snapshot_id)
    assert not folder.exists()
    cache = data_dir / "image-cache" / HOST
    wait_until(lambda: not list(cache.iterdir()), 60, what="the image cache pruned", interval=0.2)
