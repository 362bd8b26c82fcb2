"""The scheduler against a real database: claims, races (threads and processes), multi-create, server
groups, GPU hosts, the explained 'No valid host', the dry run and the host cache's refresh."""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.compute import instances
from overcast.compute.api.server_groups import ServerGroupAPI
from overcast.compute.api.servers import ServerCreate
from overcast.compute.manager import ComputeManager
from overcast.conductor.manager import ConductorManager
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.compute import ComputeNode, Flavor, Instance
from overcast.db.models.service import ServiceRecord
from overcast.quota import QuotaEngine
from overcast.scheduler.core import Scheduler
from overcast.scheduler.explain import explain
from overcast.scheduler.manager import SchedulerManager
from overcast.service import Service
from overcast.virt.driver import Device
from overcast.virt.fake import FakeDriver
from tests.support.compute_service import compute_service
from tests.support.waiting import WAIT_SECONDS

IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"
ALICE = RequestContext(user_id="alice", project_id="p1", roles=("member", "reader"))
NOW = datetime(2026, 3, 1, tzinfo=UTC)
A100 = Device(kind="gpu", vendor_id="10de", product_id="20b5", model="A100", count=1)


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Cloud]:
    transport = get_transport(f"inproc://scheduler-{uuid.uuid4().hex}")
    settings = load_settings(data_dir=tmp_path, rpc_timeout=WAIT_SECONDS)
    with db.writer() as session:
        QuotaEngine().set_limits(session, "p1", {"instances": -1, "cores": -1, "ram": -1})
    yield Cloud(settings=settings, db=db, transport=transport, clock=lambda: NOW)
    transport.close()


def compute_host(cloud: Cloud, host: str, memory_mb: int = 4096, **hardware: Any) -> ComputeManager:
    """A compute host that reported its node (through its real resource tracker) and is up."""
    driver = FakeDriver(memory_mb=memory_mb, vcpus=hardware.pop("vcpus", 4), local_gb=20, **hardware)
    manager = ComputeManager(cloud, host, driver=driver)
    manager.driver.init_host(host)
    manager.resource_tracker.update_available_resource()
    with cloud.db.writer() as session:
        session.add(ServiceRecord(host=host, binary="overcast-compute", topic="compute", last_seen_up=NOW))
    return manager


def boot(cloud: Cloud, flavor: str = "1", count: int = 1, **fields: Any) -> list[str]:
    request = ServerCreate("vm", IMAGE_ID, flavor, min_count=count, max_count=count, **fields)
    return [instance.uuid for instance in compute_service(cloud).servers.create(ALICE, request).servers]


def placed_hosts(cloud: Cloud, uuids: list[str]) -> dict[str, str | None]:
    with cloud.db.reader() as session:
        rows = session.execute(select(Instance.uuid, Instance.host).where(Instance.uuid.in_(uuids)))
        return {row.uuid: row.host for row in rows}


def node_usage(cloud: Cloud) -> dict[str, tuple[int, int]]:
    with cloud.db.reader() as session:
        return {
            node.host: (node.memory_mb_used, node.running_vms)
            for node in session.scalars(select(ComputeNode))
        }


def scheduler_for(cloud: Cloud, **settings: Any) -> Scheduler:
    merged = cloud.settings.model_copy(
        update={"scheduler": cloud.settings.scheduler.model_copy(update=settings)}
    )
    return Scheduler(cloud.db, merged, cloud.clock, random.Random(1))


def test_the_loser_of_a_race_for_the_last_slot_gets_the_alternate(cloud: Cloud) -> None:
    compute_host(cloud, "roomy", memory_mb=680)  # 1.5 x 680 = 1020 MB claimable: one 512 MB instance
    compute_host(cloud, "tight", memory_mb=400)  # 600 MB claimable: one instance
    first, second = scheduler_for(cloud), scheduler_for(cloud)
    first.cache.refresh()
    second.cache.refresh()  # both caches now believe "roomy" has 1020 MB free
    one, two = boot(cloud), boot(cloud)
    assert first.place(one, num_alternates=1)[0].host == "roomy"
    placement = second.place(two, num_alternates=1)[0]
    assert placement.host == "tight"  # lost "roomy" in the database, took the alternate
    assert node_usage(cloud) == {"roomy": (512, 1), "tight": (512, 1)}
    with pytest.raises(errors.NoValidHost):
        first.place(boot(cloud))


def test_racing_threads_with_separate_caches_never_overcommit(cloud: Cloud) -> None:
    compute_host(cloud, "h1", memory_mb=2048)  # 3072 MB: six 512 MB instances
    compute_host(cloud, "h2", memory_mb=1024)  # 1536 MB: three
    uuids = [u for _ in range(16) for u in boot(cloud)]
    schedulers = [scheduler_for(cloud, host_subset_size=2) for _ in range(4)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(scheduler: Scheduler, share: list[str]) -> None:
        for instance_uuid in share:
            try:
                result = scheduler.place([instance_uuid], num_alternates=1)[0].host
            except errors.NoValidHost:
                result = "none"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=run, args=(s, uuids[i::4])) for i, s in enumerate(schedulers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == sorted(["h1"] * 6 + ["h2"] * 3 + ["none"] * 7)
    assert node_usage(cloud) == {"h1": (3072, 6), "h2": (1536, 3)}
    hosts = placed_hosts(cloud, uuids)
    assert (
        sum(host == "h1" for host in hosts.values()) == 6
        and sum(host is None for host in hosts.values()) == 7
    )


def _place_in_another_process(db_url: str, data_dir: str, uuids: list[str]) -> list[str]:
    db = Database(db_url)
    scheduler = Scheduler(db, load_settings(data_dir=Path(data_dir)), lambda: NOW, random.Random())
    won = []
    for instance_uuid in uuids:
        with contextlib.suppress(errors.NoValidHost):
            won += [p.host for p in scheduler.place([instance_uuid], num_alternates=1)]
    db.dispose()
    return won


def test_racing_scheduler_processes_never_overcommit(cloud: Cloud, db_url: str, tmp_path: Path) -> None:
    compute_host(cloud, "h1", memory_mb=1024)  # three instances
    compute_host(cloud, "h2", memory_mb=1024)  # three instances
    uuids = [u for _ in range(12) for u in boot(cloud)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        results = pool.starmap(
            _place_in_another_process, [(db_url, str(tmp_path), uuids[i::3]) for i in range(3)]
        )
    assert sorted(host for won in results for host in won) == ["h1"] * 3 + ["h2"] * 3
    assert node_usage(cloud) == {"h1": (1536, 3), "h2": (1536, 3)}


def test_multi_create_places_all_or_none(cloud: Cloud) -> None:
    compute_host(cloud, "h1", memory_mb=1024)  # 1536 MB claimable: three 512 MB instances
    compute_host(cloud, "h2", memory_mb=400)  # one
    scheduler = scheduler_for(cloud)
    too_many = boot(cloud, count=5)
    with pytest.raises(errors.NoValidHost, match="instance 5 of 5; none was placed"):
        scheduler.place(too_many)
    assert set(placed_hosts(cloud, too_many).values()) == {None}
    assert node_usage(cloud) == {"h1": (0, 0), "h2": (0, 0)}
    # The rolled-back attempt left no phantom usage in the cache either.
    fitting = boot(cloud, count=4)
    assert sorted(p.host for p in scheduler.place(fitting)) == ["h1", "h1", "h1", "h2"]


def test_anti_affinity_group_spreads_a_multi_create_across_hosts(cloud: Cloud) -> None:
    for name in ("a", "b", "c"):
        compute_host(cloud, name, memory_mb=8192)
    group = ServerGroupAPI(cloud.db, QuotaEngine()).create(
        ALICE, "spread", ["anti-affinity"], allow_soft=False
    )
    scheduler = scheduler_for(cloud)
    three = boot(cloud, count=3, scheduler_hints={"group": group.group.uuid})
    assert sorted(p.host for p in scheduler.place(three)) == ["a", "b", "c"]
    fourth = boot(cloud, scheduler_hints={"group": group.group.uuid})
    with pytest.raises(errors.NoValidHost, match="ServerGroupAntiAffinityFilter: 3 of 3 hosts rejected"):
        scheduler.place(fourth)
    # Affinity keeps a group together; different_host keeps away from the given instances.
    together = ServerGroupAPI(cloud.db, QuotaEngine()).create(ALICE, "pack", ["affinity"], allow_soft=False)
    pair = boot(cloud, count=2, scheduler_hints={"group": together.group.uuid})
    assert len({p.host for p in scheduler.place(pair)}) == 1
    away = boot(cloud, scheduler_hints={"different_host": three[:2]})
    assert scheduler.place(away)[0].host == placed_hosts(cloud, three)[three[2]]


def test_gpu_requests_land_only_on_gpu_hosts(cloud: Cloud) -> None:
    compute_host(cloud, "plain-big", memory_mb=65536, vcpus=64)
    # RAM for three instances, but one GPU: the second GPU instance finds no host.
    compute_host(cloud, "gpu", memory_mb=1024, devices=[A100], cpu_features=["avx2"])
    with cloud.db.writer() as session:
        session.add(Flavor(flavorid="g1", name="g1.small", vcpus=1, memory_mb=512, root_gb=1,
                           extra_specs={"resources:VGPU": "1"}))  # fmt: skip
        session.add(Flavor(flavorid="avx", name="avx512", vcpus=1, memory_mb=512, root_gb=1,
                           extra_specs={"trait:HW_CPU_X86_AVX512F": "required"}))  # fmt: skip
    scheduler = scheduler_for(cloud)
    assert scheduler.place(boot(cloud, flavor="g1"))[0].host == "gpu"
    assert scheduler.place(boot(cloud))[0].host == "plain-big"  # the RAM weigher would pick it anyway
    with pytest.raises(errors.NoValidHost) as full:
        scheduler.place(boot(cloud, flavor="g1"))
    assert "PciPassthroughFilter: 2 of 2 hosts rejected (need 1 GPU(s), best 0 free)" in full.value.message
    with pytest.raises(errors.NoValidHost) as no_avx512:
        scheduler.place(boot(cloud, flavor="avx"))
    assert "CpuTraitsFilter: 2 of 2 hosts rejected (required HW_CPU_X86_AVX512F)" in no_avx512.value.message


def test_no_valid_host_fault_explains_the_filters(cloud: Cloud) -> None:
    for number in range(5):
        compute_host(cloud, f"h{number}", memory_mb=2048)
    with cloud.db.writer() as session:
        session.add(Flavor(flavorid="big", name="big", vcpus=1, memory_mb=8192, root_gb=1))
    service = Service(cloud, SchedulerManager(cloud, "s"))
    service.start()
    try:
        instance_uuid = boot(cloud, flavor="big")[0]
        ConductorManager(cloud, "c").build_instances(ALICE, [instance_uuid])
    finally:
        service.stop()
    with cloud.db.reader() as session:
        fault = instances.latest_faults(session, [instance_uuid])[instance_uuid]
    expected = "RamFilter: 5 of 5 hosts rejected (need 8192 MB, best 3072 MB free)"
    assert fault.message == f"No valid host was found. {expected}"
    assert expected in fault.details
    report = explain(cloud, "big", IMAGE_ID)
    assert expected in report and "No valid host was found." in report
    fits = explain(cloud, "m1.tiny", IMAGE_ID, show=2)
    assert "5 hosts pass; best first:" in fits and fits.count("  h") == 2


def test_cache_follows_resource_reports_and_other_schedulers_claims(cloud: Cloud) -> None:
    manager = compute_host(cloud, "h1", memory_mb=1024)
    watcher, other = scheduler_for(cloud, host_state_refresh_interval=0.0), scheduler_for(cloud)
    watcher.cache.refresh()
    other.place(boot(cloud))  # claimed by another scheduler: bumps the node's updated_at
    manager.driver.config.memory_mb = 4096  # the host grew; its next report says so
    manager.resource_tracker.update_available_resource()
    watcher.cache.ensure_fresh()
    state = watcher.cache.table.hosts[watcher.cache.table.index_of[("h1", "h1")]]
    assert (state.memory_mb, state.memory_mb_used) == (4096, 512)
    with cloud.db.writer() as session:
        session.execute(ServiceRecord.__table__.update().values(disabled=True))
    with pytest.raises(errors.NoValidHost, match="ComputeFilter: 1 of 1 hosts rejected"):
        watcher.place(boot(cloud))
    placed = {row.uuid: row.host for row in instances_of(cloud)}
    assert list(placed.values()).count("h1") == 1


def instances_of(cloud: Cloud) -> list[Any]:
    with cloud.db.reader() as session:
        return list(session.execute(select(Instance.uuid, Instance.host).where(Instance.deleted.is_(False))))


def test_fake_driver_reports_cpu_and_devices_to_the_node_row(cloud: Cloud) -> None:
    compute_host(cloud, "gpu", cpu_arch="aarch64", cpu_features=["aes"], devices=[A100])
    with cloud.db.reader() as session:
        node = session.scalars(select(ComputeNode)).one()
    assert node.cpu_info["arch"] == "aarch64" and node.cpu_info["features"] == ["aes"]
    assert node.devices == [{"kind": "gpu", "vendor_id": "10de", "product_id": "20b5", "model": "A100",
                             "count": 1, "used": 0}]  # fmt: skip


def test_a_host_that_appears_after_the_cache_loaded_is_found(cloud: Cloud) -> None:
    scheduler = scheduler_for(cloud, host_state_refresh_interval=3600.0)
    scheduler.cache.refresh()  # no hosts yet
    compute_host(cloud, "late")
    time.sleep(0.6)  # older than FRESH_ENOUGH: a failing request refreshes and looks again
    assert scheduler.place(boot(cloud))[0].host == "late"
