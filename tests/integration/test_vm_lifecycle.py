"""Real VMs through the public API: openstacksdk against the in-process cloud whose compute host runs the
QEMU driver (TCG), the guest image uploaded as the default public image overcast-tiny.

One server lives through the whole story (boot, console, SSH with the booted key pair, user data, every
power action, a snapshot booted as a second server, a compute service restart, a QEMU killed by hand,
delete), so the guest boots as few times as the story needs.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as websocket_connect
from websockets.typing import Subprotocol

from overcast.compute.manager import ComputeManager
from overcast.config import SerialConsoleSettings
from overcast.guest.publish import DEFAULT_IMAGE_ID
from overcast.service import Service
from overcast.virt.qemu.driver import QemuDriver
from overcast.virt.qemu.launch import PID_FILE, pid_alive
from tests.support import qemu
from tests.support.cloud import TINY, InProcessCloud
from tests.support.guests import WAIT, networks, ssh, ssh_port, wait_status
from tests.support.waiting import WAIT_SECONDS, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
]
HOST = "qemu-1"
USER_DATA = b"#!/bin/sh\necho user-data-ran > /root/user-data.out\n"
ADMIN_PASS = "Root-Pass-7q"
CRASHED = 6  # Nova's power_state of a guest that panicked
READY = "OVERCAST-GUEST-READY"


def new_driver(data_dir: Path) -> QemuDriver:
    # ACTIVE means the VM runs (as in Nova); the tests wait for the guest's READY line themselves.
    # Serial ports on TCP, as a multi-host cloud configures them (the default is a unix socket).
    serial = SerialConsoleSettings(port_range="10000:20000")
    return QemuDriver(
        data_dir, accelerator="tcg", boot_timeout=0, soft_reboot_timeout=30, serial_console=serial
    )


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    folder = qemu.new_data_dir()
    yield folder
    qemu.kill_leftover_vms(folder)  # whatever a failure left running
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cloud(data_dir: Path) -> Iterator[InProcessCloud]:
    with qemu.cloud_with_guest(data_dir, {HOST: new_driver(data_dir)}) as running:
        yield running


@pytest.fixture(scope="module")
def conn(cloud: InProcessCloud) -> Connection:
    return cloud.connect("demo")


def console(conn: Connection, server: Any, length: int | None = None) -> str:
    output: str = conn.compute.get_server_console_output(server, length=length)["output"]
    return output


def wait_boots(conn: Connection, server: Any, count: int) -> None:
    """Until the console shows the guest's READY line `count` times (one per boot)."""
    marker = f"{READY} {server.id}"
    booted = f"boot #{count} of {server.name}"
    wait_until(lambda: console(conn, server).count(marker) >= count, WAIT, what=booted, interval=0.2)


def sha512_crypt(password: str, like: str) -> str:
    """`password` hashed with the salt of the crypt(3) hash `like` (busybox's mkpasswd, as in the guest)."""
    salt = like.split("$")[2]
    return subprocess.run(["busybox", "mkpasswd", "-m", "sha512", password, salt], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip


def panic_guest(cloud: InProcessCloud, server: Any) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):  # the kernel may die under the SSH session
        qemu.ssh(ssh_port(cloud, server), "sync; echo c > /proc/sysrq-trigger", timeout=15)


def qemu_pid(data_dir: Path, server: Any) -> int:
    return int((data_dir / "instances" / server.id / PID_FILE).read_text())


def restart_compute(cloud: InProcessCloud, data_dir: Path) -> None:
    """Stop the compute service (its VMs keep running) and start a new one with a new driver."""
    old = next(s for s in cloud.services if isinstance(s.manager, ComputeManager))
    old.stop()
    driver = new_driver(data_dir)
    service = Service(cloud.cloud, ComputeManager(cloud.cloud, HOST, driver=driver))
    service.start()
    cloud.services[cloud.services.index(old)] = service
    cloud.drivers[HOST] = cloud.driver = driver


def serial_console_says_login(url: str) -> bool:
    with websocket_connect(url, subprotocols=[Subprotocol("binary")], open_timeout=WAIT_SECONDS) as websocket:
        websocket.send(b"\n")
        seen = b""
        deadline = time.monotonic() + 60
        while b"login:" not in seen and time.monotonic() < deadline:
            message = websocket.recv(timeout=deadline - time.monotonic())
            seen += message if isinstance(message, bytes) else message.encode()
    return b"login:" in seen


def test_a_real_vm_through_its_whole_life(cloud: InProcessCloud, conn: Connection, data_dir: Path) -> None:
    _, public_key = qemu.ssh_key()
    conn.compute.create_keypair(name="qemu-key", public_key=public_key)
    started = time.monotonic()
    server = conn.compute.create_server(
        name="vm-1", image_id=DEFAULT_IMAGE_ID, flavor_id=TINY, key_name="qemu-key",
        user_data=base64.b64encode(USER_DATA).decode(), admin_password=ADMIN_PASS, **networks(conn),
    )  # fmt: skip
    assert server.admin_password == ADMIN_PASS
    server = wait_status(conn, server, "ACTIVE")
    wait_boots(conn, server, 1)
    print(f"API request to READY on the console: {time.monotonic() - started:.1f}s")

    # The console (with length), the address, SSH with the key pair it booted with, the user data.
    assert len(console(conn, server, length=2).splitlines()) == 2
    assert server.addresses["user"][0]["addr"] == "10.0.2.15"
    assert server.addresses["user"][0]["OS-EXT-IPS-MAC:mac_addr"].startswith("fa:16:3e:")
    assert ssh(cloud, server, "cat /root/user-data.out").strip() == "user-data-ran"
    # The adminPass from the config drive became root's password (the image ships root locked).
    root_hash = ssh(cloud, server, "grep '^root:' /etc/shadow").split(":")[1]
    assert root_hash.startswith("$6$") and sha512_crypt(ADMIN_PASS, root_hash) == root_hash
    # Setting it later needs a guest agent this driver does not have: Nova's 501, and the server is idle.
    refused = conn.compute.post(f"/servers/{server.id}/action", json={"changePassword": {"adminPass": "x"}})
    assert refused.status_code == 501, refused.text
    assert wait_status(conn, server, "ACTIVE").task_state is None
    hypervisors = list(cloud.connect("admin").compute.hypervisors(details=True))
    assert [h.hypervisor_type for h in hypervisors] == ["QEMU"]  # TCG; "KVM" only when the probe ran

    # An interactive serial console over a websocket, with a single-use token; the proxy reaches the
    # serial port on TCP (as it would on another host), at a port the VM keeps for its whole life.
    serial_port = cloud.driver.get_serial_console(server.id)
    assert serial_port["kind"] == "tcp" and serial_port["host"] == "127.0.0.1"
    url = conn.compute.create_console(server, console_type="serial")["url"]
    assert serial_console_says_login(url)
    with pytest.raises(InvalidStatus):
        serial_console_says_login(url)

    conn.compute.reboot_server(server, "SOFT")
    wait_status(conn, server, "ACTIVE")
    wait_boots(conn, server, 2)
    conn.compute.stop_server(server)
    wait_status(conn, server, "SHUTOFF")
    conn.compute.start_server(server)
    wait_status(conn, server, "ACTIVE")
    wait_boots(conn, server, 3)

    conn.compute.pause_server(server)
    wait_status(conn, server, "PAUSED")
    conn.compute.unpause_server(server)
    wait_status(conn, server, "ACTIVE")
    ssh(cloud, server, "echo in-memory > /run/volatile; echo on-disk > /root/marker; sync")
    conn.compute.suspend_server(server)
    wait_status(conn, server, "SUSPENDED")
    conn.compute.resume_server(server)
    wait_status(conn, server, "ACTIVE")
    assert ssh(cloud, server, "cat /run/volatile").strip() == "in-memory"  # the same boot, resumed

    # A snapshot becomes an image that boots a second server with the first one's disk.
    image = conn.compute.create_server_image(server, name="vm-1-snap", wait=True, timeout=WAIT)
    assert conn.image.get_image(image.id).disk_format == "qcow2"
    clone = conn.compute.create_server(name="vm-2", image_id=image.id, flavor_id=TINY, key_name="qemu-key",
                                       **networks(conn))  # fmt: skip
    clone = wait_status(conn, clone, "ACTIVE")
    wait_boots(conn, clone, 1)
    assert ssh(cloud, clone, "cat /root/marker").strip() == "on-disk"
    assert cloud.driver.get_serial_console(clone.id)["port"] != serial_port["port"]

    # A guest kernel panic reaches QEMU through pvpanic: SHUTOFF with the CRASHED power state, and the
    # panicked QEMU is gone.
    clone_pid = qemu_pid(data_dir, clone)
    panic_guest(cloud, clone)
    crashed = wait_status(conn, clone, "SHUTOFF")
    assert crashed.power_state == CRASHED and crashed.task_state is None
    assert not pid_alive(clone_pid, clone.id)
    conn.compute.delete_server(clone)
    conn.compute.wait_for_delete(clone, wait=WAIT)

    # The compute service restarts; the VM runs on, and the new service drives it.
    pid = qemu_pid(data_dir, server)
    restart_compute(cloud, data_dir)
    assert pid_alive(pid, server.id) and qemu_pid(data_dir, server) == pid
    assert conn.compute.get_server(server).status == "ACTIVE"
    assert cloud.driver.get_serial_console(server.id) == serial_port  # found again in the VM's record
    assert serial_console_says_login(conn.compute.create_console(server, console_type="serial")["url"])
    conn.compute.pause_server(server)
    wait_status(conn, server, "PAUSED")
    conn.compute.unpause_server(server)
    wait_status(conn, server, "ACTIVE")

    # QEMU dies by hand: QMP's closed connection (or the periodic sync) turns the server SHUTOFF.
    os.kill(pid, signal.SIGKILL)
    wait_status(conn, server, "SHUTOFF")

    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=WAIT)
    assert not pid_alive(pid, server.id)
    for uuid in (server.id, clone.id):
        assert not (data_dir / "instances" / uuid).exists()
        assert not any(f"process=overcast-{uuid}".encode() in _cmdline(proc) for proc in _processes())
    assert list((data_dir / "instances").iterdir()) == [data_dir / "instances" / "_base"]
    assert list((data_dir / "instances" / "_base").iterdir()) == []
    cache = data_dir / "image-cache" / HOST
    wait_until(lambda: not list(cache.iterdir()), 60, what="the image cache pruned", interval=0.2)


def _processes() -> list[Path]:
    return list(Path("/proc").glob("[0-9]*"))


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""
