"""The README's run command with QEMU installed: `overcast all-in-one` builds the guest image on its first
start, uploads it as overcast-tiny, and a server booted with openstacksdk is a real VM whose SSH port
`overcast server ssh-info` names."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
from openstack import utils
from openstack.config import OpenStackConfig
from openstack.connection import Connection

from overcast.guest.publish import DEFAULT_IMAGE_ID
from tests.support import qemu
from tests.support.all_in_one import OVERCAST, start_cloud, stop_cloud

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
]


def test_all_in_one_boots_real_vms_from_the_image_it_built(tmp_path: Path) -> None:
    data_dir = tmp_path / "aio"
    running = start_cloud(data_dir, "--compute-driver", "qemu")
    try:
        assert "Compute driver: qemu" in running.banner
        assert "Uploading" in running.banner and "overcast-tiny" in running.banner
        config = OpenStackConfig(config_files=[str(data_dir / "clouds.yaml")], load_envvars=False)
        conn = Connection(config=config.get_one(cloud="overcast-demo"))
        assert conn.image.get_image(DEFAULT_IMAGE_ID).disk_format == "qcow2"
        extra = {"networks": "auto"} if utils.supports_microversion(conn.compute, "2.37") else {}
        server = conn.compute.create_server(name="aio-vm", image_id=DEFAULT_IMAGE_ID, flavor_id="1", **extra)
        server = conn.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.5)
        marker = f"OVERCAST-GUEST-READY {server.id}"
        deadline = time.monotonic() + 120
        while marker not in conn.compute.get_server_console_output(server)["output"]:
            assert time.monotonic() < deadline, "the guest did not report ready"
            time.sleep(0.5)
        assert server.addresses["user"][0]["addr"] == "10.0.2.15"

        ssh_info = subprocess.run(
            [*OVERCAST, "server", "ssh-info", "aio-vm", "--data-dir", str(data_dir)],
            capture_output=True, text=True, check=True, env={**os.environ, "OVERCAST_CONFIG": "/nonexistent"},
        )  # fmt: skip
        port = re.fullmatch(r"ssh -p (\d+) root@127\.0\.0\.1\n", ssh_info.stdout)
        assert port is not None, ssh_info.stdout
        assert first_bytes(int(port[1])).startswith(b"SSH-2.0-")  # dropbear answers on the forwarded port

        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
        assert not (data_dir / "instances" / server.id).exists()
    finally:
        assert stop_cloud(running) == 0
        qemu.kill_leftover_vms(data_dir)


def first_bytes(port: int) -> bytes:
    """What a TCP server on 127.0.0.1:`port` says first (retrying while the guest starts dropbear)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                data = sock.recv(64)
            if data:
                return data
        except OSError:
            pass
        assert time.monotonic() < deadline, f"nothing answers on port {port}"
        time.sleep(0.5)
