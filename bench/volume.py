"""Block storage: volume create latency, attach-to-visible time, and I/O through iSCSI, each beside a floor
measured in the same run.

    .venv/bin/python bench/volume.py [--creates 50] [--attaches 3] [--dd-mib 64]

Needs root with tgt, qemu-block-extra and qemu-system-x86_64. The whole cloud runs in this process (API
over real HTTP on 127.0.0.1, conductor, scheduler, one QEMU compute host, one volume host on the iSCSI
driver with its own tgtd on a free loopback port, SQLite). One VM (m1.tiny, TCG or KVM as probed).

- create: POST /volumes (empty 1 GiB) until its 202, p50, and until the volume reads `available`; the
  floor is one INSERT of a volume row in its own transaction (SQLAlchemy Core, same database). Target:
  p50 < 50 ms.
- attach: POST os-volume_attachments until the guest kernel shows a disk with the volume's serial (a loop
  in the guest started before the request; the clock stops when it reports).
- dd: sequential write (conv=fsync) then read (caches dropped first) of N MiB in the guest on the iSCSI
  volume, beside the same `dd` on the VM's own qcow2 root disk (a region past its partitions); ratio =
  volume throughput / local disk throughput.
- qemu-img bench: 512 MiB sequential in 256 KiB requests, 32 in flight, through QEMU's iSCSI initiator
  against the volume's export, beside the same bench on the volume's raw file through the page cache and
  with O_DIRECT, all over blocks already written once. Target: ratio >= 0.7 (loopback TCP plus tgt's
  copies cost most against the page cache; the O_DIRECT file is the fairer floor).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overcast.db.base import utcnow
from overcast.db.models.volume import Volume
from overcast.guest.publish import DEFAULT_IMAGE_ID
from overcast.volume.drivers.choice import can_serve_iscsi
from tests.support import qemu
from tests.support.cloud import TINY, InProcessCloud, project_token
from tests.support.guests import networks, ssh_port, wait_status
from tests.support.volume_guests import VolumeHost, device_of, guest, wait_volume
from tests.support.waiting import wait_until

HOST = "bench-volume-1"
MIB = 1024 * 1024
TARGET_CREATE_P50_MS = 50.0
TARGET_BENCH_RATIO = 0.7
CONNECTOR = {
    "host": "bench", "initiator": "iqn.2010-10.org.overcast:host:bench", "ip": "127.0.0.1",
    "multipath": False, "platform": "x86_64", "os_type": "linux",
}  # fmt: skip


@dataclass
class Row:
    name: str
    value: str
    floor: str = ""
    ratio: str = ""
    target: str = ""


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_create(cloud: InProcessCloud, creates: int) -> list[Row]:
    admin = cloud.connect("admin")
    demo = cloud.connect("demo")
    project = demo.current_project_id
    answer = admin.block_storage.put(
        f"/os-quota-sets/{project}", json={"quota_set": {"volumes": -1, "gigabytes": -1}}
    )
    assert answer.status_code == 200, answer.text
    url = f"{cloud.base_url}/volume/v3/{project}/volumes"
    headers = {"X-Auth-Token": project_token(cloud, "demo"), "OpenStack-API-Version": "volume 3.0"}
    answered: list[float] = []
    available: list[float] = []
    ids: list[str] = []
    with httpx.Client(timeout=30) as client:
        for number in range(creates):
            started = time.perf_counter()
            response = client.post(url, headers=headers, json={"volume": {"size": 1, "name": f"b-{number}"}})
            answered.append(time.perf_counter() - started)
            assert response.status_code == 202, response.text
            volume_id = response.json()["volume"]["id"]
            ids.append(volume_id)
            while (status := _status(cloud, volume_id)) != "available":
                assert status != "error", f"volume {volume_id} went to error"
                time.sleep(0.002)
            available.append(time.perf_counter() - started)
        type_id = _type_of(cloud, ids[0])
        inserts = [timed(lambda: _insert_volume(cloud, project, type_id)) for _ in range(creates)]
        for volume_id in ids:
            client.delete(f"{url}/{volume_id}", headers=headers)
    floor = statistics.median(inserts) * 1000
    p50, p90 = statistics.median(answered) * 1000, percentile(answered, 0.9) * 1000
    ready = statistics.median(available) * 1000
    verdict = "OK" if p50 < TARGET_CREATE_P50_MS else "MISSED"
    return [
        Row(f"create 1 GiB: POST -> 202, p50 (p90 {p90:.1f} ms)", f"{p50:.1f} ms", f"{floor:.2f} ms INSERT",
            f"{p50 / floor:.0f}x", f"< {TARGET_CREATE_P50_MS:.0f} ms {verdict}"),
        Row("create 1 GiB: POST -> available, p50", f"{ready:.1f} ms", f"{floor:.2f} ms INSERT",
            f"{ready / floor:.0f}x"),
    ]  # fmt: skip


def _status(cloud: InProcessCloud, volume_id: str) -> str:
    with cloud.cloud.db.engine.connect() as connection:
        return str(connection.execute(select(Volume.status).where(Volume.id == volume_id)).scalar_one())


def _type_of(cloud: InProcessCloud, volume_id: str) -> str:
    with cloud.cloud.db.engine.connect() as connection:
        query = select(Volume.volume_type_id).where(Volume.id == volume_id)
        return str(connection.execute(query).scalar_one())


def _insert_volume(cloud: InProcessCloud, project: str, type_id: str) -> None:
    row = {
        "id": str(uuid.uuid4()), "project_id": project, "user_id": "", "size": 1, "status": "available",
        "attach_status": "detached", "availability_zone": "nova", "volume_type_id": type_id,
        "image_metadata": {}, "created_at": utcnow(), "updated_at": utcnow(), "deleted": False,
    }  # fmt: skip
    with cloud.cloud.db.engine.begin() as connection:
        connection.execute(insert(Volume.__table__).values(**_known(row)))


def _known(row: dict[str, Any]) -> dict[str, Any]:
    columns = set(Volume.__table__.columns.keys())
    return {key: value for key, value in row.items() if key in columns}


def bench_attach(cloud: InProcessCloud, server: Any, attaches: int) -> tuple[list[Row], Any]:
    conn = cloud.connect("demo")
    volume = wait_volume(conn, conn.block_storage.create_volume(name="bench-data", size=1), "available")
    visible: list[float] = []
    in_use: list[float] = []
    for _ in range(attaches):
        # A loop in the guest notes the guest's clock when the disk shows up; the clock is read again as
        # the loop starts, just before the request (so the ssh round trip's return leg is counted too).
        found = f"grep -qx {volume.id[:20]} /sys/block/vd*/serial 2>/dev/null"
        loop = f"while ! {found}; do sleep 0.02; done; cat /proc/uptime > /tmp/seen"
        start_loop = f"rm -f /tmp/seen; setsid sh -c '{loop}' >/dev/null 2>&1 </dev/null & cat /proc/uptime"
        before = float(guest(cloud, server, start_loop).split()[0])
        started = time.perf_counter()
        conn.compute.create_volume_attachment(server, volume=volume.id)
        wait_volume(conn, volume, "in-use")
        in_use.append(time.perf_counter() - started)
        seen = wait_until(
            lambda: guest(cloud, server, "cat /tmp/seen 2>/dev/null; true"), 120, what="the disk"
        )
        visible.append(float(seen.split()[0]) - before)
        if len(visible) < attaches:
            conn.compute.delete_volume_attachment(server, volume)
            wait_volume(conn, volume, "available")
            wait_until(lambda: not device_of(cloud, server, volume.id), 60, what="the disk gone")
    rows = [
        Row("attach: POST -> disk in the guest, median", f"{statistics.median(visible):.2f} s"),
        Row("attach: POST -> volume in-use, median", f"{statistics.median(in_use):.2f} s"),
    ]
    return rows, volume


def _guest_seconds(cloud: InProcessCloud, server: Any, command: str) -> float:
    """Seconds `command` takes in the guest, by the guest's own clock."""
    uptime = "cut -d' ' -f1 /proc/uptime"
    before, after = guest(cloud, server, f"{uptime}; {command} >/dev/null 2>&1; {uptime}").split()
    return float(after) - float(before)


def bench_dd(cloud: InProcessCloud, server: Any, volume: Any, mib: int) -> list[Row]:
    disk = device_of(cloud, server, volume.id)
    root_sectors = int(guest(cloud, server, "cat /sys/block/vda/size"))
    # Past the image's partitions (about 100 MiB) on the VM's qcow2 root disk.
    offset_mib = 256
    assert root_sectors * 512 >= (offset_mib + mib) * MIB, "the root disk is too small for the dd region"
    drop = "sync; echo 3 > /proc/sys/vm/drop_caches"
    rows = []
    for label, device, seek in (
        (f"volume /dev/{disk} (iSCSI)", disk, 0),
        ("local qcow2 /dev/vda", "vda", offset_mib),
    ):
        write = f"dd if=/dev/zero of=/dev/{device} bs=1M count={mib} seek={seek} conv=fsync"
        read = f"{drop}; dd if=/dev/{device} of=/dev/null bs=1M count={mib} skip={seek}"
        rows.append(
            (label, mib / _guest_seconds(cloud, server, write), mib / _guest_seconds(cloud, server, read))
        )
    (_, volume_write, volume_read), (_, local_write, local_read) = rows
    return [
        Row(f"guest dd write {mib} MiB, volume", f"{volume_write:.0f} MiB/s", f"{local_write:.0f} MiB/s vda",
            f"{volume_write / local_write:.2f}"),
        Row(f"guest dd read {mib} MiB, volume", f"{volume_read:.0f} MiB/s", f"{local_read:.0f} MiB/s vda",
            f"{volume_read / local_read:.2f}"),
    ]  # fmt: skip


def _qemu_img_bench(args: list[str]) -> float:
    return timed(
        lambda: subprocess.run(["qemu-img", "bench", *args], capture_output=True, check=True, timeout=600)
    )


def bench_qemu_img(host: VolumeHost) -> list[Row]:
    volume_id, attachment_id = str(uuid.uuid4()), str(uuid.uuid4())
    host.driver.create_volume(volume_id, 1)
    data = host.driver.export(attachment_id, volume_id, CONNECTOR)["data"]
    options = {
        "driver": "iscsi", "transport": "tcp", "portal": data["target_portal"], "target": data["target_iqn"],
        "lun": str(data["target_lun"]), "user": data["auth_username"], "password": data["auth_password"],
        "initiator-name": CONNECTOR["initiator"],
    }  # fmt: skip
    over_iscsi = ",".join(f"{key}={value}" for key, value in options.items())
    raw = str(host.driver.volume_path(volume_id))
    common = ["-c", "2048", "-d", "32", "-s", "256k", "-S", "256k"]
    rows = []
    try:
        # Every measured pass overwrites: a sparse file's first write allocates its blocks and would cost
        # whichever side ran first.
        _qemu_img_bench([*common, "-w", "--pattern=90", "-f", "raw", raw])
        for mode, extra in (("write", ["-w", "--pattern=165"]), ("read", [])):
            iscsi = _qemu_img_bench([*common, *extra, "--image-opts", over_iscsi])
            cached = _qemu_img_bench([*common, *extra, "-f", "raw", raw])
            direct = _qemu_img_bench([*common, *extra, "-f", "raw", "-t", "none", "-n", raw])
            verdict = "OK" if direct / iscsi >= TARGET_BENCH_RATIO else "MISSED"
            rows += [
                Row(f"qemu-img bench {mode} 512 MiB, iSCSI", f"{512 / iscsi:.0f} MiB/s",
                    f"{512 / cached:.0f} MiB/s raw, page cache", f"{cached / iscsi:.2f}"),
                Row(f"qemu-img bench {mode} 512 MiB, iSCSI", f"{512 / iscsi:.0f} MiB/s",
                    f"{512 / direct:.0f} MiB/s raw, O_DIRECT", f"{direct / iscsi:.2f}",
                    f">= {TARGET_BENCH_RATIO} {verdict}"),
            ]  # fmt: skip
    finally:
        host.driver.unexport(attachment_id)
        host.driver.delete_volume(volume_id)
    return rows


def print_table(rows: list[Row]) -> None:
    header = Row("measure", "value", "floor", "ratio", "target")
    widths = [
        max(len(getattr(row, field)) for row in [header, *rows])
        for field in ("name", "value", "floor", "ratio")
    ]
    for row in [header, *rows]:
        cells = (row.name, row.value, row.floor, row.ratio)
        print("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)), row.target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=50)
    parser.add_argument("--attaches", type=int, default=3)
    parser.add_argument("--dd-mib", type=int, default=64)
    options = parser.parse_args()
    if not (qemu.qemu_available() and can_serve_iscsi()):
        print("needs root on Linux with tgt, qemu-block-extra and qemu-system-x86_64", file=sys.stderr)
        return 2
    data_dir = qemu.new_data_dir()
    rows: list[Row] = []
    try:
        driver = qemu.make_driver(data_dir, boot_timeout=0)
        with qemu.cloud_with_guest(data_dir, {HOST: driver}) as cloud:
            host = VolumeHost(cloud, data_dir / "volume-pool")
            try:
                rows += bench_create(cloud, options.creates)
                rows += bench_qemu_img(host)
                rows += _with_guest(cloud, options)
            finally:
                host.stop()
    finally:
        qemu.kill_leftover_vms(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
    print_table(rows)
    return 0


def _with_guest(cloud: InProcessCloud, options: argparse.Namespace) -> list[Row]:
    conn = cloud.connect("demo")
    _, public_key = qemu.ssh_key()
    conn.compute.create_keypair(name="bench-key", public_key=public_key)
    created = conn.compute.create_server(
        name="bench-vm", image_id=DEFAULT_IMAGE_ID, flavor_id=TINY, key_name="bench-key", **networks(conn)
    )
    server = wait_status(conn, created, "ACTIVE")
    ssh_port(cloud, server)
    guest(cloud, server, "true")
    rows, volume = bench_attach(cloud, server, options.attaches)
    rows += bench_dd(cloud, server, volume, options.dd_mib)
    conn.compute.delete_volume_attachment(server, volume)
    wait_volume(conn, volume, "available")
    conn.compute.delete_server(server)
    return rows


if __name__ == "__main__":
    sys.exit(main())
