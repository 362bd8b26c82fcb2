"""Server actions below the HTTP layer: compare-and-swap guards, action events, metadata rules, soft
delete, resize bookkeeping, and builds whose compute service dies."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.compute import instance_actions, states
from overcast.compute.api.server_metadata import check_metadata
from overcast.compute.api.servers import ServerCreate
from overcast.compute.manager import ComputeManager
from overcast.compute.rpcapi import ComputeAPI
from overcast.conductor.manager import ConductorManager
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.compute import Instance, InstanceFault
from overcast.db.models.service import ServiceRecord
from overcast.placement.claims import Outcome, Wanted, claim
from overcast.scheduler.manager import SchedulerManager
from overcast.service import Service
from overcast.virt.driver import DriverError, PowerState
from overcast.virt.fake import FakeDriver
from tests.support.compute_service import compute_service
from tests.support.waiting import WAIT_SECONDS, wait_until

IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"
ALICE = RequestContext(user_id="alice", project_id="p1", roles=("member", "reader"))
START = datetime(2026, 3, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cloud(db: Database, tmp_path: Path, clock: Clock) -> Iterator[Cloud]:
    transport = get_transport(f"inproc://compute-actions-{uuid.uuid4().hex}")
    settings = load_settings(data_dir=tmp_path, rpc_timeout=WAIT_SECONDS, service_down_time=60.0)
    yield Cloud(settings=settings, db=db, transport=transport, clock=clock)
    transport.close()


def placed_instance(cloud: Cloud, manager: ComputeManager) -> str:
    """An instance claimed on the manager's host and built there (ACTIVE)."""
    uuid_ = compute_service(cloud).servers.create(ALICE, ServerCreate("vm", IMAGE_ID, "1")).servers[0].uuid
    assert (
        cloud.db.write(lambda s: claim(s, uuid_, manager.host, manager.host, Wanted(1, 512, 1)))
        is Outcome.CLAIMED
    )
    manager.build_and_run_instance(ALICE, uuid_)
    return uuid_


def compute_host(
    cloud: Cloud, host: str, *, spawn_delay: float = 0.0, sleep: Callable[[float], None] = time.sleep
) -> ComputeManager:
    driver = FakeDriver(memory_mb=4096, vcpus=2, local_gb=20, spawn_delay=spawn_delay, sleep=sleep)
    manager = ComputeManager(cloud, host, driver=driver)
    manager.driver.init_host(host)
    manager.resource_tracker.update_available_resource()
    with cloud.db.writer() as session:
        session.add(ServiceRecord(host=host, binary="overcast-compute", topic="compute", last_seen_up=START))
    return manager


def fake(manager: ComputeManager) -> FakeDriver:
    assert isinstance(manager.driver, FakeDriver)
    return manager.driver


def load(cloud: Cloud, uuid_: str) -> Instance:
    with cloud.db.reader() as session:
        return session.scalars(select(Instance).where(Instance.uuid == uuid_)).one()


def faults(cloud: Cloud, uuid_: str) -> list[str]:
    with cloud.db.reader() as session:
        return [
            f.message
            for f in session.scalars(select(InstanceFault).where(InstanceFault.instance_uuid == uuid_))
        ]


def test_a_second_action_cannot_start_while_the_first_runs(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1")
    uuid_ = placed_instance(cloud, manager)
    actions = compute_service(cloud).actions
    actions._start(ALICE, uuid_, "stop", instance_actions.STOP)  # started; its cast never sent
    with pytest.raises(
        errors.Conflict, match=f"Cannot 'reboot' instance {uuid_} while it is in task_state powering-off"
    ):
        actions.reboot(ALICE, uuid_, "SOFT")
    # The compute side finishes what the API started, and records its event under the same request.
    manager.power_actions.stop_instance(ALICE, uuid_)
    stopped = load(cloud, uuid_)
    assert (stopped.vm_state, stopped.task_state, stopped.power_state) == (
        states.STOPPED,
        None,
        PowerState.SHUTDOWN,
    )
    with cloud.db.reader() as session:
        record = instance_actions.get_action(session, uuid_, ALICE.request_id)
    assert record.action.action == "stop"
    assert [(e.event, e.result, e.host) for e in record.events] == [
        ("compute_stop_instance", "Success", "h1")
    ]


def test_a_failing_driver_call_clears_the_task_and_records_the_error(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1")
    uuid_ = placed_instance(cloud, manager)
    ctxt = RequestContext(user_id="alice", project_id="p1", roles=("member",))
    compute_service(cloud).actions._start(ctxt, uuid_, "pause", instance_actions.PAUSE)
    fake(manager).fail_next("pause", DriverError("qemu refused"))
    manager.power_actions.pause_instance(ctxt, uuid_)
    instance = load(cloud, uuid_)
    assert (instance.vm_state, instance.task_state) == (states.ACTIVE, None)
    assert any("qemu refused" in message for message in faults(cloud, uuid_))
    with cloud.db.reader() as session:
        record = instance_actions.get_action(session, uuid_, ctxt.request_id)
    assert record.action.message == "Error"
    assert record.events[0].result == "Error" and "qemu refused" in (record.events[0].traceback or "")


def test_locked_instances_refuse_members_not_admins(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1")
    uuid_ = placed_instance(cloud, manager)
    actions = compute_service(cloud).actions
    actions.lock(ALICE, uuid_)
    with pytest.raises(errors.Conflict, match=f"Instance {uuid_} is locked"):
        actions.stop(ALICE, uuid_)
    with pytest.raises(errors.Conflict, match="is locked"):
        compute_service(cloud).metadata.update(ALICE, uuid_, {"k": "v"})
    actions._start(RequestContext.admin(), uuid_, "stop", instance_actions.STOP)
    assert load(cloud, uuid_).task_state == states.POWERING_OFF


@pytest.mark.parametrize(
    ("metadata", "ok"),
    [({"a-b_c:d. e": "x" * 255}, True), ({"": "x"}, False), ({"a/b": "x"}, False), ({"k" * 256: "x"}, False),
     ({"k": "x" * 256}, False), ({"k": 1}, False)],
)  # fmt: skip
def test_metadata_keys_and_values_follow_novas_rules(metadata: dict[str, object], ok: bool) -> None:
    if ok:
        check_metadata(metadata)
    else:
        with pytest.raises(errors.BadRequest):
            check_metadata(metadata)


def test_resize_without_a_destination_clears_the_task_and_gives_quota_back(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1")
    uuid_ = placed_instance(cloud, manager)
    services = [Service(cloud, SchedulerManager(cloud, "s")), Service(cloud, ConductorManager(cloud, "c"))]
    for service in services:
        service.start()
    try:
        compute = compute_service(cloud)
        with cloud.db.reader() as session:
            before = compute.quotas.get_usage(session, "p1")
        compute.actions.resize(ALICE, uuid_, "5")  # m1.xlarge: 16 GB, no node is that big
        wait_until(lambda: load(cloud, uuid_).task_state is None, 60, interval=0.01)
        instance = load(cloud, uuid_)
        assert (instance.vm_state, instance.flavor_id) == (states.ACTIVE, "1")
        assert any("No valid host" in message for message in faults(cloud, uuid_))
        with cloud.db.reader() as session:
            assert compute.quotas.get_usage(session, "p1") == before
    finally:
        for service in reversed(services):
            service.stop()


def test_soft_deleted_instances_are_reclaimed_after_the_interval(cloud: Cloud, clock: Clock) -> None:
    cloud.settings.reclaim_instance_interval = 600
    manager = compute_host(cloud, "h1")
    uuid_ = placed_instance(cloud, manager)
    actions = compute_service(cloud).actions
    actions._start(
        ALICE,
        uuid_,
        "soft_delete",
        instance_actions.DELETE,
        prepare=lambda s, i, t: {"deleted_at": clock.now},
    )
    manager.power_actions.soft_delete_instance(ALICE, uuid_)
    assert load(cloud, uuid_).vm_state == states.SOFT_DELETED
    manager.reclaim_queued_deletes()
    assert not load(cloud, uuid_).deleted
    clock.now += timedelta(seconds=601)
    manager.reclaim_queued_deletes()
    assert load(cloud, uuid_).deleted and not manager.driver.instance_exists(uuid_)
    with cloud.db.reader() as session:
        assert compute_service(cloud).quotas.get_usage(session, "p1")["instances"] == 0


def test_compute_killed_mid_build_leaves_error_never_build(cloud: Cloud, clock: Clock) -> None:
    release = threading.Event()

    def hang(seconds: float) -> None:
        release.wait(WAIT_SECONDS)

    manager = compute_host(cloud, "h1", spawn_delay=1.0, sleep=hang)
    compute = Service(cloud, manager, report_interval=3600)
    compute.start()
    uuid_ = compute_service(cloud).servers.create(ALICE, ServerCreate("vm", IMAGE_ID, "1")).servers[0].uuid
    cloud.db.write(lambda s: claim(s, uuid_, "h1", "h1", Wanted(1, 512, 1)))
    ComputeAPI(cloud.transport).build_and_run_instance(ALICE, "h1", uuid_)
    wait_until(lambda: load(cloud, uuid_).task_state == states.SPAWNING, 60, interval=0.01)
    compute.stop(timeout=0.1)  # the service is gone: no heartbeats, its spawn hangs
    conductor = ConductorManager(cloud, "c")
    assert conductor.fail_builds_on_dead_hosts() == []  # not down for service_down_time yet
    clock.now += timedelta(seconds=61)
    assert conductor.fail_builds_on_dead_hosts() == [uuid_]
    failed = load(cloud, uuid_)
    assert (failed.vm_state, failed.task_state) == (states.ERROR, None)
    assert faults(cloud, uuid_) == ["Build was interrupted: the compute service on h1 is down."]
    release.set()  # the hung spawn finishes after all: its VM is removed, the ERROR stays
    wait_until(lambda: not manager.driver.instance_exists(uuid_), 60, interval=0.01)
    assert load(cloud, uuid_).vm_state == states.ERROR


def test_compute_restarted_mid_build_sets_error_on_start(cloud: Cloud) -> None:
    release = threading.Event()

    def hang(seconds: float) -> None:
        release.wait(WAIT_SECONDS)

    manager = compute_host(cloud, "h1", spawn_delay=1.0, sleep=hang)
    compute = Service(cloud, manager, report_interval=3600)
    compute.start()
    uuid_ = compute_service(cloud).servers.create(ALICE, ServerCreate("vm", IMAGE_ID, "1")).servers[0].uuid
    cloud.db.write(lambda s: claim(s, uuid_, "h1", "h1", Wanted(1, 512, 1)))
    ComputeAPI(cloud.transport).build_and_run_instance(ALICE, "h1", uuid_)
    wait_until(lambda: load(cloud, uuid_).task_state == states.SPAWNING, 60, interval=0.01)
    compute.stop(timeout=0.1)
    restarted = Service(
        cloud, ComputeManager(cloud, "h1", driver=FakeDriver(memory_mb=4096)), report_interval=3600
    )
    restarted.start()
    try:
        failed = load(cloud, uuid_)
        assert (failed.vm_state, failed.task_state) == (states.ERROR, None)
        assert any("interrupted by a restart" in message for message in faults(cloud, uuid_))
    finally:
        release.set()
        restarted.stop()
