"""The contract every virt driver passes. Parametrised over drivers: add a harness to HARNESSES.

A harness knows how to build its driver, what image to boot, and how to make a VM die behind the
driver's back (the fake has `crash`; the QEMU harness will kill the qemu process).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from overcast.context import RequestContext
from overcast.virt.driver import (
    ActionNotSupported,
    ComputeDriver,
    DriverError,
    ImageRef,
    InstanceActionInvalid,
    InstanceExists,
    InstanceNotFound,
    InstanceSpec,
    LifecycleEvent,
    PowerState,
    load_driver,
)
from overcast.virt.fake import FakeDriver
from overcast.virt.qemu.launch import pid_alive
from tests.support import qemu


@dataclass
class Harness:
    name: str
    make_driver: Callable[[], ComputeDriver]
    image: Callable[[], ImageRef]
    kill_vm: Callable[[ComputeDriver, str], None]
    # Scale of the concurrency test: real VMs boot in seconds on a 2-core CI machine, fake ones at once.
    concurrent_vms: int = 16
    cycles: int = 5


def _kill_fake_vm(driver: ComputeDriver, uuid: str) -> None:
    assert isinstance(driver, FakeDriver)
    driver.crash(uuid)


def _make_qemu_driver() -> ComputeDriver:
    if not qemu.qemu_available():
        pytest.skip("qemu-system-x86_64 is not installed")
    return qemu.make_driver()


def _kill_qemu_vm(driver: ComputeDriver, uuid: str) -> None:
    pid = driver.get_diagnostics(uuid)["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while pid_alive(pid, uuid) and time.monotonic() < deadline:
        time.sleep(0.02)


HARNESSES = [
    Harness("fake", lambda: load_driver("fake"), lambda: ImageRef(id="cirros"), _kill_fake_vm),
    Harness("qemu", _make_qemu_driver, qemu.guest_image_ref, _kill_qemu_vm, concurrent_vms=2, cycles=1),
]

CTXT = RequestContext.admin()
SpecFactory = Callable[..., InstanceSpec]


@pytest.fixture(params=HARNESSES, ids=lambda harness: harness.name)
def harness(request: pytest.FixtureRequest) -> Harness:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def driver(harness: Harness) -> Iterator[ComputeDriver]:
    drv = harness.make_driver()
    drv.init_host("contract-host")
    yield drv
    for uuid in drv.list_instance_uuids():
        drv.destroy(CTXT, uuid)


@pytest.fixture
def events(driver: ComputeDriver) -> list[LifecycleEvent]:
    received: list[LifecycleEvent] = []
    driver.register_event_listener(received.append)
    return received


@pytest.fixture
def make_spec(harness: Harness) -> SpecFactory:
    def make(**overrides: Any) -> InstanceSpec:
        uuid = str(uuidlib.uuid4())
        spec = InstanceSpec(
            uuid=uuid, name=f"instance-{uuid[:8]}", hostname="vm1", vcpus=1, memory_mb=128, root_gb=1,
            image=harness.image(), user_data=b"#cloud-config\n", metadata={"role": "test"},
            network_info=[{"id": "vif-1", "address": "fa:16:3e:00:00:01"}],
        )  # fmt: skip
        return replace(spec, **overrides)

    return make


def _spawned(driver: ComputeDriver, spec: InstanceSpec) -> str:
    driver.spawn(CTXT, spec, admin_password="secret")
    return spec.uuid


def _state(driver: ComputeDriver, uuid: str) -> PowerState:
    return driver.get_info(uuid).state


def _skip_unless(driver: ComputeDriver, capability: str) -> None:
    if not driver.capabilities.get(capability):
        pytest.skip(f"driver lacks {capability}")


def test_host_resources_describe_the_host(driver: ComputeDriver) -> None:
    resources = driver.get_available_resource()
    assert resources.hypervisor_type
    assert resources.hypervisor_version > 0
    assert resources.hypervisor_hostname
    assert resources.vcpus > 0 and resources.memory_mb > 0 and resources.local_gb > 0
    assert resources.cpu_arch in ("x86_64", "aarch64", "ppc64le", "s390x")
    assert set(resources.to_dict()) >= {"devices", "cpu_features", "cpu_model"}


def test_spawn_runs_and_lists_the_vm(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    spec = make_spec(vcpus=2, memory_mb=256)
    uuid = _spawned(driver, spec)
    assert uuid in driver.list_instance_uuids()
    assert driver.instance_exists(uuid)
    info = driver.get_info(uuid)
    assert info.state == PowerState.RUNNING
    assert (info.num_cpu, info.max_mem_kb) == (2, 256 * 1024)


def test_spawn_of_an_existing_uuid_is_refused(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    spec = make_spec()
    _spawned(driver, spec)
    with pytest.raises(InstanceExists):
        driver.spawn(CTXT, spec)


def test_destroy_removes_and_is_idempotent(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    uuid = _spawned(driver, make_spec())
    driver.destroy(CTXT, uuid)
    assert uuid not in driver.list_instance_uuids()
    driver.destroy(CTXT, uuid)
    with pytest.raises(InstanceNotFound):
        driver.get_info(uuid)


@pytest.mark.parametrize(
    "method",
    ["get_info", "get_diagnostics", "power_on", "power_off", "reboot", "pause", "get_console_output"],
)
def test_actions_on_a_missing_vm_raise_instance_not_found(driver: ComputeDriver, method: str) -> None:
    calls: dict[str, Callable[[str], object]] = {
        "get_info": driver.get_info,
        "get_diagnostics": driver.get_diagnostics,
        "power_on": lambda uuid: driver.power_on(CTXT, uuid),
        "power_off": lambda uuid: driver.power_off(CTXT, uuid),
        "reboot": lambda uuid: driver.reboot(CTXT, uuid, "HARD"),
        "pause": lambda uuid: driver.pause(CTXT, uuid),
        "get_console_output": lambda uuid: driver.get_console_output(CTXT, uuid),
    }
    with pytest.raises((InstanceNotFound, ActionNotSupported)):
        calls[method](str(uuidlib.uuid4()))


def test_power_off_and_on(
    driver: ComputeDriver, make_spec: SpecFactory, events: list[LifecycleEvent]
) -> None:
    uuid = _spawned(driver, make_spec())
    driver.power_off(CTXT, uuid, timeout=1)
    assert _state(driver, uuid) == PowerState.SHUTDOWN
    driver.power_off(CTXT, uuid)  # already off: nothing to do
    driver.power_on(CTXT, uuid)
    assert _state(driver, uuid) == PowerState.RUNNING
    assert [e.transition for e in events if e.uuid == uuid] == ["started", "stopped", "started"]


def test_reboot_keeps_running_and_boots_again(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    _skip_unless(driver, "supports_console_output")
    uuid = _spawned(driver, make_spec(hostname="rebooter"))
    for reboot_type in ("SOFT", "HARD"):
        driver.reboot(CTXT, uuid, reboot_type)  # type: ignore[arg-type]
        assert _state(driver, uuid) == PowerState.RUNNING
    assert driver.get_console_output(CTXT, uuid).count("rebooter login:") == 3


def test_hard_reboot_starts_a_stopped_vm(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    uuid = _spawned(driver, make_spec())
    driver.power_off(CTXT, uuid)
    driver.reboot(CTXT, uuid, "HARD")
    assert _state(driver, uuid) == PowerState.RUNNING


def test_pause_unpause(driver: ComputeDriver, make_spec: SpecFactory, events: list[LifecycleEvent]) -> None:
    _skip_unless(driver, "supports_pause")
    uuid = _spawned(driver, make_spec())
    driver.pause(CTXT, uuid)
    assert _state(driver, uuid) == PowerState.PAUSED
    with pytest.raises(InstanceActionInvalid):
        driver.pause(CTXT, uuid)
    driver.unpause(CTXT, uuid)
    assert _state(driver, uuid) == PowerState.RUNNING
    assert [e.transition for e in events][-2:] == ["paused", "resumed"]


def test_suspend_resume(driver: ComputeDriver, make_spec: SpecFactory, events: list[LifecycleEvent]) -> None:
    _skip_unless(driver, "supports_suspend")
    uuid = _spawned(driver, make_spec())
    driver.suspend(CTXT, uuid)
    assert _state(driver, uuid) == PowerState.SUSPENDED
    with pytest.raises(InstanceActionInvalid):
        driver.power_on(CTXT, uuid)
    driver.resume(CTXT, uuid)
    assert _state(driver, uuid) == PowerState.RUNNING
    assert [e.transition for e in events][-2:] == ["suspended", "resumed"]


def test_invalid_power_transitions_are_refused(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    _skip_unless(driver, "supports_pause")
    uuid = _spawned(driver, make_spec())
    driver.power_off(CTXT, uuid)
    for action in (driver.pause, driver.unpause, driver.suspend, driver.resume):
        with pytest.raises(InstanceActionInvalid, match="SHUTDOWN"):
            action(CTXT, uuid)
    assert _state(driver, uuid) == PowerState.SHUTDOWN


def test_rescue_and_unrescue(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    _skip_unless(driver, "supports_rescue")
    uuid = _spawned(driver, make_spec())
    driver.rescue(CTXT, uuid, ImageRef(id="rescue-image"), "rescue-pw")
    assert _state(driver, uuid) == PowerState.RUNNING
    with pytest.raises(InstanceActionInvalid):
        driver.rescue(CTXT, uuid, ImageRef(id="rescue-image"), None)
    driver.unrescue(CTXT, uuid)
    assert _state(driver, uuid) == PowerState.RUNNING
    with pytest.raises(InstanceActionInvalid):
        driver.unrescue(CTXT, uuid)


def test_snapshot_uploads_the_disk(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    _skip_unless(driver, "supports_snapshot")
    uuid = _spawned(driver, make_spec())
    uploaded: list[bytes] = []

    def upload(data: BinaryIO | Path) -> None:
        uploaded.append(data.read_bytes() if isinstance(data, Path) else data.read())

    driver.snapshot(CTXT, uuid, "snap-image-1", upload)
    assert len(uploaded) == 1 and len(uploaded[0]) > 0
    assert _state(driver, uuid) == PowerState.RUNNING


def test_set_admin_password_needs_a_running_vm(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    _skip_unless(driver, "supports_set_admin_password")
    uuid = _spawned(driver, make_spec())
    driver.set_admin_password(uuid, "n3w-pass")
    driver.power_off(CTXT, uuid)
    with pytest.raises(InstanceActionInvalid):
        driver.set_admin_password(uuid, "again")


def test_resize_on_the_same_host_then_confirm(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    _skip_unless(driver, "supports_resize")
    old = make_spec(vcpus=1, memory_mb=128)
    new = replace(old, vcpus=2, memory_mb=256)
    _spawned(driver, old)
    driver.migrate_disk_and_power_off(CTXT, old.uuid, new)
    driver.finish_migration(CTXT, new, resize_instance=True, power_on=True)
    info = driver.get_info(old.uuid)
    assert (info.state, info.num_cpu, info.max_mem_kb) == (PowerState.RUNNING, 2, 256 * 1024)
    driver.confirm_migration(CTXT, old.uuid)
    with pytest.raises(InstanceNotFound):  # nothing left to revert to
        driver.finish_revert_migration(CTXT, old, power_on=True)


def test_resize_on_the_same_host_then_revert(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    _skip_unless(driver, "supports_resize")
    old = make_spec(vcpus=1, memory_mb=128)
    new = replace(old, vcpus=2, memory_mb=256)
    _spawned(driver, old)
    driver.power_off(CTXT, old.uuid)
    driver.migrate_disk_and_power_off(CTXT, old.uuid, new)
    driver.finish_migration(CTXT, new, resize_instance=True, power_on=False)
    assert _state(driver, old.uuid) == PowerState.SHUTDOWN
    driver.destroy(CTXT, old.uuid, destroy_disks=False)  # what the destination does on revert
    driver.finish_revert_migration(CTXT, old, power_on=False)
    info = driver.get_info(old.uuid)
    assert (info.state, info.num_cpu, info.max_mem_kb) == (PowerState.SHUTDOWN, 1, 128 * 1024)


def test_migrate_to_another_host(harness: Harness, make_spec: SpecFactory) -> None:
    source, dest = harness.make_driver(), harness.make_driver()
    source.init_host("source")
    dest.init_host("dest")
    _skip_unless(source, "supports_resize")
    old = make_spec()
    new = replace(old, memory_mb=old.memory_mb * 2)
    _spawned(source, old)
    moved = source.migrate_disk_and_power_off(CTXT, old.uuid, new)  # where the disks wait, for dest
    dest.finish_migration(CTXT, replace(new, migration_data=moved or {}), resize_instance=True, power_on=True)
    assert dest.get_info(old.uuid).max_mem_kb == new.memory_mb * 1024
    source.confirm_migration(CTXT, old.uuid)
    assert old.uuid not in source.list_instance_uuids()
    dest.destroy(CTXT, old.uuid)


def test_cpu_time_never_goes_back(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    uuid = _spawned(driver, make_spec())
    first = driver.get_info(uuid).cpu_time_ns
    driver.power_off(CTXT, uuid)
    stopped = driver.get_info(uuid).cpu_time_ns
    assert stopped >= first
    assert driver.get_info(uuid).cpu_time_ns == stopped  # a stopped VM burns no cpu


def test_interfaces_are_attached_and_detached(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    uuid = _spawned(driver, make_spec())
    port_id = str(uuidlib.uuid4())
    # A tap QEMU makes itself (never persistent, no address): it is gone when the NIC is.
    vif = {"id": port_id, "address": "fa:16:3e:12:34:56", "type": "tap", "device": f"octest-{port_id[:8]}"}
    driver.attach_interface(CTXT, uuid, vif)
    assert driver.interface_ids(uuid) == ["vif-1", port_id]
    with pytest.raises(DriverError):
        driver.attach_interface(CTXT, uuid, vif)
    driver.detach_interface(CTXT, uuid, vif)
    assert driver.interface_ids(uuid) == ["vif-1"]
    driver.detach_interface(CTXT, uuid, vif)  # absent: nothing to do
    with pytest.raises(InstanceNotFound):
        driver.attach_interface(CTXT, str(uuidlib.uuid4()), vif)


def test_console_output_shows_the_boot(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    _skip_unless(driver, "supports_console_output")
    uuid = _spawned(driver, make_spec(hostname="consoled"))
    assert "consoled login:" in driver.get_console_output(CTXT, uuid)


def test_diagnostics(driver: ComputeDriver, make_spec: SpecFactory) -> None:
    uuid = _spawned(driver, make_spec(vcpus=2))
    diagnostics = driver.get_diagnostics(uuid)
    assert diagnostics["state"] == "running"
    assert diagnostics["num_cpus"] == 2
    assert len(diagnostics["cpu_details"]) == 2


def test_a_vm_that_dies_is_reported(
    harness: Harness,
    driver: ComputeDriver,
    make_spec: SpecFactory,
    events: list[LifecycleEvent],
) -> None:
    uuid = _spawned(driver, make_spec())
    harness.kill_vm(driver, uuid)
    assert _state(driver, uuid) in (PowerState.CRASHED, PowerState.SHUTDOWN)
    last = events[-1]
    assert (last.uuid, last.transition) in ((uuid, "crashed"), (uuid, "stopped"))
    driver.power_on(CTXT, uuid)  # the manager's way to bring it back
    assert _state(driver, uuid) == PowerState.RUNNING


def test_a_failing_listener_does_not_break_the_driver(
    driver: ComputeDriver, make_spec: SpecFactory, events: list[LifecycleEvent]
) -> None:
    def broken(event: LifecycleEvent) -> None:
        raise RuntimeError("listener bug")

    driver.register_event_listener(broken)
    late: list[LifecycleEvent] = []
    driver.register_event_listener(late.append)
    uuid = _spawned(driver, make_spec())
    assert [e.uuid for e in events] == [uuid] and [e.uuid for e in late] == [uuid]


def test_concurrent_actions_from_worker_threads(
    harness: Harness, driver: ComputeDriver, make_spec: SpecFactory
) -> None:
    specs = [make_spec() for _ in range(harness.concurrent_vms)]
    failures: list[BaseException] = []

    def lifecycle(spec: InstanceSpec) -> None:
        try:
            driver.spawn(CTXT, spec)
            for _ in range(harness.cycles):
                driver.power_off(CTXT, spec.uuid)
                driver.power_on(CTXT, spec.uuid)
                driver.reboot(CTXT, spec.uuid, "HARD")
                driver.get_info(spec.uuid)
            if int(spec.uuid[-1], 16) % 2:
                driver.destroy(CTXT, spec.uuid)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=lifecycle, args=(spec,)) for spec in specs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    kept = {spec.uuid for spec in specs if not int(spec.uuid[-1], 16) % 2}
    assert set(driver.list_instance_uuids()) == kept
    assert all(_state(driver, uuid) == PowerState.RUNNING for uuid in kept)
