"""What only the fake driver does: configurable hardware, fault injection, crashes, a controllable clock."""

from __future__ import annotations

import threading
import time
import tracemalloc
import uuid as uuidlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from overcast import errors
from overcast.context import RequestContext
from overcast.virt.driver import (
    ActionNotSupported,
    ComputeDriver,
    Device,
    DriverError,
    HostResources,
    ImageRef,
    InstanceActionInvalid,
    InstanceInfo,
    InstanceNotFound,
    InstanceSpec,
    LifecycleEvent,
    PowerState,
    load_driver,
)
from overcast.virt.fake import CPU_UTILISATION, FakeDriver, FakeHostConfig
from overcast.virt.hardware import detect_host_hardware, encode_version
from tests.support.waiting import WAIT_SECONDS

CTXT = RequestContext.admin()


class ManualClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_spec(**overrides: Any) -> InstanceSpec:
    uuid = str(uuidlib.uuid4())
    values: dict[str, Any] = {
        "uuid": uuid, "name": f"instance-{uuid[:8]}", "hostname": "guest", "vcpus": 2, "memory_mb": 512,
        "root_gb": 1, "image": ImageRef(id="cirros"),
    }  # fmt: skip
    values.update(overrides)
    return InstanceSpec(**values)


def test_host_config_and_overrides_shape_the_resources() -> None:
    gpu = Device(kind="gpu", vendor_id="10de", product_id="20b5", model="A100", count=4)
    driver = FakeDriver(FakeHostConfig(vcpus=64, devices=[gpu], cpu_arch="aarch64"), memory_mb=8192)
    driver.init_host("gpu-host-1")
    resources = driver.get_available_resource()
    assert resources == HostResources(
        hypervisor_type="fake", hypervisor_version=driver.config.hypervisor_version,
        hypervisor_hostname="gpu-host-1", cpu_arch="aarch64", cpu_model=driver.config.cpu_model,
        cpu_features=driver.config.cpu_features, vcpus=64, memory_mb=8192,
        local_gb=driver.config.local_gb, devices=[gpu],
    )  # fmt: skip


def test_load_driver_builds_the_fake_with_its_arguments() -> None:
    driver = load_driver("fake", vcpus=3, hypervisor_type="QEMU")
    assert isinstance(driver, FakeDriver)
    resources = driver.get_available_resource()
    assert (resources.vcpus, resources.hypervisor_type) == (3, "QEMU")


@pytest.mark.parametrize(
    "name", ["nonsense", "overcast.virt.nothing:Driver", "overcast.context:RequestContext"]
)
def test_load_driver_refuses_what_is_not_a_driver(name: str) -> None:
    with pytest.raises(DriverError):
        load_driver(name)


def test_instance_spec_round_trips_through_json_safe_dict() -> None:
    spec = make_spec(user_data=b"\x00\xffbinary", metadata={"a": "b"}, image=ImageRef("img", "/x", {"k": 1}))
    data = spec.to_dict()
    assert isinstance(data["user_data"], str)
    assert InstanceSpec.from_dict(data) == spec


def test_invalid_transitions_name_the_power_state() -> None:
    driver = FakeDriver()
    spec = make_spec()
    driver.spawn(CTXT, spec)
    driver.pause(CTXT, spec.uuid)
    with pytest.raises(InstanceActionInvalid, match=r"suspend .* PAUSED") as caught:
        driver.suspend(CTXT, spec.uuid)
    assert isinstance(caught.value, errors.Conflict) and caught.value.status == 409


def test_soft_reboot_of_a_paused_vm_falls_back_to_hard() -> None:
    driver = FakeDriver()
    spec = make_spec()
    driver.spawn(CTXT, spec)
    driver.pause(CTXT, spec.uuid)
    driver.reboot(CTXT, spec.uuid, "SOFT")
    assert driver.get_info(spec.uuid).state == PowerState.RUNNING
    assert driver.get_diagnostics(spec.uuid)["boot_count"] == 2


def test_console_grows_with_every_boot_and_mentions_user_data() -> None:
    driver = FakeDriver()
    spec = make_spec(hostname="web-1", user_data=b"#!/bin/sh\necho hi\n")
    driver.spawn(CTXT, spec)
    driver.reboot(CTXT, spec.uuid, "SOFT")
    driver.power_off(CTXT, spec.uuid)
    driver.power_on(CTXT, spec.uuid)
    console = driver.get_console_output(CTXT, spec.uuid)
    assert console.count("web-1 login:") == 3
    assert f"user-data {len(spec.user_data or b'')} bytes" in console
    assert "reboot: Restarting system" in console


def test_cpu_time_follows_the_clock_while_running_only() -> None:
    clock = ManualClock()
    driver = FakeDriver(clock=clock)
    spec = make_spec(vcpus=4)
    driver.spawn(CTXT, spec)
    clock.advance(10)
    expected = int(10 * spec.vcpus * CPU_UTILISATION * 1e9)
    assert driver.get_info(spec.uuid).cpu_time_ns == expected
    driver.pause(CTXT, spec.uuid)
    clock.advance(100)
    assert driver.get_info(spec.uuid).cpu_time_ns == expected
    assert driver.get_info(spec.uuid).mem_kb == spec.memory_mb * 1024
    driver.unpause(CTXT, spec.uuid)
    clock.advance(2)
    assert driver.get_info(spec.uuid).cpu_time_ns == expected + int(2 * spec.vcpus * CPU_UTILISATION * 1e9)
    assert driver.get_diagnostics(spec.uuid)["uptime"] == 112


def test_events_carry_the_clock_time() -> None:
    clock = ManualClock()
    driver = FakeDriver(clock=clock)
    received: list[LifecycleEvent] = []
    driver.register_event_listener(received.append)
    spec = make_spec()
    driver.spawn(CTXT, spec)
    assert received == [LifecycleEvent(spec.uuid, "started", datetime.fromtimestamp(clock.now, UTC))]


def test_fail_next_fails_exactly_the_next_calls() -> None:
    driver = FakeDriver()
    driver.fail_next("spawn", DriverError("qemu: could not open disk image"))
    driver.fail_next("spawn", DriverError("second failure"))
    with pytest.raises(DriverError, match="could not open disk image"):
        driver.spawn(CTXT, make_spec())
    with pytest.raises(DriverError, match="second failure"):
        driver.spawn(CTXT, make_spec())
    assert driver.list_instance_uuids() == []  # a failed spawn leaves nothing behind
    spec = make_spec()
    driver.spawn(CTXT, spec)
    assert driver.list_instance_uuids() == [spec.uuid]


def test_fail_next_refuses_a_method_the_driver_does_not_have() -> None:
    with pytest.raises(ValueError):
        FakeDriver().fail_next("spwan", DriverError())


def test_spawn_beyond_host_memory_fails_with_a_useful_message() -> None:
    driver = FakeDriver(memory_mb=1024)
    driver.init_host("small-host")
    with pytest.raises(DriverError, match=r"2048 MB .* small-host has only 1024 MB"):
        driver.spawn(CTXT, make_spec(memory_mb=2048))


def test_slow_spawn_shows_a_building_vm_and_a_delete_during_build_wins() -> None:
    driver = FakeDriver(spawn_delay=0.3)
    spec = make_spec()
    outcome: list[BaseException | None] = []

    def build() -> None:
        try:
            driver.spawn(CTXT, spec)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    builder = threading.Thread(target=build)
    builder.start()
    deadline = time.monotonic() + 30
    while spec.uuid not in driver.list_instance_uuids() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert driver.get_info(spec.uuid).state == PowerState.NOSTATE
    with pytest.raises(InstanceActionInvalid, match="being built"):
        driver.power_off(CTXT, spec.uuid)
    driver.destroy(CTXT, spec.uuid)
    builder.join(timeout=WAIT_SECONDS)
    assert len(outcome) == 1 and isinstance(outcome[0], InstanceNotFound)
    assert driver.list_instance_uuids() == []


def test_delays_slow_down_any_method_without_a_real_sleep() -> None:
    slept: list[float] = []
    driver = FakeDriver(sleep=slept.append, spawn_delay=7.0)
    driver.delays["power_off"] = 3.0
    spec = make_spec()
    driver.spawn(CTXT, spec)
    driver.power_off(CTXT, spec.uuid)
    assert slept == [7.0, 3.0]


def test_crash_and_guest_shutdown_emit_events() -> None:
    driver = FakeDriver()
    received: list[LifecycleEvent] = []
    driver.register_event_listener(received.append)
    crashed, halted = make_spec(), make_spec()
    for spec in (crashed, halted):
        driver.spawn(CTXT, spec)
    driver.crash(crashed.uuid)
    driver.crash(halted.uuid, PowerState.SHUTDOWN)
    assert driver.get_info(crashed.uuid).state == PowerState.CRASHED
    assert driver.get_info(halted.uuid).state == PowerState.SHUTDOWN
    assert [(e.uuid, e.transition) for e in received[2:]] == [
        (crashed.uuid, "crashed"),
        (halted.uuid, "stopped"),
    ]
    assert "Kernel panic" in driver.get_console_output(CTXT, crashed.uuid)
    with pytest.raises(InstanceActionInvalid):
        driver.crash(halted.uuid)


def test_drivers_in_one_process_are_independent() -> None:
    first, second = FakeDriver(), FakeDriver()
    spec = make_spec()
    first.spawn(CTXT, spec)
    second.spawn(CTXT, spec)  # the same uuid on two hosts: a migration's two halves
    first.fail_next("power_off", DriverError("only on the first"))
    second.power_off(CTXT, spec.uuid)
    assert first.get_info(spec.uuid).state == PowerState.RUNNING
    assert second.get_info(spec.uuid).state == PowerState.SHUTDOWN


def test_hundreds_of_hosts_are_cheap() -> None:
    threads_before = threading.active_count()
    tracemalloc.start()
    started = time.perf_counter()
    hosts = [FakeDriver(hypervisor_hostname=f"host-{n}") for n in range(300)]
    for host in hosts:
        for _ in range(5):
            host.spawn(CTXT, make_spec())
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert threading.active_count() == threads_before
    assert sum(len(host.list_instance_uuids()) for host in hosts) == 1500
    assert elapsed < 30.0, f"300 hosts x 5 VMs took {elapsed:.2f}s"  # a sanity bound: ~1 s when idle
    assert peak < 64 * 1024 * 1024, f"300 hosts x 5 VMs peaked at {peak / 1e6:.1f} MB"


class _MinimalDriver(ComputeDriver):
    """Only the mandatory methods, to check the base class's answers for optional features."""

    def init_host(self, host: str) -> None: ...
    def get_available_resource(self) -> HostResources:
        raise NotImplementedError

    def list_instance_uuids(self) -> list[str]:
        return []

    def spawn(self, ctxt: RequestContext, spec: InstanceSpec, admin_password: str | None = None) -> None: ...
    def destroy(self, ctxt: RequestContext, uuid: str, destroy_disks: bool = True) -> None: ...
    def reboot(self, ctxt: RequestContext, uuid: str, reboot_type: Any) -> None: ...
    def power_off(self, ctxt: RequestContext, uuid: str, timeout: int = 0) -> None: ...
    def power_on(self, ctxt: RequestContext, uuid: str) -> None: ...
    def get_info(self, uuid: str) -> InstanceInfo:
        raise InstanceNotFound()

    def get_diagnostics(self, uuid: str) -> dict[str, Any]:
        return {}


def test_optional_features_default_to_not_supported() -> None:
    driver = _MinimalDriver()
    assert not any(driver.capabilities.values())
    assert all(FakeDriver.capabilities[name] for name in driver.capabilities)
    spec = make_spec()
    for call in (
        lambda: driver.pause(CTXT, "x"),
        lambda: driver.suspend(CTXT, "x"),
        lambda: driver.rescue(CTXT, "x", ImageRef("r"), None),
        lambda: driver.snapshot(CTXT, "x", "img", lambda data: None),
        lambda: driver.migrate_disk_and_power_off(CTXT, "x", spec),
        lambda: driver.get_console_output(CTXT, "x"),
        lambda: driver.set_admin_password("x", "pw"),
    ):
        with pytest.raises(ActionNotSupported) as caught:
            call()
        assert caught.value.status == 501


def test_detect_host_hardware_reads_proc_and_sys(tmp_path: Path) -> None:
    proc, pci = tmp_path / "proc", tmp_path / "pci"
    proc.mkdir()
    (proc / "meminfo").write_text("MemTotal:       16384000 kB\nMemFree: 1 kB\n")
    (proc / "cpuinfo").write_text("model name\t: Test CPU 9000\nflags\t\t: fpu vmx avx2 aes\n")
    for name, pci_class, vendor, product in [
        ("0000:01:00.0", "0x030000", "0x10de", "0x20b5"),
        ("0000:02:00.0", "0x030200", "0x10de", "0x20b5"),
        ("0000:03:00.0", "0x020000", "0x8086", "0x1533"),  # a NIC, not a GPU
    ]:
        device = pci / name
        device.mkdir(parents=True)
        for attr, value in (("class", pci_class), ("vendor", vendor), ("device", product)):
            (device / attr).write_text(value + "\n")
    hardware = detect_host_hardware(str(tmp_path), proc=proc, sys_pci=pci)
    assert hardware.memory_mb == 16384000 // 1024
    assert hardware.cpu_model == "Test CPU 9000"
    assert hardware.cpu_features == ["vmx", "avx2", "aes"]
    assert hardware.devices == [
        Device(kind="gpu", vendor_id="10de", product_id="20b5", model="10de:20b5", count=2)
    ]
    assert hardware.local_gb >= 0 and hardware.vcpus >= 1
    assert encode_version(8, 2, 1) == 8_002_001


def test_guests_are_reported_on_the_network_they_are_on() -> None:
    driver = FakeDriver()
    driver.init_host("fake-host")
    user_mode = make_spec(network_info=[{"id": "user-0", "address": "fa:16:3e:00:00:01"}])
    tap = {"id": "port-1", "type": "tap", "device": "ovt-1", "address": "fa:16:3e:00:00:02"}
    wired = make_spec(network_info=[tap])
    for spec in (user_mode, wired):
        driver.spawn(RequestContext(), spec)
    # As the QEMU driver: a guest on the driver's own NAT has its address, one on taps has its ports'.
    assert driver.get_instance_network(user_mode.uuid) == {
        "mode": "user",
        "guest_ip": "10.0.2.15",
        "mac_address": "fa:16:3e:00:00:01",
    }
    assert driver.get_instance_network(wired.uuid) is None
    with pytest.raises(InstanceNotFound):
        driver.get_instance_network(str(uuidlib.uuid4()))
