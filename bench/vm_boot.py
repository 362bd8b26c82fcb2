"""Boot-to-ready of a real VM through the QEMU driver, beside a bare qemu-system-x86_64 of the same
image and options (median of N; target ratio <= 1.3).

    .venv/bin/python bench/vm_boot.py [--runs 5] [--accel auto|tcg|kvm]

"Ready" is the guest's `OVERCAST-GUEST-READY <uuid>` line and login prompt on the serial console: the
guest has mounted its config drive, run its user data and started dropbear. The driver's time covers
everything spawn does (qcow2 overlay, config drive, QEMU launch, QMP handshake) plus the boot. The bare
run starts QEMU by hand with the driver's own command line on a prepared overlay and config drive.
Through Overcast's API it is not measured yet: the compute manager does not hand the driver a local
image file (ImageRef.path) so a QEMU compute host cannot boot from the API today.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overcast.context import RequestContext
from overcast.guest import READY_PATTERN, build_guest_image
from overcast.guest.builder import ensure_prerequisites
from overcast.virt.driver import ImageRef, InstanceSpec
from overcast.virt.qemu import configdrive, console, disks, launch
from overcast.virt.qemu.accel import Accelerator, detect_accelerator
from overcast.virt.qemu.driver import QemuDriver

CTXT = RequestContext.admin()
MEMORY_MB = 256
TARGET_RATIO = 1.3


def _spec(image: Path) -> InstanceSpec:
    vm = str(uuid.uuid4())
    return InstanceSpec(
        uuid=vm, name=f"bench-{vm[:8]}", hostname="bench", vcpus=1, memory_mb=MEMORY_MB, root_gb=1,
        image=ImageRef(id="overcast-guest", path=str(image)), user_data=b"#!/bin/sh\necho bench\n",
        network_info=[{"id": "vif-1", "address": "fa:16:3e:00:00:99"}],
    )  # fmt: skip


def boot_through_driver(driver: QemuDriver, image: Path) -> float:
    spec = _spec(image)
    started = time.monotonic()
    driver.spawn(CTXT, spec)  # the driver waits for the READY line (boot_timeout)
    elapsed = time.monotonic() - started
    driver.destroy(CTXT, spec.uuid)
    return elapsed


def boot_bare(workdir: Path, image: Path, accel: Accelerator) -> float:
    spec = _spec(image)
    folder = workdir / spec.uuid
    folder.mkdir()
    disks.create_overlay(image, folder / "disk.qcow2", spec.root_gb * disks.GiB)
    configdrive.build_config_drive(configdrive.config_drive_files(spec), folder / "disk.config")
    config = launch.LaunchConfig(
        uuid=spec.uuid, name=spec.name, vcpus=spec.vcpus, memory_mb=spec.memory_mb, accelerator=accel.name,
        cpu=accel.cpu, disks=[launch.DiskSpec("disk.qcow2", boot=True),
                              launch.DiskSpec("disk.config", format="raw", readonly=True)],
        ssh_port=launch.free_port(set()), mac_address="fa:16:3e:00:00:99",
    )  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(launch.build_qemu_command(config), cwd=folder, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        found = console.wait_for(folder / launch.CONSOLE_FILE, READY_PATTERN, offset=0, timeout=180,
                                 still_running=lambda: process.poll() is None)  # fmt: skip
        elapsed = time.monotonic() - started
        if found is None:
            raise RuntimeError("the bare guest did not get ready")
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--accel", choices=("auto", "tcg", "kvm"), default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="overcast-vm-boot-") as tmp:
        workdir = Path(tmp)
        ensure_prerequisites()
        build_started = time.monotonic()
        image = build_guest_image(workdir / "guest.qcow2")
        build_seconds = time.monotonic() - build_started
        accel = detect_accelerator(workdir) if args.accel == "auto" else _forced(args.accel)
        driver = QemuDriver(workdir / "data", accelerator=accel.name, boot_timeout=180)
        driver.init_host("bench-host")
        bare_dir = workdir / "bare"
        bare_dir.mkdir()
        driver_times, bare_times = [], []
        try:
            for run in range(args.runs):  # interleaved, alternating who goes first: same machine load
                if run % 2:
                    driver_times.append(boot_through_driver(driver, image))
                bare_times.append(boot_bare(bare_dir, image, accel))
                if not run % 2:
                    driver_times.append(boot_through_driver(driver, image))
        finally:
            for leftover in driver.list_instance_uuids():
                driver.destroy(CTXT, leftover)
            driver.shutdown()
    driver_median, bare_median = statistics.median(driver_times), statistics.median(bare_times)
    ratio = driver_median / bare_median
    print(f"guest image build: {build_seconds:.2f}s; accelerator: {accel.name} ({accel.reason})")
    print(f"{'path':<34}{'median s':>10}{'min s':>8}{'max s':>8}")
    for label, times in (
        ("bare qemu-system-x86_64", bare_times),
        ("QemuDriver.spawn to ready", driver_times),
    ):
        print(f"{label:<34}{statistics.median(times):>10.2f}{min(times):>8.2f}{max(times):>8.2f}")
    print("Overcast API (POST /servers)      not measured: the manager passes no local image file yet")
    verdict = "ok" if ratio <= TARGET_RATIO else "ABOVE TARGET"
    print(f"ratio driver/bare: {ratio:.2f} (target <= {TARGET_RATIO}) {verdict}")


def _forced(name: str) -> Accelerator:
    return Accelerator(name, "host" if name == "kvm" else "max", "forced on the command line")


if __name__ == "__main__":
    main()
