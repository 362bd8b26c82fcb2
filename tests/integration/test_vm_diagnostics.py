"""os-server-diagnostics of a real QEMU guest through the public API (2.48's standard format): the QEMU
driver reports itself as Nova's libvirt driver does, with numbers QEMU and the host measure, which move
when the guest works."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.guest.publish import DEFAULT_IMAGE_ID
from tests.integration.test_vm_lifecycle import new_driver, wait_boots
from tests.support import qemu
from tests.support.cloud import TINY, InProcessCloud
from tests.support.guests import networks, ssh, wait_status
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
]
HOST = "qemu-1"


@pytest.fixture(scope="module")
def cloud() -> Iterator[InProcessCloud]:
    data_dir = qemu.new_data_dir()
    try:
        with qemu.cloud_with_guest(data_dir, {HOST: new_driver(data_dir)}) as running:
            yield running
    finally:
        qemu.kill_leftover_vms(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def diagnostics(admin: Connection, server: Any) -> dict[str, Any]:
    response = admin.compute.get(f"/servers/{server.id}/diagnostics", microversion="2.48")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_guest_reports_real_numbers(cloud: InProcessCloud, tmp_path: Path) -> None:
    demo, admin = cloud.connect("demo"), cloud.connect("admin")
    demo.compute.create_keypair(name="diag-key", public_key=qemu.ssh_key()[1])
    created = demo.compute.create_server(
        name="diag", image_id=DEFAULT_IMAGE_ID, flavor_id=TINY, key_name="diag-key", **networks(demo)
    )
    server = wait_status(demo, created, "ACTIVE")
    try:
        wait_boots(demo, server, 1)
        before = diagnostics(admin, server)
        assert (before["driver"], before["hypervisor"], before["hypervisor_os"], before["state"]) == (
            "libvirt",
            "qemu",
            "linux",
            "running",
        )
        assert before["num_cpus"] == 1 and before["cpu_details"][0]["time"] > 0
        assert before["memory_details"]["maximum"] == 512
        assert 0 < before["memory_details"]["used"] <= 512
        assert before["num_disks"] == len(before["disk_details"]) >= 2  # root disk and config drive
        root = before["disk_details"][0]
        assert root["read_bytes"] > 0 and root["read_requests"] > 0
        assert before["num_nics"] == 1 and before["nic_details"][0]["mac_address"].startswith("fa:16:3e")
        assert before["config_drive"] is True and before["uptime"] >= 0

        # The guest writes 8 MiB to its root disk (which takes it CPU time too): the counters follow.
        ssh(cloud, server, "dd if=/dev/zero of=/root/blob bs=1M count=8 conv=fsync 2>/dev/null")
        after = wait_until(
            lambda: (
                (d := diagnostics(admin, server))["disk_details"][0]["write_bytes"]
                >= root["write_bytes"] + 8 * 1024 * 1024
                and d
            ),
            30,
            what="the guest's writes in the root disk's counters",
        )
        assert after["cpu_details"][0]["time"] > before["cpu_details"][0]["time"]
        assert after["disk_details"][0]["write_requests"] > root["write_requests"]
        root_after = after["disk_details"][0]
        print(
            f"diagnostics: cpu {after['cpu_details'][0]['time'] / 1e9:.1f}s, memory used "
            f"{after['memory_details']['used']} MiB, root wrote {root_after['write_bytes']} bytes"
        )

        # Stopped: the same devices, without counters; no CPU threads to read.
        demo.compute.stop_server(server)
        wait_status(demo, server, "SHUTOFF")
        stopped = diagnostics(admin, server)
        assert stopped["state"] == "shutdown" and stopped["uptime"] == 0
        assert (
            stopped["num_disks"] == before["num_disks"] and stopped["disk_details"][0]["read_bytes"] is None
        )
        assert stopped["memory_details"]["used"] == 0
        # A member may not read them (Nova's admin-only default).
        assert demo.compute.get(f"/servers/{server.id}/diagnostics", microversion="2.48").status_code == 403
    finally:
        demo.compute.delete_server(server)
        demo.compute.wait_for_delete(server, wait=120)
