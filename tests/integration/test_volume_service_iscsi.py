"""The volume service in the README's all-in-one with the iSCSI driver (its own tgtd on a free loopback
port), driven by real clients: `openstack volume create` makes a sparse file, an attachment made through
the Block Storage API (3.54) hands out iSCSI connection_info that QEMU's own initiator (qemu-io) reads and
writes the file's bytes through, deleting the attachment removes the target, `openstack volume set --size`
grows the file, a volume made from a qcow2 image holds the guest's bytes and uploads back to an image,
deleting the volumes removes their files and gives their quota back, and stopping the cloud stops tgtd."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack.config.loader import OpenStackConfig

from overcast.volume.drivers.choice import can_serve_iscsi
from tests.support.all_in_one import OVERCAST, RunningCloud, start_cloud, stop_cloud
from tests.support.ports import free_port
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not can_serve_iscsi(), reason="needs root on Linux with tgt and qemu-block-extra"),
]
OPENSTACK = str(Path(OVERCAST[0]).with_name("openstack"))
MIB = 1024 * 1024
GIB = 1024 * MIB
CONNECTOR = {
    "host": "compute-x", "initiator": "iqn.2010-10.org.overcast:host:compute-x", "ip": "127.0.0.1",
    "multipath": False, "platform": "x86_64", "os_type": "linux",
}  # fmt: skip


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningCloud]:
    monkeypatch.setenv("OVERCAST_VOLUME_DRIVER", "iscsi")
    monkeypatch.setenv("OVERCAST_ISCSI_PORT", str(free_port()))
    cloud = start_cloud(tmp_path / "aio")
    try:
        yield cloud
    finally:
        assert stop_cloud(cloud) == 0
    assert not _tgtd_pids(tmp_path / "aio"), "stopping the cloud left its tgtd running"


def _tgtd_pids(data_dir: Path) -> list[int]:
    pid_file = data_dir / "volumes" / "tgt" / "tgtd.pid"
    if not pid_file.exists():
        return []
    pid = int(pid_file.read_text())
    return [pid] if Path(f"/proc/{pid}").exists() else []


def cli(data_dir: Path, *args: str) -> Any:
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(data_dir / "clouds.yaml"), "OS_CLOUD": "overcast-demo"}
    done = subprocess.run(
        [OPENSTACK, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "json" in args else done.stdout


def volume_status(data_dir: Path, name: str) -> str:
    return str(cli(data_dir, "volume", "show", name, "-f", "json")["status"])


def settled(data_dir: Path, name: str) -> str:
    wait_until(
        lambda: volume_status(data_dir, name) in ("available", "error"),
        timeout=60,
        what=f"volume {name} to settle",
    )
    return volume_status(data_dir, name)


def qemu_io(data: dict[str, Any], *commands: str) -> subprocess.CompletedProcess[str]:
    opts = ",".join([
        "driver=iscsi", "transport=tcp", f"portal={data['target_portal']}", f"target={data['target_iqn']}",
        f"lun={data['target_lun']}", f"user={data['auth_username']}", f"password={data['auth_password']}",
        f"initiator-name={CONNECTOR['initiator']}",
    ])  # fmt: skip
    args = ["qemu-io", "--image-opts", opts]
    for command in commands:
        args += ["-c", command]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def volume_file(data_dir: Path, volume_id: str) -> Path:
    return data_dir / "volumes" / f"volume-{volume_id}"


def test_volumes_over_iscsi_through_the_openstack_cli_and_sdk(running: RunningCloud, tmp_path: Path) -> None:
    data_dir = running.data_dir
    assert "exported over iSCSI by tgtd" in running.banner
    created = cli(data_dir, "volume", "create", "--size", "1", "vol1", "-f", "json")
    assert settled(data_dir, "vol1") == "available"
    path = volume_file(data_dir, created["id"])
    assert path.stat().st_size == GIB and path.stat().st_blocks == 0

    config = OpenStackConfig(config_files=[str(data_dir / "clouds.yaml")])
    conn = openstack.connection.Connection(config=config.get_one(cloud="overcast-demo"))
    try:
        body = {
            "attachment": {
                "volume_uuid": created["id"],
                "instance_uuid": str(uuid.uuid4()),
                "connector": CONNECTOR,
            }
        }
        response = conn.block_storage.post(
            "/attachments", json=body, headers={"OpenStack-API-Version": "volume 3.54"}
        )
        assert response.status_code == 200, response.text
        attachment = response.json()["attachment"]
        info = attachment["connection_info"]
        assert info["driver_volume_type"] == "iscsi"
        assert info["data"]["auth_method"] == "CHAP" and info["data"]["target_lun"] == 1
        written = qemu_io(info["data"], "write -P 0x42 4M 1M")
        assert written.returncode == 0, written.stderr
        with path.open("rb") as volume:
            volume.seek(4 * MIB)
            assert volume.read(MIB) == b"\x42" * MIB
        response = conn.block_storage.delete(
            f"/attachments/{attachment['id']}", headers={"OpenStack-API-Version": "volume 3.54"}
        )
        assert response.status_code == 200, response.text
        assert qemu_io(info["data"], "read 0 4k").returncode != 0
    finally:
        conn.close()

    cli(data_dir, "volume", "set", "--size", "2", "vol1")
    wait_until(lambda: cli(data_dir, "volume", "show", "vol1", "-f", "json")["size"] == 2, what="the extend")
    assert volume_status(data_dir, "vol1") == "available" and path.stat().st_size == 2 * GIB

    raw, qcow2 = tmp_path / "guest.raw", tmp_path / "guest.qcow2"
    with raw.open("wb") as guest:
        guest.truncate(64 * MIB)
        guest.seek(5 * MIB)
        guest.write(b"hello from the image")
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(qcow2)], check=True)
    cli(
        data_dir,
        "image",
        "create",
        "--disk-format",
        "qcow2",
        "--container-format",
        "bare",
        "--file",
        str(qcow2),
        "img",
    )
    from_image = cli(data_dir, "volume", "create", "--image", "img", "--size", "1", "vol2", "-f", "json")
    assert settled(data_dir, "vol2") == "available"
    with volume_file(data_dir, from_image["id"]).open("rb") as volume:
        volume.seek(5 * MIB)
        assert volume.read(20) == b"hello from the image"
    assert cli(data_dir, "volume", "show", "vol2", "-f", "json")["bootable"] in ("true", True)

    cli(data_dir, "image", "create", "--volume", "vol2", "--disk-format", "qcow2", "uploaded")
    wait_until(
        lambda: cli(data_dir, "image", "show", "uploaded", "-f", "json")["status"] == "active", what="upload"
    )
    assert settled(data_dir, "vol2") == "available"
    saved = tmp_path / "uploaded.qcow2"
    cli(data_dir, "image", "save", "--file", str(saved), "uploaded")
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(saved), str(raw)], check=True)
    with raw.open("rb") as image:
        image.seek(5 * MIB)
        assert image.read(20) == b"hello from the image"

    cli(data_dir, "volume", "delete", "vol1", "vol2")
    wait_until(lambda: cli(data_dir, "volume", "list", "-f", "json") == [], what="the volumes to go")
    assert not volume_file(data_dir, created["id"]).exists()
    assert not volume_file(data_dir, from_image["id"]).exists()
    limits = cli(data_dir, "limits", "show", "--absolute", "-f", "json")
    used = {row["Name"]: row["Value"] for row in limits}
    assert used.get("totalVolumesUsed", 0) == 0 and used.get("totalGigabytesUsed", 0) == 0
