"""The iSCSI volume driver with a real tgtd on a free loopback port, read and written by QEMU's own iSCSI
client (qemu-io / qemu-img with qemu-block-extra): the driver contract, the bytes through the target equal
the file's, CHAP and the initiator ACL refuse strangers, an extend reaches a connected initiator, and a
killed tgtd comes back with every export. Prints `qemu-img bench` over iSCSI beside the raw file."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overcast.volume.drivers.base import GiB, VolumeDriverError
from overcast.volume.drivers.choice import can_serve_iscsi
from overcast.volume.drivers.iscsi import IscsiVolumeDriver
from overcast.volume.drivers.tgt import CONTROL_DIR
from tests.support.ports import free_port
from tests.support.waiting import wait_until
from tests.unit.volume.driver_contract import CONNECTOR, DriverContract, new_id, read_at, write_at

pytestmark = pytest.mark.skipif(
    not can_serve_iscsi(), reason="prerequisites: root on Linux, tgt (tgtd, tgtadm) and qemu-block-extra"
)
MIB = 1024 * 1024


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[IscsiVolumeDriver]:
    iscsi = IscsiVolumeDriver(
        tmp_path / "pool", portal_address="127.0.0.1", port=free_port(), supervise_interval=0.2
    )
    iscsi.init_host("host-a")
    try:
        yield iscsi
    finally:
        iscsi.cleanup_host()
    assert not iscsi.tgtd.alive()
    assert not (CONTROL_DIR / f"socket.{iscsi.tgtd.control_port}").exists()


def image_opts(data: dict[str, Any], initiator: str = str(CONNECTOR["initiator"]), **override: str) -> str:
    options = {
        "driver": "iscsi",
        "transport": "tcp",
        "portal": data["target_portal"],
        "target": data["target_iqn"],
        "lun": str(data["target_lun"]),
        "user": data["auth_username"],
        "password": data["auth_password"],
        "initiator-name": initiator,
        **override,
    }
    return ",".join(f"{key}={value}" for key, value in options.items())


def qemu_io(opts: str, *commands: str) -> subprocess.CompletedProcess[str]:
    args = ["qemu-io", "--image-opts", opts]
    for command in commands:
        args += ["-c", command]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def virtual_size(opts: str) -> int:
    result = subprocess.run(
        ["qemu-img", "info", "--image-opts", opts], capture_output=True, text=True, timeout=60, check=True
    )
    match = re.search(r"\((\d+) bytes\)", result.stdout)
    assert match, result.stdout
    return int(match.group(1))


class TestIscsiDriver(DriverContract):
    pass


def test_bytes_written_through_iscsi_are_the_files_and_back(driver: IscsiVolumeDriver) -> None:
    volume_id = new_id()
    driver.create_volume(volume_id, 1)
    write_at(driver, volume_id, 8 * MIB, b"\x5a" * 4096)
    info = driver.export(new_id(), volume_id, CONNECTOR)
    assert info["driver_volume_type"] == "iscsi"
    opts = image_opts(info["data"])
    assert virtual_size(opts) == GiB
    written = qemu_io(opts, "write -P 0xc3 100M 64k", "read -P 0x5a 8M 4k")
    assert written.returncode == 0 and "Pattern verification failed" not in written.stdout, written
    assert read_at(driver, volume_id, 100 * MIB, 64 * 1024) == b"\xc3" * 64 * 1024


def test_a_wrong_password_or_another_initiator_is_refused(driver: IscsiVolumeDriver) -> None:
    volume_id = new_id()
    driver.create_volume(volume_id, 1)
    data = driver.export(new_id(), volume_id, CONNECTOR)["data"]
    wrong_password = qemu_io(image_opts(data, password="0" * 20), "read 0 4k")
    assert wrong_password.returncode != 0
    assert "Authentication failure" in wrong_password.stdout + wrong_password.stderr
    stranger = qemu_io(image_opts(data, initiator="iqn.2010-10.org.overcast:host:stranger"), "read 0 4k")
    assert stranger.returncode != 0
    assert qemu_io(image_opts(data), "read 0 4k").returncode == 0


def test_a_read_only_export_refuses_writes_at_the_target(driver: IscsiVolumeDriver) -> None:
    volume_id = new_id()
    driver.create_volume(volume_id, 1)
    write_at(driver, volume_id, 0, b"kept")
    data = driver.export(new_id(), volume_id, CONNECTOR, read_only=True)["data"]
    refused = qemu_io(image_opts(data), "write -P 0x11 0 4k")
    assert refused.returncode != 0 and "write protected" in refused.stderr, refused
    read = subprocess.run(
        ["qemu-io", "-r", "--image-opts", image_opts(data), "-c", "read -P 0x6b 0 1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert read.returncode == 0 and "verification failed" not in read.stdout, read
    assert read_at(driver, volume_id, 0, 4) == b"kept"


def test_unexport_removes_the_target_and_its_account(driver: IscsiVolumeDriver) -> None:
    volume_id, attachment_id = new_id(), new_id()
    driver.create_volume(volume_id, 1)
    data = driver.export(attachment_id, volume_id, CONNECTOR)["data"]
    driver.unexport(attachment_id)
    assert data["target_iqn"] not in {iqn for _, iqn in driver.tgtd.targets()}
    assert data["auth_username"] not in driver.tgtd.accounts()
    assert qemu_io(image_opts(data), "read 0 4k").returncode != 0


def test_a_connected_initiator_can_grow_to_the_extended_size(driver: IscsiVolumeDriver) -> None:
    volume_id = new_id()
    driver.create_volume(volume_id, 1)
    opts = image_opts(driver.export(new_id(), volume_id, CONNECTOR)["data"])
    # One qemu-io session held across the extend, as a running VM's QEMU is.
    session = subprocess.Popen(
        ["qemu-io", "--image-opts", opts],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert session.stdin is not None
    try:
        session.stdin.write("length\n")
        session.stdin.flush()
        time.sleep(0.5)
        driver.extend_volume(volume_id, 2)
        # What QEMU's block_resize does: the iSCSI driver re-reads the LUN's capacity.
        session.stdin.write("truncate 2G\nlength\nwrite -P 0x77 1536M 4k\nquit\n")
        output, _ = session.communicate(timeout=60)
    finally:
        if session.poll() is None:
            session.kill()
    assert "1 GiB" in output and "2 GiB" in output and "Cannot grow" not in output, output
    assert read_at(driver, volume_id, 1536 * MIB, 4096) == b"\x77" * 4096
    assert virtual_size(opts) == 2 * GiB


def test_a_killed_tgtd_is_restarted_with_every_export(driver: IscsiVolumeDriver) -> None:
    volume_id = new_id()
    driver.create_volume(volume_id, 1)
    data = driver.export(new_id(), volume_id, CONNECTOR)["data"]
    pid = int(driver.tgtd.pid_file.read_text())
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: driver.supervisor.restarts >= 1, timeout=60, what="the supervisor to restart tgtd")
    wait_until(
        lambda: qemu_io(image_opts(data), "read 0 4k").returncode == 0, timeout=60, what="the export back"
    )
    assert int(driver.tgtd.pid_file.read_text()) != pid


def test_repair_brings_back_a_target_removed_behind_the_drivers_back(driver: IscsiVolumeDriver) -> None:
    volume_id = new_id()
    driver.create_volume(volume_id, 1)
    data = driver.export(new_id(), volume_id, CONNECTOR)["data"]
    (tid,) = [tid for tid, iqn in driver.tgtd.targets() if iqn == data["target_iqn"]]
    driver.tgtd.tgtadm("--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", str(tid), "--force")
    assert qemu_io(image_opts(data), "read 0 4k").returncode != 0
    driver.repair_exports()
    assert qemu_io(image_opts(data), "read 0 4k").returncode == 0


def test_a_restarted_service_serves_the_same_exports(driver: IscsiVolumeDriver) -> None:
    volume_id, attachment_id = new_id(), new_id()
    driver.create_volume(volume_id, 1)
    before = driver.export(attachment_id, volume_id, CONNECTOR)
    driver.cleanup_host()
    assert not driver.tgtd.alive()
    driver.init_host("host-a")
    assert driver.exports() == {attachment_id}
    assert qemu_io(image_opts(before["data"]), "read 0 4k").returncode == 0
    assert driver.export(attachment_id, volume_id, CONNECTOR) == before


def test_a_service_that_crashed_adopts_the_tgtd_it_left_and_its_exports(
    driver: IscsiVolumeDriver, tmp_path: Path
) -> None:
    volume_id, attachment_id = new_id(), new_id()
    driver.create_volume(volume_id, 1)
    before = driver.export(attachment_id, volume_id, CONNECTOR)
    pid = int(driver.tgtd.pid_file.read_text())
    # A crash: the process is gone without cleanup_host; its tgtd lives on, serving the VM.
    driver.supervisor.stop()
    successor = IscsiVolumeDriver(driver.pool_dir, portal_address="127.0.0.1", port=driver.port)
    successor.init_host("host-a")
    try:
        assert int(successor.tgtd.pid_file.read_text()) == pid
        assert successor.export(attachment_id, volume_id, CONNECTOR) == before
        assert qemu_io(image_opts(before["data"]), "read 0 4k").returncode == 0
    finally:
        successor.cleanup_host()
    assert (
        not Path(f"/proc/{pid}/cmdline").exists() or b"tgtd" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    )


def test_another_pool_on_the_same_port_neither_adopts_nor_stops_its_tgtd(
    driver: IscsiVolumeDriver, tmp_path: Path
) -> None:
    volume_id = new_id()
    driver.create_volume(volume_id, 1)
    data = driver.export(new_id(), volume_id, CONNECTOR)["data"]
    intruder = IscsiVolumeDriver(tmp_path / "other", portal_address="127.0.0.1", port=driver.port)
    intruder.init_host("host-b")
    try:
        with pytest.raises(VolumeDriverError, match="Another tgtd"):
            intruder.tgtd.start()
        other_volume = new_id()
        intruder.create_volume(other_volume, 1)
        with pytest.raises(VolumeDriverError, match="is not running"):
            intruder.export(new_id(), other_volume, CONNECTOR)
        assert {iqn for _, iqn in driver.tgtd.targets()} == {data["target_iqn"]}
    finally:
        intruder.cleanup_host()
    assert qemu_io(image_opts(data), "read 0 4k").returncode == 0


def _bench(args: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(["qemu-img", "bench", *args], capture_output=True, text=True, timeout=300, check=True)
    return time.monotonic() - started


def test_qemu_img_bench_over_iscsi_beside_the_raw_file(driver: IscsiVolumeDriver) -> None:
    volume_id = new_id()
    driver.create_volume(volume_id, 1)
    opts = image_opts(driver.export(new_id(), volume_id, CONNECTOR)["data"])
    raw = str(driver.volume_path(volume_id))
    # 512 MiB in 256 KiB sequential requests, 32 in flight; written first so reads meet data, not holes.
    common = ["-c", "2048", "-d", "32", "-s", "256k", "-S", "256k"]
    lines = []
    for mode, extra in (("write", ["-w", "--pattern=165"]), ("read", [])):
        over_iscsi = _bench([*common, *extra, "--image-opts", opts])
        cached = _bench([*common, *extra, "-f", "raw", raw])
        direct = _bench([*common, *extra, "-f", "raw", "-t", "none", "-n", raw])
        lines.append(
            f"qemu-img bench {mode} 512 MiB: iSCSI {512 / over_iscsi:.0f} MiB/s; raw file "
            f"{512 / cached:.0f} MiB/s through the page cache (ratio {cached / over_iscsi:.2f}), "
            f"{512 / direct:.0f} MiB/s O_DIRECT (ratio {direct / over_iscsi:.2f})"
        )
    print("\n".join(lines))
    assert read_at(driver, volume_id, 0, 4096) != bytes(4096)
