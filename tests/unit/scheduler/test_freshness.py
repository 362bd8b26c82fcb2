"""Every scheduler's host cache hears about operator changes at once: the fanout notice and the stale mark."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.compute.api.hosts import HostAPI
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.compute import ComputeNode
from overcast.db.models.service import ServiceRecord
from overcast.scheduler.manager import SchedulerManager
from overcast.scheduler.rpcapi import notify_host_states_changed
from overcast.service import Service

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Cloud]:
    transport = get_transport(f"inproc://freshness-{uuid.uuid4().hex}")
    settings = load_settings(data_dir=tmp_path, scheduler={"host_state_refresh_interval": 3600.0})
    yield Cloud(settings=settings, db=db, transport=transport, clock=lambda: NOW)
    transport.close()


def add_compute_host(db: Database, host: str) -> None:
    with db.writer() as session:
        session.add(ServiceRecord(host=host, binary="overcast-compute", topic="compute", last_seen_up=NOW))
        session.add(ComputeNode(
            host=host, hypervisor_hostname=host, hypervisor_type="fake", hypervisor_version=1, cpu_info={},
            devices=[], vcpus=4, memory_mb=4096, local_gb=40, vcpus_used=0, memory_mb_used=0, local_gb_used=0,
            running_vms=0, cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0, disk_allocation_ratio=1.0,
        ))  # fmt: skip


def disabled_hosts(manager: SchedulerManager) -> set[str]:
    manager.scheduler.cache.ensure_fresh()
    return {state.host for state in manager.scheduler.cache.table.hosts if state.disabled}


def test_a_disabled_service_reaches_every_scheduler_through_the_fanout(cloud: Cloud) -> None:
    add_compute_host(cloud.db, "h1")
    schedulers = [SchedulerManager(cloud, f"scheduler-{n}") for n in (1, 2)]
    services = [Service(cloud, manager) for manager in schedulers]
    for service in services:
        service.start()
    try:
        assert [disabled_hosts(manager) for manager in schedulers] == [set(), set()]
        HostAPI(cloud.db, cloud.clock, 60.0).set_disabled("h1", "overcast-compute", True)
        # Without a notice the hour-long refresh interval keeps the old view.
        assert [disabled_hosts(manager) for manager in schedulers] == [set(), set()]
        notify_host_states_changed(cloud.transport)
        deadline = time.monotonic() + 30
        while [disabled_hosts(manager) for manager in schedulers] != [{"h1"}, {"h1"}]:  # casts are async
            assert time.monotonic() < deadline, "the notice did not reach every scheduler"
            time.sleep(0.01)
    finally:
        for service in services:
            service.stop()


def test_a_host_api_change_sends_the_notice_after_it_is_saved(cloud: Cloud) -> None:
    add_compute_host(cloud.db, "h1")
    manager = SchedulerManager(cloud, "scheduler-1")
    assert disabled_hosts(manager) == set()

    def notice() -> None:  # what the API's notice does once it arrives, here in the caller's thread
        assert disabled_hosts(manager) == set()  # the cache has not been told yet
        manager.host_states_changed(RequestContext.admin())

    HostAPI(cloud.db, cloud.clock, 60.0, on_change=notice).set_disabled("h1", "overcast-compute", True)
    assert disabled_hosts(manager) == {"h1"}
