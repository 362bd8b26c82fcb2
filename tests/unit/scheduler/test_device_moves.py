"""A GPU instance's device follows it: a failed build, resize (revert and confirm), shelve-offload,
unshelve and delete each give back exactly what the claim took, and the resource report agrees."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.compute import states
from overcast.compute.api.servers import ServerCreate
from overcast.compute.manager import ComputeManager
from overcast.conductor.manager import ConductorManager
from overcast.config import load_settings
from overcast.db import Database
from overcast.db.models.compute import ComputeNode, Flavor, Instance
from overcast.quota import QuotaEngine
from overcast.scheduler.manager import SchedulerManager
from overcast.service import Service
from overcast.virt.driver import Device, DriverError
from overcast.virt.fake import FakeDriver
from tests.support.compute_service import compute_service
from tests.unit.placement.test_claims import ALICE, IMAGE_ID, NOW

A100 = Device(kind="gpu", vendor_id="10de", product_id="20b5", model="A100", count=1)
A100_HELD = [{"kind": "gpu", "vendor_id": "10de", "product_id": "20b5", "model": "A100", "count": 1}]


class GpuCloud:
    """Scheduler, conductor and two compute hosts with one A100 each ("big" has more RAM, so it wins)."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.drivers = {
            "big": FakeDriver(memory_mb=8192, vcpus=8, local_gb=50, devices=[A100]),
            "small": FakeDriver(memory_mb=4096, vcpus=8, local_gb=50, devices=[A100]),
        }
        self.computes = {host: ComputeManager(cloud, host, driver=d) for host, d in self.drivers.items()}
        managers = [SchedulerManager(cloud, "s"), ConductorManager(cloud, "c"), *self.computes.values()]
        self.services = [Service(cloud, manager) for manager in managers]
        for service in self.services:
            service.start()
        self.api = compute_service(cloud)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def boot(self, flavor: str = "g1") -> str:
        return self.api.servers.create(ALICE, ServerCreate("vm", IMAGE_ID, flavor)).servers[0].uuid

    def instance(self, instance_uuid: str) -> Instance:
        with self.cloud.db.reader() as session:
            return session.scalars(select(Instance).where(Instance.uuid == instance_uuid)).one()

    def wait_for(self, instance_uuid: str, vm_state: str) -> Instance:
        deadline = time.monotonic() + 30  # generous: CI runs this beside QEMU guests on 2 cores
        while True:
            instance = self.instance(instance_uuid)
            if instance.vm_state == vm_state and instance.task_state is None:
                return instance
            assert time.monotonic() < deadline, (
                f"{instance_uuid} stuck in {instance.vm_state}/{instance.task_state}"
            )
            time.sleep(0.02)

    def gpus_used(self) -> dict[str, int]:
        """Each node's used GPUs, after checking that the resource report's recount says the same."""
        before = self._used()
        for manager in self.computes.values():
            manager.resource_tracker.update_available_resource()
        assert self._used() == before, "claims and releases drifted from the instances' devices"
        return before

    def _used(self) -> dict[str, int]:
        with self.cloud.db.reader() as session:
            return {n.host: sum(d["used"] for d in n.devices) for n in session.scalars(select(ComputeNode))}


@pytest.fixture
def gpus(db: Database, tmp_path: Path) -> Iterator[GpuCloud]:
    transport = get_transport(f"inproc://device-moves-{uuid.uuid4().hex}")
    settings = load_settings(data_dir=tmp_path, rpc_timeout=30.0)
    with db.writer() as session:
        QuotaEngine().set_limits(session, "p1", {"instances": -1, "cores": -1, "ram": -1})
        for flavorid, memory_mb in (("g1", 512), ("g2", 1024)):
            session.add(Flavor(flavorid=flavorid, name=flavorid, vcpus=1, memory_mb=memory_mb, root_gb=1,
                               extra_specs={"resources:VGPU": "1"}))  # fmt: skip
    cloud = Cloud(settings=settings, db=db, transport=transport, clock=lambda: NOW)
    running = GpuCloud(cloud)
    yield running
    running.stop()
    transport.close()


def test_a_failed_build_gives_its_gpu_back_before_the_reschedule(gpus: GpuCloud) -> None:
    gpus.drivers["big"].fail_next("spawn", DriverError("the GPU fell off the bus"))
    server = gpus.wait_for(gpus.boot(), states.ACTIVE)
    assert (server.host, server.devices) == ("small", A100_HELD)
    assert gpus.gpus_used() == {"big": 0, "small": 1}
    # Both GPUs taken: the third GPU server has nowhere to go, though RAM is plentiful.
    assert gpus.wait_for(gpus.boot(), states.ACTIVE).host == "big"
    refused = gpus.wait_for(gpus.boot(), states.ERROR)
    assert refused.host is None and refused.devices == []
    assert gpus.gpus_used() == {"big": 1, "small": 1}


def test_resize_revert_and_confirm_give_back_the_side_left(gpus: GpuCloud) -> None:
    server = gpus.wait_for(gpus.boot(), states.ACTIVE)
    assert server.host == "big"
    gpus.api.actions.resize(ALICE, server.uuid, "g2")  # big's GPU is in use: only small fits
    resized = gpus.wait_for(server.uuid, states.RESIZED)
    assert (resized.host, resized.devices) == ("small", A100_HELD)
    assert gpus.gpus_used() == {"big": 1, "small": 1}  # both sides held until confirm or revert
    gpus.api.actions.revert_resize(ALICE, server.uuid)
    reverted = gpus.wait_for(server.uuid, states.ACTIVE)
    assert (reverted.host, reverted.flavor_id, reverted.devices) == ("big", "g1", A100_HELD)
    assert gpus.gpus_used() == {"big": 1, "small": 0}

    gpus.api.actions.resize(ALICE, server.uuid, "g2")
    gpus.wait_for(server.uuid, states.RESIZED)
    gpus.api.actions.confirm_resize(ALICE, server.uuid)
    confirmed = gpus.wait_for(server.uuid, states.ACTIVE)
    assert (confirmed.host, confirmed.flavor_id, confirmed.devices) == ("small", "g2", A100_HELD)
    assert gpus.gpus_used() == {"big": 0, "small": 1}


def test_shelve_offload_unshelve_and_delete_move_the_gpu(gpus: GpuCloud) -> None:
    server = gpus.wait_for(gpus.boot(), states.ACTIVE)
    gpus.api.actions.shelve(ALICE, server.uuid)  # shelved_offload_time 0: offloaded at once
    offloaded = gpus.wait_for(server.uuid, states.SHELVED_OFFLOADED)
    assert (offloaded.host, offloaded.devices) == (None, [])
    assert gpus.gpus_used() == {"big": 0, "small": 0}
    gpus.api.actions.unshelve(ALICE, server.uuid)
    unshelved = gpus.wait_for(server.uuid, states.ACTIVE)
    assert unshelved.devices == A100_HELD
    assert gpus.gpus_used()[str(unshelved.host)] == 1
    gpus.api.actions.delete(ALICE, server.uuid)
    deadline = time.monotonic() + 30  # generous: CI runs this beside QEMU guests on 2 cores
    while not gpus.instance(server.uuid).deleted:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert gpus.gpus_used() == {"big": 0, "small": 0}

