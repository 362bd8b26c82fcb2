"""HostVMs, the QEMU driver's view of its host's VMs, without a QEMU: membership, the VM lock, and lifecycle
events delivered only once that lock is released."""

from __future__ import annotations

import threading
import uuid as uuidlib
from pathlib import Path

import pytest

from overcast.virt.driver import (
    EventListener,
    ImageRef,
    InstanceActionInvalid,
    InstanceExists,
    InstanceNotFound,
    InstanceSpec,
    LifecycleEvent,
    PowerState,
)
from overcast.virt.qemu.accel import Accelerator
from overcast.virt.qemu.disks import ImageCache
from overcast.virt.qemu.instance import VM, InstanceRecord
from overcast.virt.qemu.runtime import Runtime
from overcast.virt.qemu.vms import HostVMs
from tests.support.waiting import WAIT_SECONDS


def _host_vms(tmp_path: Path, emit: EventListener = lambda event: None) -> HostVMs:
    instances = tmp_path / "instances"
    runtime = Runtime("qemu-system-x86_64", Accelerator("tcg", "max", "test"), set(), threading.Lock())
    vms = HostVMs(instances, ImageCache(instances / "_base"), runtime, emit)
    vms.host = "host-1"
    return vms


def _vm(vms: HostVMs, state: PowerState = PowerState.SHUTDOWN) -> VM:
    uuid = str(uuidlib.uuid4())
    spec = InstanceSpec(uuid=uuid, name="vm", hostname="vm", vcpus=1, memory_mb=64, root_gb=0,
                        image=ImageRef(id="img-1"))  # fmt: skip
    record = InstanceRecord(spec=spec.to_dict())
    return VM(uuid=uuid, folder=vms.instances_dir / uuid, record=record, state=state)


def test_a_vm_is_counted_once_and_a_new_one_never_takes_an_existing_folder(tmp_path: Path) -> None:
    vms = _host_vms(tmp_path)
    vm = _vm(vms)
    vms.add(vm, new_folder=True)
    assert vms.uuids() == [vm.uuid] and vms.get(vm.uuid) is vm
    with pytest.raises(InstanceExists):
        vms.add(vm, new_folder=False)

    leftover = _vm(vms)
    leftover.folder.mkdir(parents=True)
    with pytest.raises(InstanceExists):
        vms.add(leftover, new_folder=True)
    vms.add(leftover, new_folder=False)  # a folder found on disk at start-up, or put back by a revert

    vms.forget(vm.uuid)
    with pytest.raises(InstanceNotFound, match="host-1"):
        vms.get(vm.uuid)
    assert vms.forget_all() == [leftover] and vms.uuids() == []


def test_locked_refuses_a_vm_still_being_built(tmp_path: Path) -> None:
    vms = _host_vms(tmp_path)
    building = _vm(vms, PowerState.NOSTATE)
    vms.add(building, new_folder=True)
    with (
        pytest.raises(InstanceActionInvalid, match="still being built"),
        vms.locked(building.uuid, built=True),
    ):
        pass
    with vms.locked(building.uuid) as vm:  # inspection may look at it
        assert vm is building


def test_events_are_delivered_after_the_vm_lock_is_released(tmp_path: Path) -> None:
    events: list[LifecycleEvent] = []
    lock_free_at_delivery: list[bool] = []

    def listener(event: LifecycleEvent) -> None:
        # Another thread must be able to take the VM's lock while a listener runs.
        taken: list[bool] = []
        probe = threading.Thread(target=lambda: taken.append(_try_lock(vm.lock)))
        probe.start()
        probe.join()
        lock_free_at_delivery.append(taken[0])
        events.append(event)

    vms = _host_vms(tmp_path, listener)
    vm = _vm(vms)
    vms.add(vm, new_folder=True)
    with vms.locked(vm.uuid) as locked:
        locked.pending_events += ["started", "paused"]
        assert events == []  # nothing while the action holds the VM
    assert [(e.uuid, e.transition) for e in events] == [(vm.uuid, "started"), (vm.uuid, "paused")]
    assert lock_free_at_delivery == [True, True]
    assert vm.pending_events == []


def _try_lock(lock: threading.RLock) -> bool:
    if lock.acquire(timeout=WAIT_SECONDS):
        lock.release()
        return True
    return False
