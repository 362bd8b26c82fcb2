"""Servers stuck in BUILD after a crash (issue #12, defect 6).

Every accepted build must end ACTIVE or ERROR with a fault. Killing the conductor between placement and
the build message left servers placed on a healthy host in BUILD for good; killing the all-in-one left
servers with no host. The conductor now fails builds that showed no progress for build_stall_timeout
(on any host, or none), and on start-up the builds it had taken and not handed on; a compute host marks
a long spawn's progress, so a slow build is never taken for a lost one. Time moves by an injected clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from overcast.compute import states
from overcast.compute.manager import ComputeManager
from overcast.conductor.manager import ConductorManager
from overcast.db.models.compute import Instance
from overcast.scheduler.manager import SchedulerManager
from overcast.service import Service
from overcast.virt.fake import FakeDriver
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.waiting import WAIT_SECONDS


class MovableClock:
    """Wall-clock time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class SpawnGate:
    """The fake driver's sleep during spawn: a spawn that takes as long as the test wants."""

    def __init__(self) -> None:
        self.opened = threading.Event()

    def __call__(self, seconds: float) -> None:
        assert self.opened.wait(60), "the test never let the spawn finish"


def server_gone(conn: Connection, uuid: str) -> bool:
    try:
        conn.compute.get_server(uuid)
    except sdk_exceptions.NotFoundException:
        return True
    return False


@pytest.fixture
def make_cloud(tmp_path: Path) -> Iterator[Callable[..., tuple[InProcessCloud, MovableClock]]]:
    running: list[InProcessCloud] = []

    def make(**settings: Any) -> tuple[InProcessCloud, MovableClock]:
        # service_down_time: the hosts stay up however far the clock moves (this is not the dead-host sweep).
        settings = {"compute_hosts": ("compute-1",), "service_down_time": 86400.0, **settings}
        cloud = InProcessCloud(tmp_path / f"cloud-{len(running)}", **settings)
        running.append(cloud)
        clock = MovableClock()
        cloud.cloud.clock = clock
        return cloud, clock

    yield make
    for cloud in running:
        cloud.stop()


def service_of(cloud: InProcessCloud, host: str) -> Service:
    return next(service for service in cloud.services if service.host == host)


def replace_service(cloud: InProcessCloud, old: Service, manager: Any) -> Service:
    """Start `manager` as a new process would (init_host first), in `old`'s place."""
    new = Service(cloud.cloud, manager)
    cloud.services[cloud.services.index(old)] = new
    new.start()
    return new


def instance(cloud: InProcessCloud, uuid: str) -> Instance:
    with cloud.cloud.db.reader() as session:
        found = session.query(Instance).filter(Instance.uuid == uuid).one()
        session.expunge(found)
        return found


def wait_for(condition: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def boot(demo: Connection) -> str:
    server = demo.compute.create_server(name="stuck", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    return str(server.id)


def shown(demo: Connection, uuid: str) -> dict[str, Any]:
    response = demo.compute.get(f"/servers/{uuid}", microversion="2.62")
    assert response.status_code == 200, response.text
    return dict(response.json()["server"])


def usage(admin: Connection, project_id: str | None) -> tuple[int, int]:
    """(instances the project holds in quota, vCPUs claimed on compute-1)."""
    limits = admin.compute.get(f"/limits?tenant_id={project_id}").json()["limits"]["absolute"]
    hypervisor = admin.compute.get("/os-hypervisors/detail").json()["hypervisors"][0]
    return limits["totalInstancesUsed"], hypervisor["vcpus_used"]


def conductor(cloud: InProcessCloud) -> ConductorManager:
    manager = service_of(cloud, "conductor-1").manager
    assert isinstance(manager, ConductorManager)
    return manager


def test_a_build_whose_message_was_lost_goes_to_error_after_the_timeout(
    make_cloud: Callable[..., tuple[InProcessCloud, MovableClock]],
) -> None:
    cloud, clock = make_cloud(build_stall_timeout=60.0)
    demo, admin = cloud.connect("demo"), cloud.connect("admin")
    # compute-1 stays up in the services table but takes no messages: the build cast to it waits unread,
    # as one sent into a crash does.
    compute = service_of(cloud, "compute-1")
    compute.stop()
    uuid = boot(demo)
    wait_for(lambda: instance(cloud, uuid).host == "compute-1", "the build to be placed")
    assert instance(cloud, uuid).task_state == states.SCHEDULING
    assert usage(admin, demo.current_project_id) == (1, 1)

    clock.advance(59)
    assert conductor(cloud).fail_stalled_builds() == []
    assert shown(demo, uuid)["status"] == "BUILD"

    clock.advance(2)
    assert conductor(cloud).fail_stalled_builds() == [uuid]
    server = shown(demo, uuid)
    assert server["status"] == "ERROR"
    assert "did not progress for 60 seconds (on compute-1" in server["fault"]["message"]
    assert conductor(cloud).fail_stalled_builds() == []  # one fault, once

    # The message arrives after all: the build it asks for lost the race and leaves no VM behind.
    driver = cloud.drivers["compute-1"]
    replace_service(cloud, compute, ComputeManager(cloud.cloud, "compute-1", driver=driver))
    time.sleep(0.5)
    assert shown(demo, uuid)["status"] == "ERROR"
    assert uuid not in driver.list_instance_uuids()

    # As after any failed build, deleting the server gives its claim and quota back.
    demo.compute.delete_server(uuid)
    wait_for(lambda: server_gone(demo, uuid), "the delete")
    assert usage(admin, demo.current_project_id) == (0, 0)


def test_a_build_nobody_placed_is_swept_too(
    make_cloud: Callable[..., tuple[InProcessCloud, MovableClock]],
) -> None:
    cloud, clock = make_cloud(build_stall_timeout=60.0)
    demo = cloud.connect("demo")
    # No conductor takes the request (a killed all-in-one drops it with the process).
    service_of(cloud, "conductor-1").stop()
    uuid = boot(demo)
    sweeper = ConductorManager(cloud.cloud, "conductor-2")
    assert sweeper.fail_stalled_builds() == []
    clock.advance(61)
    assert sweeper.fail_stalled_builds() == [uuid]
    server = shown(demo, uuid)
    assert server["status"] == "ERROR" and "before it was placed" in server["fault"]["message"]


def test_a_restarted_conductor_fails_the_builds_it_had_taken(
    make_cloud: Callable[..., tuple[InProcessCloud, MovableClock]],
) -> None:
    # No stall sweep here: only the restart may fail the build.
    cloud, _ = make_cloud(build_stall_timeout=86400.0, rpc_timeout=60.0)
    demo = cloud.connect("demo")
    # The scheduler does not answer, so the conductor holds the build in its scheduling call ...
    scheduler = service_of(cloud, "scheduler-1")
    scheduler.stop()
    uuid = boot(demo)
    wait_for(lambda: instance(cloud, uuid).build_conductor == "conductor-1", "the conductor to take it")
    # ... when it dies (its handler thread is abandoned, as a killed process's would be) and comes back.
    old = service_of(cloud, "conductor-1")
    old.stop(timeout=0.1)
    started = time.monotonic()
    replace_service(cloud, old, ConductorManager(cloud.cloud, "conductor-1"))
    server = shown(demo, uuid)
    assert server["status"] == "ERROR", server["status"]
    assert "interrupted by a restart of the conductor on conductor-1" in server["fault"]["message"]
    assert time.monotonic() - started < 30  # at the restart, not after the 60 s RPC timeout

    # The scheduler's late answer to the dead conductor changes nothing; new builds go through.
    replace_service(cloud, scheduler, SchedulerManager(cloud.cloud, "scheduler-1"))
    fresh = boot(demo)
    wait_for(lambda: shown(demo, fresh)["status"] == "ACTIVE", "a new build")
    assert shown(demo, uuid)["status"] == "ERROR"
    assert instance(cloud, uuid).host is None


def spawning_build(
    make_cloud: Callable[..., tuple[InProcessCloud, MovableClock]], build_stall_timeout: float
) -> tuple[InProcessCloud, MovableClock, Connection, str, SpawnGate, FakeDriver]:
    """A cloud whose one compute host holds a new build in its spawn until the gate opens."""
    gate = SpawnGate()
    driver = FakeDriver(spawn_delay=1.0, sleep=gate)
    cloud, clock = make_cloud(build_stall_timeout=build_stall_timeout, drivers={"compute-1": driver})
    demo = cloud.connect("demo")
    uuid = boot(demo)
    wait_for(lambda: instance(cloud, uuid).task_state == states.SPAWNING, "the spawn to start")
    return cloud, clock, demo, uuid, gate, driver


def test_a_slow_build_that_shows_progress_is_not_swept(
    make_cloud: Callable[..., tuple[InProcessCloud, MovableClock]],
) -> None:
    # A 10 s stall timeout: the compute host marks progress every 2 s, and the sweep below runs long before
    # the latest mark is 10 s old, however loaded the machine.
    cloud, clock, demo, uuid, gate, _ = spawning_build(make_cloud, build_stall_timeout=10.0)
    try:
        clock.advance(3600)
        beat = clock()
        wait_for(lambda: (instance(cloud, uuid).build_progress_at or beat) > beat, "a heartbeat")
        assert conductor(cloud).fail_stalled_builds() == []
        assert shown(demo, uuid)["status"] == "BUILD"
    finally:
        gate.opened.set()
    wait_for(lambda: shown(demo, uuid)["status"] == "ACTIVE", "the slow build to finish")


def test_a_spawn_that_finishes_after_it_was_declared_stalled_loses_cleanly(
    make_cloud: Callable[..., tuple[InProcessCloud, MovableClock]],
) -> None:
    # Heartbeats every 12 s: the clock jumps past the timeout before the first one.
    cloud, clock, demo, uuid, gate, driver = spawning_build(make_cloud, build_stall_timeout=60.0)
    try:
        clock.advance(61)
        assert conductor(cloud).fail_stalled_builds() == [uuid]
    finally:
        gate.opened.set()
    # The spawn completes, but the instance is no longer its to finish: the VM goes, the ERROR stays.
    wait_for(lambda: uuid not in driver.list_instance_uuids(), "the late VM to be destroyed")
    server = shown(demo, uuid)
    assert server["status"] == "ERROR" and "task state spawning" in server["fault"]["message"]


def test_a_build_queued_behind_slow_spawns_on_its_host_is_not_swept(
    make_cloud: Callable[..., tuple[InProcessCloud, MovableClock]],
) -> None:
    gate = SpawnGate()
    driver = FakeDriver(spawn_delay=1.0, sleep=gate)
    cloud, clock = make_cloud(build_stall_timeout=10.0, drivers={"compute-1": driver})  # marks every 2 s
    demo = cloud.connect("demo")
    demo.compute.create_server(name="queued", image_id=IMAGE_ID, flavor_id=TINY, networks="none",
                               min_count=9, max_count=9)  # fmt: skip

    def tasks() -> list[str]:
        with cloud.cloud.db.reader() as session:
            rows = session.query(Instance).filter(Instance.deleted.is_(False)).all()
            return sorted(str(row.task_state) for row in rows if row.host == "compute-1")

    # compute-1's eight workers all spawn; the ninth build's message waits in its queue, unstarted.
    wait_for(lambda: tasks() == [states.SCHEDULING] + [states.SPAWNING] * 8, "eight spawns and one queued")
    try:
        clock.advance(3600)
        beat = clock()

        def beaten() -> list[bool]:
            with cloud.cloud.db.reader() as session:
                return [(row.build_progress_at or beat) > beat for row in session.query(Instance)]

        wait_for(lambda: beaten().count(True) == 8, "a heartbeat from each spawn")
        assert conductor(cloud).fail_stalled_builds() == []
    finally:
        gate.opened.set()
    wait_for(lambda: [server.status for server in demo.compute.servers()] == ["ACTIVE"] * 9, "all nine")
