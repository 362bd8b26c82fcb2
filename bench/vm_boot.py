"""Boot-to-ready of a real VM through Overcast's API, beside a bare qemu-system-x86_64 launch of the same
image with the same options (the floor); median of N runs, target ratio <= 1.3. Twice: the whole-disk
image overcast-tiny (firmware, boot loader, kernel) and overcast-tiny-direct, the same guest booted by
direct kernel boot (QEMU's -kernel/-initrd/-append; target <= 1.5 s through the API under TCG).

    .venv/bin/python bench/vm_boot.py [--runs 5]

"Ready" is the guest's `OVERCAST-GUEST-READY <uuid>` line and login prompt on the serial console: the
guest has mounted its config drive, run its user data and started dropbear.

The bound row boots the same kernel with the driver's command line but an initramfs whose /init only
prints a line: what the kernel and QEMU cost before any of the guest's own work, the floor under any
direct kernel boot of this kernel here.

- Overcast API: a real `overcast all-in-one --compute-driver qemu` in its own process; the clock runs from
  openstacksdk's POST /servers to the READY line in the instance's console log. It covers the API,
  conductor, scheduler, the compute manager (image cache, network info) and everything spawn does
  (qcow2 overlay, config drive, QEMU launch, QMP handshake) plus the boot.
- QemuDriver.spawn: the driver alone, for reference.
- bare: QEMU started by hand with the driver's own command line on a prepared overlay and config drive.
All of them use m1.tiny's size (1 vCPU, 512 MiB), the same user data and the accelerator the cloud probed.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openstack
from openstack import utils
from openstack.connection import Connection

from overcast.context import RequestContext
from overcast.guest import READY_PATTERN, build_guest_image, guest_image_path
from overcast.guest.builder import GuestParts, ensure_prerequisites, guest_parts
from overcast.guest.layout import CpioWriter
from overcast.guest.publish import DEFAULT_IMAGE_ID, DIRECT_IMAGE_ID, KERNEL_IMAGE_ID, RAMDISK_IMAGE_ID
from overcast.guest.scripts import KERNEL_ARGS
from overcast.network.defaults import Outside
from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import namespaces
from overcast.virt.driver import ImageRef, InstanceSpec
from overcast.virt.qemu import configdrive, console, disks, launch
from overcast.virt.qemu.accel import Accelerator, detect_accelerator
from overcast.virt.qemu.driver import QemuDriver

CTXT = RequestContext.admin()
FLAVOR = "1"  # m1.tiny
VCPUS, MEMORY_MB, ROOT_GB = 1, 512, 1
USER_DATA = b"#!/bin/sh\necho bench\n"
TARGET_RATIO = 1.3
TARGET_DIRECT_API_SECONDS = 1.5
BOOT_TIMEOUT = 180.0
# QEMU CPU seconds of each bare boot to READY: [whole disk, direct kernel boot].
floor_cpu: dict[bool, list[float]] = {False: [], True: []}
KERNEL_ONLY_MARKER = "OVERCAST-BENCH-INIT"
kernel_only_cpu: list[float] = []


def _spec(image: Path, parts: GuestParts | None = None) -> InstanceSpec:
    """A VM of the whole-disk `image`, or (with `parts`) of the direct-kernel-boot image as published."""
    vm = str(uuid.uuid4())
    ref = ImageRef(id="overcast-guest", path=str(image))
    if parts is not None:
        properties = {"kernel_id": KERNEL_IMAGE_ID, "ramdisk_id": RAMDISK_IMAGE_ID,
                      "os_command_line": KERNEL_ARGS}  # fmt: skip
        ref = ImageRef(id="overcast-guest-direct", path=str(parts.root), properties=properties,
                       kernel_path=str(parts.kernel), ramdisk_path=str(parts.ramdisk))  # fmt: skip
    return InstanceSpec(
        uuid=vm, name=f"bench-{vm[:8]}", hostname="bench", vcpus=VCPUS, memory_mb=MEMORY_MB, root_gb=ROOT_GB,
        image=ref, user_data=USER_DATA, network_info=[{"id": "vif-1", "address": "fa:16:3e:00:00:99"}],
    )  # fmt: skip


def _wait_ready(console_file: Path, still_running: Callable[[], bool],
                pattern: re.Pattern[str] = READY_PATTERN) -> None:  # fmt: skip
    found = console.wait_for(console_file, pattern, offset=0, timeout=BOOT_TIMEOUT,
                             still_running=still_running)  # fmt: skip
    if found is None:
        raise RuntimeError(f"the guest did not get ready (console {console_file})")


# --- through the API ------------------------------------------------------------------------------
class AllInOne:
    """`overcast all-in-one` with the QEMU driver in its own process, and openstacksdk logged in."""

    def __init__(self, data_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.data_dir = data_dir
        env = {**os.environ, "OVERCAST_CONFIG": str(data_dir / "none.toml"), "OVERCAST_LOG_LEVEL": "WARNING"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "overcast.cli.main", "all-in-one", "--compute-driver", "qemu",
             "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        assert self.process.stdout is not None
        lines: list[str] = []
        while not (lines and lines[-1].startswith("Health:")):
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("all-in-one exited early:\n" + "".join(lines))
            lines.append(line)
        # Keep reading its output so a chatty log can never fill the pipe and stall the cloud.
        threading.Thread(target=lambda: [None for _ in self.process.stdout or ()], daemon=True).start()
        os.environ["OS_CLIENT_CONFIG_FILE"] = str(data_dir / "clouds.yaml")
        self.conn: Connection = openstack.connect(cloud="overcast-demo")

    def boot(self, image_id: str = DEFAULT_IMAGE_ID) -> float:
        started = time.monotonic()
        server = self.conn.compute.create_server(
            name=f"bench-{uuid.uuid4().hex[:8]}", image_id=image_id, flavor_id=FLAVOR,
            user_data=base64.b64encode(USER_DATA).decode(),
            **({"networks": "auto"} if utils.supports_microversion(self.conn.compute, "2.37") else {}),
        )  # fmt: skip
        console_file = self.data_dir / "instances" / server.id / launch.CONSOLE_FILE
        try:
            _wait_ready(console_file, lambda: self.process.poll() is None)
            return time.monotonic() - started
        finally:
            self.conn.compute.delete_server(server)
            self.conn.compute.wait_for_delete(server, wait=120)

    def stop(self) -> None:
        """Stop the cloud and take its data plane off this machine: a stopped all-in-one leaves its VMs'
        networks up on purpose (a restarted cloud's VMs keep them), which a throw-away cloud must not."""
        made = self._remove_networks()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if made:
            Outside().remove()

    def _remove_networks(self) -> bool:
        """Delete the all-in-one's networks and router through the API and wait until the agent has taken
        their namespaces away; False when it made none (the cloud kept user-mode NAT)."""
        admin = openstack.connect(cloud="overcast-admin")
        routers = list(admin.network.routers())
        networks = list(admin.network.networks())
        if not networks:
            return False
        made = {names.router_namespace(router.id, None) for router in routers}
        made |= {names.dhcp_namespace(network.id, None) for network in networks}
        for floating_ip in admin.network.ips():
            admin.network.delete_ip(floating_ip)
        for router in routers:
            for port in admin.network.ports(device_id=router.id, device_owner="network:router_interface"):
                admin.network.remove_interface_from_router(router, port=port.id)
            admin.network.delete_router(router)
        for network in networks:
            admin.network.delete_network(network)
        deadline = time.monotonic() + 60
        while made & set(namespaces()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return True


# --- the driver alone and bare QEMU ---------------------------------------------------------------
def boot_through_driver(driver: QemuDriver, image: Path, parts: GuestParts | None = None) -> float:
    spec = _spec(image, parts)
    started = time.monotonic()
    driver.spawn(CTXT, spec)  # the driver waits for the READY line (boot_timeout)
    elapsed = time.monotonic() - started
    driver.destroy(CTXT, spec.uuid)
    return elapsed


def kernel_only_initramfs(dest: Path) -> Path:
    """An initramfs whose /init prints KERNEL_ONLY_MARKER and waits: the kernel's boot and nothing else."""
    archive = CpioWriter()
    for directory in ("bin", "dev"):
        archive.directory(directory)
    archive.char_device("dev/console", 5, 1)
    archive.file("bin/busybox", Path("/bin/busybox").read_bytes(), 0o755)
    init = f"#!/bin/busybox sh\n/bin/busybox echo {KERNEL_ONLY_MARKER}\nexec /bin/busybox sleep 3600\n"
    archive.file("init", init.encode(), 0o755)
    dest.write_bytes(archive.getvalue())
    return dest


def boot_bare(workdir: Path, image: Path, accel: Accelerator, parts: GuestParts | None = None,
              kernel_only: Path | None = None) -> float:  # fmt: skip
    """QEMU by hand on a fresh overlay and config drive; with `parts`, `qemu -kernel` of the same files;
    with `kernel_only` too, that initramfs instead of the guest's (the bound: the kernel's boot alone)."""
    spec = _spec(image, parts)
    folder = workdir / spec.uuid
    folder.mkdir()
    disks.create_overlay(parts.root if parts else image, folder / "disk.qcow2", spec.root_gb * disks.GiB)
    configdrive.build_config_drive(configdrive.config_drive_files(spec), folder / "disk.config")
    config = launch.LaunchConfig(
        uuid=spec.uuid, name=spec.name, vcpus=spec.vcpus, memory_mb=spec.memory_mb, accelerator=accel.name,
        cpu=accel.cpu, disks=[launch.DiskSpec("disk.qcow2", boot=True),
                              launch.DiskSpec("disk.config", format="raw", readonly=True)],
        ssh_port=launch.free_port(set()), mac_address="fa:16:3e:00:00:99",
        kernel=str(parts.kernel) if parts else None,
        initrd=str(kernel_only or parts.ramdisk) if parts else None,
        append=KERNEL_ARGS if parts else None,
    )  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(launch.build_qemu_command(config), cwd=folder, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        pattern = re.compile(KERNEL_ONLY_MARKER) if kernel_only else READY_PATTERN
        _wait_ready(folder / launch.CONSOLE_FILE, lambda: process.poll() is None, pattern)
        elapsed = time.monotonic() - started
        # QEMU's own CPU time to the READY line: the work the boot is, whatever else loads the machine.
        cpu = launch.process_cpu_time_ns(process.pid) / 1e9
        (kernel_only_cpu if kernel_only else floor_cpu[parts is not None]).append(cpu)
        return elapsed
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)


PATHS = ("bare", "driver", "api", "bare-direct", "driver-direct", "api-direct", "kernel-only")
LABELS = {
    "bare": "bare qemu-system-x86_64 (floor)", "driver": "QemuDriver.spawn",
    "api": "Overcast API: POST /servers",
    "bare-direct": "direct: bare qemu -kernel (floor)", "driver-direct": "direct: QemuDriver.spawn",
    "api-direct": "direct: Overcast API: POST /servers", "kernel-only": "direct: kernel to /init (bound)",
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in PATHS}
    with tempfile.TemporaryDirectory(prefix="overcast-vm-boot-") as tmp:
        workdir = Path(tmp)
        cloud_dir = workdir / "cloud"
        ensure_prerequisites()
        build_started = time.monotonic()
        image = build_guest_image(guest_image_path(cloud_dir))  # the all-in-one uploads this one
        parts = guest_parts(image)  # and these, as overcast-tiny-kernel, -ramdisk and -direct
        build_seconds = time.monotonic() - build_started
        accel = detect_accelerator(cloud_dir)  # cached in cloud_dir: the all-in-one uses the same
        cloud = AllInOne(cloud_dir)
        driver = QemuDriver(workdir / "driver", accelerator=accel.name, boot_timeout=BOOT_TIMEOUT)
        driver.init_host("bench-host")
        bare_dir = workdir / "bare"
        bare_dir.mkdir()
        kernel_only = kernel_only_initramfs(workdir / "kernel-only.cpio")
        paths: dict[str, Callable[[], float]] = {
            "bare": lambda: boot_bare(bare_dir, image, accel),
            "driver": lambda: boot_through_driver(driver, image),
            "api": cloud.boot,
            "bare-direct": lambda: boot_bare(bare_dir, image, accel, parts),
            "driver-direct": lambda: boot_through_driver(driver, image, parts),
            "api-direct": lambda: cloud.boot(DIRECT_IMAGE_ID),
            "kernel-only": lambda: boot_bare(bare_dir, image, accel, parts, kernel_only),
        }
        try:
            cloud.boot()  # warm-up: the compute host fetches the images into its cache once
            cloud.boot(DIRECT_IMAGE_ID)
            for run in range(args.runs):  # interleaved, rotating who goes first: the same machine load
                shift = run % len(PATHS)
                for name in PATHS[shift:] + PATHS[:shift]:
                    times[name].append(paths[name]())
        finally:
            for leftover in driver.list_instance_uuids():
                driver.destroy(CTXT, leftover)
            driver.shutdown()
            cloud.stop()
    print(f"guest image build: {build_seconds:.2f}s; accelerator: {accel.name} ({accel.reason}); "
          f"{args.runs} runs, {VCPUS} vCPU, {MEMORY_MB} MiB")  # fmt: skip
    print(f"{'path (boot to READY on the console)':<40}{'median s':>10}{'min s':>8}{'max s':>8}")
    for name in PATHS:
        runs = times[name]
        print(f"{LABELS[name]:<40}{statistics.median(runs):>10.2f}{min(runs):>8.2f}{max(runs):>8.2f}")
    for kernel_boot, title in ((False, "whole disk"), (True, "direct kernel boot")):
        print(f"{title}: QEMU CPU to READY (bare): {statistics.median(floor_cpu[kernel_boot]):.2f}s")
    bound = statistics.median(kernel_only_cpu)
    print(f"direct kernel boot: QEMU CPU to a trivial /init (bound): {bound:.2f}s")
    for suffix, title in (("", "whole disk"), ("-direct", "direct kernel boot")):
        bare = statistics.median(times[f"bare{suffix}"])
        print(f"{title}: ratio driver/bare: {statistics.median(times[f'driver{suffix}']) / bare:.2f}")
        ratio = statistics.median(times[f"api{suffix}"]) / bare
        verdict = "ok" if ratio <= TARGET_RATIO else "ABOVE TARGET"
        print(f"{title}: ratio API/bare: {ratio:.2f} (target <= {TARGET_RATIO}) {verdict}")
    direct = statistics.median(times["api-direct"])
    verdict = "ok" if direct <= TARGET_DIRECT_API_SECONDS else "ABOVE TARGET"
    print(f"direct kernel boot through the API: {direct:.2f}s (target <= {TARGET_DIRECT_API_SECONDS}s) "
          f"{verdict}; whole disk {statistics.median(times['api']):.2f}s")  # fmt: skip


if __name__ == "__main__":
    main()
