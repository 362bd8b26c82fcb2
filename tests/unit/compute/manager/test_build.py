"""Scheduler choice, claims, the resource tracker, and the compute manager's build, sync and reconcile."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from overcast import errors
from overcast.bus import NotificationListener, get_transport
from overcast.cloud import Cloud
from overcast.compute import instances, states
from overcast.compute.api.servers import ServerCreate
from overcast.compute.instance_actions import get_action
from overcast.compute.manager import ComputeManager
from overcast.conductor.manager import ConductorManager
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.compute import ComputeNode, Instance, InstanceFault
from overcast.db.models.instance_actions import InstanceActionEvent
from overcast.db.models.service import ServiceRecord
from overcast.placement.claims import Outcome, Wanted, claim
from overcast.scheduler.manager import SchedulerManager
from overcast.service import Service
from overcast.virt.driver import PowerState
from overcast.virt.fake import FakeDriver
from tests.support.compute_service import compute_service
from tests.support.waiting import WAIT_SECONDS, wait_until

IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"
ALICE = RequestContext(user_id="alice", project_id="p1", roles=("member", "reader"))
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Cloud]:
    transport = get_transport(f"inproc://compute-build-{uuid.uuid4().hex}")
    settings = load_settings(data_dir=tmp_path, rpc_timeout=WAIT_SECONDS)
    yield Cloud(settings=settings, db=db, transport=transport, clock=lambda: NOW)
    transport.close()


def compute_host(cloud: Cloud, host: str, memory_mb: int = 4096, *, up: bool = True) -> ComputeManager:
    """A compute manager with its node reported and a services row (up or long silent)."""
    manager = ComputeManager(cloud, host, driver=FakeDriver(memory_mb=memory_mb, vcpus=2, local_gb=20))
    manager.driver.init_host(host)
    manager.resource_tracker.update_available_resource()
    seen = NOW if up else datetime(2020, 1, 1, tzinfo=UTC)
    with cloud.db.writer() as session:
        session.add(ServiceRecord(host=host, binary="overcast-compute", topic="compute", last_seen_up=seen))
    return manager


def boot_record(cloud: Cloud, flavor: str = "1") -> str:
    created = compute_service(cloud).servers.create(ALICE, ServerCreate("vm", IMAGE_ID, flavor))
    return created.servers[0].uuid


def load(cloud: Cloud, uuid_: str) -> Instance:
    with cloud.db.reader() as session:
        return session.scalars(select(Instance).where(Instance.uuid == uuid_)).one()


def node(cloud: Cloud, host: str) -> ComputeNode:
    with cloud.db.reader() as session:
        return session.scalars(select(ComputeNode).where(ComputeNode.host == host)).one()


def test_scheduler_prefers_free_ram_and_skips_down_full_and_excluded_hosts(cloud: Cloud) -> None:
    compute_host(cloud, "small", memory_mb=1024)
    compute_host(cloud, "big", memory_mb=8192)
    compute_host(cloud, "dead", memory_mb=65536, up=False)
    scheduler = SchedulerManager(cloud, "s")
    spec = {"vcpus": 1, "memory_mb": 512, "disk_gb": 1}
    picked = scheduler.select_destinations(ALICE, spec, num_alternates=5)
    assert [choice["host"] for choice in picked] == ["big", "small"]
    assert [c["host"] for c in scheduler.select_destinations(ALICE, spec, excluded_hosts=["big"])] == [
        "small"
    ]
    # 1.5 x 1024 MB of RAM on "small" cannot hold 2048 MB.
    too_big = {"vcpus": 1, "memory_mb": 2048, "disk_gb": 1}
    assert [c["host"] for c in scheduler.select_destinations(ALICE, too_big, num_alternates=5)] == ["big"]
    with pytest.raises(errors.NoValidHost):
        scheduler.select_destinations(ALICE, {"vcpus": 1, "memory_mb": 10**6, "disk_gb": 1})


def test_claims_stop_at_capacity_and_place_the_instance(cloud: Cloud) -> None:
    compute_host(cloud, "h1", memory_mb=1024)  # 1536 MB claimable
    first, second, third = (boot_record(cloud, flavor="1") for _ in range(3))
    wanted = Wanted(1, 512, 1)
    for uuid_ in (first, second, third):
        assert cloud.db.write(lambda s, u=uuid_: claim(s, u, "h1", "h1", wanted)) is Outcome.CLAIMED
    fourth = boot_record(cloud)
    assert cloud.db.write(lambda s: claim(s, fourth, "h1", "h1", wanted)) is not Outcome.CLAIMED
    assert load(cloud, fourth).host is None
    assert (node(cloud, "h1").memory_mb_used, node(cloud, "h1").running_vms) == (1536, 3)
    # Claiming an already placed instance again must not count it twice.
    assert cloud.db.write(lambda s: claim(s, first, "h1", "h1", Wanted(0, 0, 0))) is not Outcome.CLAIMED


def test_resource_tracker_recounts_usage_from_instances(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1")
    uuid_ = boot_record(cloud)
    cloud.db.write(lambda s: claim(s, uuid_, "h1", "h1", Wanted(1, 512, 1)))
    with cloud.db.writer() as session:
        session.execute(ComputeNode.__table__.update().values(memory_mb_used=9999, vcpus_used=99))
    manager.update_available_resource()
    assert (node(cloud, "h1").memory_mb_used, node(cloud, "h1").vcpus_used) == (512, 1)


def test_build_on_the_claimed_host_ends_active(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1")
    uuid_ = boot_record(cloud)
    cloud.db.write(lambda s: claim(s, uuid_, "h1", "h1", Wanted(1, 512, 1)))
    manager.build_and_run_instance(ALICE, uuid_, "secret")
    built = load(cloud, uuid_)
    assert (built.vm_state, built.task_state, built.power_state) == (states.ACTIVE, None, PowerState.RUNNING)
    assert built.launched_at is not None
    assert manager.driver.instance_exists(uuid_)


class CreateNotices:
    """The compute.instance.create.* notifications the bus delivers, in arrival order."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []

    def info(
        self, ctxt: Any, publisher_id: str, event_type: str, payload: dict[str, Any], metadata: Any
    ) -> None:
        if event_type.startswith("compute.instance.create."):
            self.received.append((event_type.rsplit(".", 1)[1], payload))

    error = info

    def wait_for(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        wait_until(lambda: len(self.received) >= count, what=f"{count} create notifications")
        return self.received


@pytest.fixture
def notices(cloud: Cloud) -> Iterator[CreateNotices]:
    received = CreateNotices()
    listener = NotificationListener(cloud.transport, [received], pool="test-build")
    listener.start()
    yield received
    listener.stop()
    listener.wait(5)


def build_event(cloud: Cloud, uuid_: str) -> tuple[str | None, InstanceActionEvent]:
    with cloud.db.reader() as session:
        record = get_action(session, uuid_, ALICE.request_id)
    [event] = record.events
    return record.action.message, event


def test_build_records_its_event_and_reports_its_start_and_end(cloud: Cloud, notices: CreateNotices) -> None:
    manager = compute_host(cloud, "h1")
    uuid_ = boot_record(cloud)
    cloud.db.write(lambda s: claim(s, uuid_, "h1", "h1", Wanted(1, 512, 1)))
    manager.build_and_run_instance(ALICE, uuid_, "secret")
    (start, started), (end, ended) = notices.wait_for(2)
    # Each payload is the row as the transaction that changed it left it.
    assert (start, started["state"], started["state_description"]) == (
        "start",
        states.BUILDING,
        states.SPAWNING,
    )
    assert (end, ended["state"], ended["state_description"]) == ("end", states.ACTIVE, "")
    assert (started["host"], ended["power_state"]) == ("h1", PowerState.RUNNING)
    assert ended["launched_at"] is not None and ended["instance_type"] == started["instance_type"] != ""
    message, event = build_event(cloud, uuid_)
    assert (event.event, event.host, event.result) == ("compute_build_and_run_instance", "h1", "Success")
    assert message is None
    assert event.finish_time is not None and event.finish_time >= event.start_time


def test_a_failed_spawn_records_its_event_as_error(cloud: Cloud, notices: CreateNotices) -> None:
    manager = compute_host(cloud, "h1")
    uuid_ = boot_record(cloud)
    cloud.db.write(lambda s: claim(s, uuid_, "h1", "h1", Wanted(1, 512, 1)))
    manager.driver.fail_next("spawn", RuntimeError("disk on fire"))
    manager.build_and_run_instance(ALICE, uuid_, "secret")
    (start, _), (error, failed) = notices.wait_for(2)
    assert (start, error) == ("start", "error") and "disk on fire" in failed["exception"]
    message, event = build_event(cloud, uuid_)
    assert (event.result, message) == ("Error", "Error") and "disk on fire" in (event.traceback or "")
    assert not manager.driver.instance_exists(uuid_)


def test_build_for_another_host_does_nothing(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1")
    compute_host(cloud, "h2")
    uuid_ = boot_record(cloud)
    cloud.db.write(lambda s: claim(s, uuid_, "h2", "h2", Wanted(1, 512, 1)))
    manager.build_and_run_instance(ALICE, uuid_)
    assert load(cloud, uuid_).task_state == states.SCHEDULING
    assert not manager.driver.instance_exists(uuid_)


def test_conductor_without_any_host_sets_error_with_a_fault(cloud: Cloud) -> None:
    scheduler = Service(cloud, SchedulerManager(cloud, "s"))
    scheduler.start()
    try:
        uuid_ = boot_record(cloud)
        ConductorManager(cloud, "c").build_instances(ALICE, [uuid_])
    finally:
        scheduler.stop()
    failed = load(cloud, uuid_)
    assert (failed.vm_state, failed.task_state) == (states.ERROR, None)
    with cloud.db.reader() as session:
        fault = instances.latest_faults(session, [uuid_])[uuid_]
    assert fault.code == 500 and fault.message.startswith("No valid host was found")


def test_conductor_gives_up_after_the_last_attempt(cloud: Cloud) -> None:
    uuid_ = boot_record(cloud)
    failure = {"message": "DriverError: disk on fire", "details": "trace"}
    ConductorManager(cloud, "c").build_instances(
        ALICE, [uuid_], attempt=2, alternates=[], failed_hosts=["h1"], last_failure=failure
    )
    assert load(cloud, uuid_).vm_state == states.ERROR
    with cloud.db.reader() as session:
        fault = session.scalars(select(InstanceFault).where(InstanceFault.instance_uuid == uuid_)).one()
    assert "Exceeded maximum number of retries" in fault.message and "disk on fire" in fault.message


def test_power_sync_stops_an_instance_whose_guest_crashed(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1")
    uuid_ = boot_record(cloud)
    cloud.db.write(lambda s: claim(s, uuid_, "h1", "h1", Wanted(1, 512, 1)))
    manager.build_and_run_instance(ALICE, uuid_)
    manager.driver.crash(uuid_)
    manager.sync_power_states()
    synced = load(cloud, uuid_)
    assert (synced.vm_state, synced.power_state) == (states.STOPPED, PowerState.CRASHED)


def test_init_host_reconciles_what_a_restart_left_behind(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1")
    interrupted, deleting = boot_record(cloud), boot_record(cloud)
    for uuid_ in (interrupted, deleting):
        cloud.db.write(lambda s, u=uuid_: claim(s, u, "h1", "h1", Wanted(1, 512, 1)))
    cloud.db.write(lambda s: instances.compare_and_swap(s, interrupted, (states.SCHEDULING,),
                                                        task_state=states.SPAWNING))  # fmt: skip
    cloud.db.write(lambda s: instances.compare_and_swap(s, deleting, states.ANY, task_state=states.DELETING))
    orphan = str(uuid.uuid4())
    manager.driver.spawn(ALICE, instances.InstanceSpec(
        uuid=orphan, name="x", hostname="x", vcpus=1, memory_mb=64, root_gb=1,
        image=instances.ImageRef(id=IMAGE_ID),
    ))  # fmt: skip
    manager.init_host()
    assert load(cloud, interrupted).vm_state == states.ERROR
    assert load(cloud, deleting).deleted
    assert not manager.driver.instance_exists(orphan)
    assert (node(cloud, "h1").memory_mb_used, node(cloud, "h1").running_vms) == (512, 1)


def test_terminate_releases_the_claim_and_the_quota(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1")
    uuid_ = boot_record(cloud)
    cloud.db.write(lambda s: claim(s, uuid_, "h1", "h1", Wanted(1, 512, 1)))
    manager.build_and_run_instance(ALICE, uuid_)
    cloud.db.write(lambda s: instances.compare_and_swap(s, uuid_, (None,), task_state=states.DELETING))
    manager.terminate_instance(ALICE, uuid_)
    assert load(cloud, uuid_).deleted and not manager.driver.instance_exists(uuid_)
    assert (node(cloud, "h1").memory_mb_used, node(cloud, "h1").running_vms) == (0, 0)
    with cloud.db.reader() as session:
        assert manager.compute_host.quotas.get_usage(session, "p1")["instances"] == 0
