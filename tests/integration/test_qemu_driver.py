"""The QEMU driver with real VMs under TCG: the guest image boots, takes its config drive, runs
user data, answers SSH, and survives every power action, a driver restart and a kill by hand."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from overcast.context import RequestContext
from overcast.virt.driver import ImageRef, InstanceSpec, LifecycleEvent, PowerState
from overcast.virt.qemu.driver import QemuDriver
from overcast.virt.qemu.instance import SUSPEND_STATE
from overcast.virt.qemu.launch import pid_alive
from tests.support import qemu

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
]
CTXT = RequestContext.admin()
USER_DATA = b"#!/bin/sh\necho user-data-ran > /root/user-data.out\necho overcast-user-data-ran\n"


@pytest.fixture
def data_dir() -> Iterator[Path]:
    folder = qemu.new_data_dir()
    yield folder
    qemu.kill_leftover_vms(folder)  # whatever a failing test left running


@pytest.fixture
def driver(data_dir: Path) -> Iterator[QemuDriver]:
    drv = qemu.make_driver(data_dir)
    drv.init_host("qemu-test-host")
    yield drv
    for uuid in drv.list_instance_uuids():
        drv.destroy(CTXT, uuid)
    drv.shutdown()


@pytest.fixture
def events(driver: QemuDriver) -> list[LifecycleEvent]:
    received: list[LifecycleEvent] = []
    driver.register_event_listener(received.append)
    return received


def make_spec(**overrides: object) -> InstanceSpec:
    uuid = str(uuidlib.uuid4())
    _, public_key = qemu.ssh_key()
    spec = InstanceSpec(
        uuid=uuid, name=f"it-{uuid[:8]}", hostname="guest-it", vcpus=1, memory_mb=192, root_gb=1,
        image=qemu.guest_image_ref(), user_data=USER_DATA, key_data=public_key,
        network_info=[{"id": "vif-1", "address": "fa:16:3e:12:34:56"}],
    )  # fmt: skip
    return replace(spec, **overrides)  # type: ignore[arg-type]


def ssh(driver: QemuDriver, uuid: str, command: str) -> str:
    port = driver.get_instance_network(uuid)["ssh_port"]
    result = qemu.ssh(port, command)
    assert result.returncode == 0, f"ssh {command!r} failed: {result.stderr}"
    return result.stdout


def boots(driver: QemuDriver, uuid: str) -> int:
    return driver.get_console_log(uuid).count("OVERCAST-GUEST-READY")


def test_guest_boots_with_config_drive_user_data_and_ssh(driver: QemuDriver) -> None:
    spec = make_spec()
    started = time.monotonic()
    driver.spawn(CTXT, spec)
    boot_seconds = time.monotonic() - started
    console = driver.get_console_log(spec.uuid)
    assert f"OVERCAST-GUEST-READY {spec.uuid}" in console
    assert "overcast-guest: config drive" in console and "user-data exited with 0" in console
    network = driver.get_instance_network(spec.uuid)
    assert network["ssh_host"] == "127.0.0.1" and network["guest_ip"] == "10.0.2.15"
    out = ssh(driver, spec.uuid, "hostname; cat /root/user-data.out; ip addr show eth0; cat /proc/cmdline")
    assert out.splitlines()[:2] == ["guest-it", "user-data-ran"]
    assert "10.0.2.15" in out and "fa:16:3e:12:34:56" in out
    print(f"spawn to ready under TCG: {boot_seconds:.1f}s")


def test_power_actions_on_a_live_guest(driver: QemuDriver, events: list[LifecycleEvent]) -> None:
    spec = make_spec()
    driver.spawn(CTXT, spec)
    uuid = spec.uuid
    ssh(driver, uuid, "echo before > /root/marker; sync")

    driver.reboot(CTXT, uuid, "SOFT")  # the guest's init handles ctrl-alt-del
    assert boots(driver, uuid) == 2 and "Requesting system reboot" in driver.get_console_log(uuid)
    driver.reboot(CTXT, uuid, "HARD")
    assert boots(driver, uuid) == 3
    assert ssh(driver, uuid, "cat /root/marker").strip() == "before"  # the disk persisted

    driver.pause(CTXT, uuid)
    assert driver.get_info(uuid).state == PowerState.PAUSED
    driver.unpause(CTXT, uuid)

    ssh(driver, uuid, "echo in-memory > /run/volatile")  # tmpfs: survives only a real resume
    driver.suspend(CTXT, uuid)
    folder = driver.instances_dir / uuid
    assert driver.get_info(uuid).state == PowerState.SUSPENDED and (folder / SUSPEND_STATE).exists()
    assert driver.get_diagnostics(uuid)["pid"] is None
    driver.resume(CTXT, uuid)
    assert driver.get_info(uuid).state == PowerState.RUNNING and not (folder / SUSPEND_STATE).exists()
    assert ssh(driver, uuid, "cat /run/volatile").strip() == "in-memory"
    assert boots(driver, uuid) == 3

    driver.power_off(CTXT, uuid, timeout=30)  # ACPI power button -> the guest powers itself off
    assert driver.get_info(uuid).state == PowerState.SHUTDOWN
    assert "reboot: Power down" in driver.get_console_log(uuid)
    driver.power_on(CTXT, uuid)
    assert boots(driver, uuid) == 4
    assert [e.transition for e in events if e.uuid == uuid] == [
        "started", "paused", "resumed", "suspended", "resumed", "stopped", "started",
    ]  # fmt: skip


def test_snapshot_is_a_standalone_bootable_disk(driver: QemuDriver) -> None:
    spec = make_spec()
    driver.spawn(CTXT, spec)
    ssh(driver, spec.uuid, "echo from-the-snapshot > /root/marker; sync")
    snapshot = qemu.workdir() / f"snapshot-{spec.uuid}.qcow2"

    def upload(data: object) -> None:
        assert isinstance(data, Path)
        subprocess.run(["cp", str(data), str(snapshot)], check=True)

    driver.snapshot(CTXT, spec.uuid, "snap-1", upload)
    assert driver.get_info(spec.uuid).state == PowerState.RUNNING
    info = subprocess.run(["qemu-img", "info", str(snapshot)], capture_output=True, text=True, check=True)
    assert "backing file" not in info.stdout and "file format: qcow2" in info.stdout
    clone = make_spec(image=ImageRef(id="snap-1", path=str(snapshot)))
    driver.spawn(CTXT, clone)
    assert ssh(driver, clone.uuid, "cat /root/marker").strip() == "from-the-snapshot"
    snapshot.unlink()


def test_rescue_boots_the_rescue_image_with_the_disk_attached(driver: QemuDriver) -> None:
    spec = make_spec()
    driver.spawn(CTXT, spec)
    driver.rescue(CTXT, spec.uuid, ImageRef(id="overcast-guest"), None)
    partitions = ssh(driver, spec.uuid, "cat /proc/partitions")
    assert "vdb2" in partitions  # the instance's own disk, there to be repaired
    driver.unrescue(CTXT, spec.uuid)
    assert "vdb2" not in ssh(driver, spec.uuid, "cat /proc/partitions")


def test_destroy_leaves_no_process_and_no_file(driver: QemuDriver) -> None:
    spec = make_spec()
    driver.spawn(CTXT, spec)
    pid = driver.get_diagnostics(spec.uuid)["pid"]
    assert pid_alive(pid, spec.uuid)
    driver.destroy(CTXT, spec.uuid)
    assert not pid_alive(pid, spec.uuid)
    assert not (driver.instances_dir / spec.uuid).exists()
    assert list((driver.instances_dir / "_base").iterdir()) == []  # no overlay uses the base any more


def test_a_restarted_driver_reattaches_to_running_vms(data_dir: Path) -> None:
    first = qemu.make_driver(data_dir)
    first.init_host("qemu-test-host")
    spec = make_spec()
    first.spawn(CTXT, spec)
    pid = first.get_diagnostics(spec.uuid)["pid"]
    first.shutdown()  # the compute worker goes away; its VMs keep running

    second = qemu.make_driver(data_dir)
    second.init_host("qemu-test-host")
    try:
        assert second.list_instance_uuids() == [spec.uuid]
        assert second.get_info(spec.uuid).state == PowerState.RUNNING
        assert second.get_diagnostics(spec.uuid)["pid"] == pid
        second.pause(CTXT, spec.uuid)  # QMP works through the new connection
        assert second.get_info(spec.uuid).state == PowerState.PAUSED
        second.unpause(CTXT, spec.uuid)
    finally:
        second.destroy(CTXT, spec.uuid)
        second.shutdown()


def test_a_vm_killed_by_hand_or_powered_off_inside_is_noticed(
    driver: QemuDriver, events: list[LifecycleEvent]
) -> None:
    spec = make_spec()
    driver.spawn(CTXT, spec)
    stopped = threading.Event()
    driver.register_event_listener(lambda e: stopped.set() if e.transition == "stopped" else None)

    os.kill(driver.get_diagnostics(spec.uuid)["pid"], signal.SIGKILL)
    assert stopped.wait(30), "the driver did not notice the dead QEMU by itself"
    assert driver.get_info(spec.uuid).state == PowerState.SHUTDOWN

    driver.power_on(CTXT, spec.uuid)
    stopped.clear()
    qemu.ssh(driver.get_instance_network(spec.uuid)["ssh_port"], "poweroff")
    assert stopped.wait(60), "a guest powering itself off was not noticed"
    assert driver.get_info(spec.uuid).state == PowerState.SHUTDOWN
    assert [e.transition for e in events if e.uuid == spec.uuid] == [
        "started",
        "stopped",
        "started",
        "stopped",
    ]
