"""Passthrough devices are counted: the pool arithmetic, claims that take the last GPU atomically (also
when threads race for it), releases that give back what was taken, the resource tracker's recount and
the scheduler's cache."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.db import Database
from overcast.db.models.compute import ComputeNode, Flavor, Instance
from overcast.placement import claims
from overcast.placement.claims import Resources, release
from overcast.placement.devices import (
    VGPU_KEY,
    DeviceWant,
    Pool,
    assign,
    held_from_json,
    held_json,
    requested,
    used_after,
)
from overcast.placement.resources import Wanted
from overcast.quota import QuotaEngine
from overcast.scheduler.host_state import Capabilities, DeviceInfo, HostState, HostStateTable
from overcast.scheduler.request_spec import RequestSpec
from overcast.scheduler.selector import HostSelector
from overcast.virt.driver import Device
from tests.support.waiting import WAIT_SECONDS
from tests.unit.placement.test_claims import NOW, boot, compute_host, scheduler_for

A100 = Device(kind="gpu", vendor_id="10de", product_id="20b5", model="A100", count=1)
A100_KEY = ("gpu", "10de", "20b5", "A100")
T4_KEY = ("gpu", "10de", "1eb8", "T4")
NIC_KEY = ("pci", "8086", "1572", "X710")
ALIASES = {"a100": {"vendor_id": "10de", "product_id": "20b5"}, "x710": {"product_id": "1572"},
           "t4": {"model": "t4", "device_type": "gpu"}}  # fmt: skip
ONE_GPU = {VGPU_KEY: "1"}


# --- the arithmetic -------------------------------------------------------------------------------
def test_extra_specs_become_device_wants() -> None:
    wants = requested({"pci_passthrough:alias": "a100:2, x710", VGPU_KEY: "1"}, ALIASES)
    assert [(want.name, want.count) for want in wants] == [("a100", 2), ("x710", 1), (VGPU_KEY, 1)]
    assert wants[0].matches(A100_KEY) and not wants[0].matches(T4_KEY)
    assert wants[2].matches(T4_KEY) and not wants[2].matches(NIC_KEY)  # a VGPU is any GPU
    assert requested({"pci_passthrough:alias": "t4"}, ALIASES)[0].matches(T4_KEY)  # case-insensitive
    assert requested({"pci_passthrough:alias": "h100:1"}, ALIASES)[0].match is None
    assert requested({"hw:cpu_policy": "dedicated", VGPU_KEY: "0"}, ALIASES) == ()


def test_assign_takes_free_devices_only() -> None:
    one_gpu = requested(ONE_GPU, ALIASES)
    assert assign([Pool(A100_KEY, 1)], one_gpu) == ((A100_KEY, 1),)
    assert assign([Pool(A100_KEY, 1, used=1)], one_gpu) is None
    assert assign([Pool(A100_KEY, 1, used=1), Pool(T4_KEY, 2, used=1)], one_gpu) == ((T4_KEY, 1),)
    two = requested({VGPU_KEY: "2"}, ALIASES)
    assert assign([Pool(A100_KEY, 1), Pool(T4_KEY, 1)], two) == ((T4_KEY, 1), (A100_KEY, 1))  # sorted
    assert assign([Pool(NIC_KEY, 4)], one_gpu) is None
    assert assign([Pool(A100_KEY, 4)], (DeviceWant("h100", 1, None),)) is None  # unknown alias
    assert assign([], ()) == ()


def test_overlapping_wants_leave_the_specific_pool_to_the_specific_want() -> None:
    # Any GPU, and an A100: the A100 must not go to the any-GPU want while a T4 is free.
    wants = requested({"pci_passthrough:alias": "a100", VGPU_KEY: "1"}, ALIASES)
    held = assign([Pool(A100_KEY, 1), Pool(T4_KEY, 1)], wants)
    assert held == ((T4_KEY, 1), (A100_KEY, 1))
    assert assign([Pool(A100_KEY, 1), Pool(T4_KEY, 1, used=1)], wants) is None


def test_taking_and_giving_back_never_goes_below_zero() -> None:
    pools = [Pool(A100_KEY, 2, used=1), Pool(NIC_KEY, 4)]
    assert used_after(pools, ((A100_KEY, 1), (NIC_KEY, 2)), 1) == {A100_KEY: 2, NIC_KEY: 2}
    assert used_after(pools, ((A100_KEY, 3),), -1) == {A100_KEY: 0, NIC_KEY: 0}
    assert used_after(pools, ((T4_KEY, 1),), 1) == {A100_KEY: 1, NIC_KEY: 0}  # a pool that went away
    held = ((A100_KEY, 1), (NIC_KEY, 2))
    assert held_from_json(held_json(held)) == held
    assert held_json(((A100_KEY, 1),)) == [
        {"kind": "gpu", "vendor_id": "10de", "product_id": "20b5", "model": "A100", "count": 1}
    ]


def test_the_filter_counts_free_devices_and_the_table_follows_claims() -> None:
    caps = Capabilities(devices=(DeviceInfo("gpu", "10de", "20b5", "A100", 1),))
    table = HostStateTable()
    for name in ("g1", "g2"):
        table.upsert(
            HostState(name, name, caps, vcpus=8, memory_mb=8192, local_gb=100, last_seen_up=NOW.timestamp())
        )
    selector = HostSelector(load_settings().scheduler.model_copy(update={"pci_aliases": ALIASES}))
    wanted = Wanted(1, 512, 1, requested(ONE_GPU, ALIASES))
    spec = RequestSpec(wanted=wanted, flavor_extra_specs=ONE_GPU)

    def hosts() -> list[str]:
        return sorted(
            table.hosts[i].host for i in selector.select(table, spec, NOW.timestamp(), 60.0, 5).indices
        )

    assert hosts() == ["g1", "g2"]
    table.consume(0, wanted, ((A100_KEY, 1),))
    assert table.hosts[0].devices_used == (1,) and hosts() == ["g2"]
    table.consume(1, wanted, ((A100_KEY, 1),))
    selection = selector.select(table, spec, NOW.timestamp(), 60.0, 1)
    assert selection.indices == []
    assert (
        "PciPassthroughFilter: 2 of 2 hosts rejected (need 1 GPU(s), best 0 free)" in selection.explanation()
    )
    table.release(0, wanted, ((A100_KEY, 1),))
    assert hosts() == ["g1"]


# --- against the database -------------------------------------------------------------------------
@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Cloud]:
    transport = get_transport(f"inproc://devices-{uuid.uuid4().hex}")
    settings = load_settings(data_dir=tmp_path, rpc_timeout=WAIT_SECONDS)
    settings.scheduler.pci_aliases = ALIASES
    with db.writer() as session:
        QuotaEngine().set_limits(session, "p1", {"instances": -1, "cores": -1, "ram": -1})
        session.add(Flavor(flavorid="g1", name="g1", vcpus=1, memory_mb=512, root_gb=1, extra_specs=ONE_GPU))
    yield Cloud(settings=settings, db=db, transport=transport, clock=lambda: NOW)
    transport.close()


def gpu_use(cloud: Cloud) -> dict[str, list[int]]:
    with cloud.db.reader() as session:
        return {node.host: [d["used"] for d in node.devices] for node in session.scalars(select(ComputeNode))}


def held_by(cloud: Cloud, instance_uuid: str) -> list[dict[str, Any]]:
    with cloud.db.reader() as session:
        return session.scalars(select(Instance.devices).where(Instance.uuid == instance_uuid)).one()


def gpu_wanted() -> Wanted:
    return Wanted(1, 512, 1, requested(ONE_GPU, ALIASES))


def test_a_claim_takes_the_gpu_and_a_release_gives_it_back(cloud: Cloud) -> None:
    compute_host(cloud, "gpu", memory_mb=65536, devices=[A100])
    first, second = boot(cloud, flavor="g1")[0], boot(cloud, flavor="g1")[0]
    assert (
        cloud.db.write(lambda s: claims.claim(s, first, "gpu", "gpu", gpu_wanted())) is claims.Outcome.CLAIMED
    )
    assert gpu_use(cloud) == {"gpu": [1]}
    assert held_by(cloud, first) == held_json(((A100_KEY, 1),))
    # Plenty of RAM left, but no GPU: the claim fails and changes nothing.
    assert (
        cloud.db.write(lambda s: claims.claim(s, second, "gpu", "gpu", gpu_wanted()))
        is claims.Outcome.NO_ROOM
    )
    with cloud.db.reader() as session:
        node = session.scalars(select(ComputeNode)).one()
        assert (node.memory_mb_used, node.running_vms) == (512, 1)
        instance = session.scalars(select(Instance).where(Instance.uuid == first)).one()
        held = Resources.of(instance)
    assert held == Resources(1, 512, 1, ((A100_KEY, 1),))
    cloud.db.write(lambda s: release(s, "gpu", "gpu", held))
    assert gpu_use(cloud) == {"gpu": [0]}
    assert (
        cloud.db.write(lambda s: claims.claim(s, second, "gpu", "gpu", gpu_wanted()))
        is claims.Outcome.CLAIMED
    )


def test_a_claim_for_an_instance_that_left_gives_the_gpu_back(cloud: Cloud) -> None:
    compute_host(cloud, "gpu", devices=[A100])
    gone = boot(cloud, flavor="g1")[0]
    with cloud.db.writer() as session:
        session.execute(update(Instance).where(Instance.uuid == gone).values(deleted=True))
    assert cloud.db.write(lambda s: claims.claim(s, gone, "gpu", "gpu", gpu_wanted())) is claims.Outcome.GONE
    assert gpu_use(cloud) == {"gpu": [0]}


def race_to_claim(cloud: Cloud, uuids: list[str], host: str) -> list[claims.Outcome]:
    """Every instance claims `host` at the same moment, each from its own thread and transaction."""
    start = threading.Barrier(len(uuids))
    outcomes: list[claims.Outcome] = []

    def race(instance_uuid: str) -> None:
        start.wait()
        outcomes.append(cloud.db.write(lambda s: claims.claim(s, instance_uuid, host, host, gpu_wanted())))

    threads = [threading.Thread(target=race, args=(u,)) for u in uuids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def release_instance(cloud: Cloud, instance_uuid: str) -> None:
    def write(session: Any) -> None:
        instance = session.scalars(select(Instance).where(Instance.uuid == instance_uuid)).one()
        release(session, instance.host, instance.node, Resources.of(instance))

    cloud.db.write(write)


def test_threads_racing_for_the_last_gpu_never_both_win(cloud: Cloud) -> None:
    compute_host(cloud, "gpu", memory_mb=65536, vcpus=32, devices=[A100])
    for _ in range(5):  # several rounds, each starting its claims together
        uuids = [boot(cloud, flavor="g1")[0] for _ in range(4)]
        outcomes = race_to_claim(cloud, uuids, "gpu")
        assert sorted(o.value for o in outcomes) == ["claimed"] + ["no_room"] * 3
        assert gpu_use(cloud) == {"gpu": [1]}
        winners = [u for u in uuids if held_by(cloud, u)]
        assert len(winners) == 1
        release_instance(cloud, winners[0])
        assert gpu_use(cloud) == {"gpu": [0]}


def test_schedulers_with_stale_caches_racing_for_gpus_never_overcommit(cloud: Cloud) -> None:
    compute_host(cloud, "two", memory_mb=65536, vcpus=32, devices=[Device("gpu", "10de", "20b5", "A100", 2)])
    compute_host(cloud, "one", memory_mb=65536, vcpus=32, devices=[A100])
    uuids = [boot(cloud, flavor="g1")[0] for _ in range(8)]
    schedulers = [scheduler_for(cloud, pci_aliases=ALIASES, host_subset_size=2) for _ in range(4)]
    for scheduler in schedulers:
        scheduler.cache.refresh()  # every cache believes all three GPUs are free
    won: list[str] = []

    def run(scheduler: Any, share: list[str]) -> None:
        for instance_uuid in share:
            with contextlib.suppress(errors.NoValidHost):
                won.append(scheduler.place([instance_uuid], num_alternates=1)[0].host)

    threads = [threading.Thread(target=run, args=(s, uuids[i::4])) for i, s in enumerate(schedulers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(won) == ["one", "two", "two"]
    assert gpu_use(cloud) == {"two": [2], "one": [1]}


def test_the_resource_report_recounts_devices_from_the_instances(cloud: Cloud) -> None:
    manager = compute_host(cloud, "gpu", memory_mb=65536, devices=[Device("gpu", "10de", "20b5", "A100", 2)])
    kept, dropped = boot(cloud, flavor="g1")[0], boot(cloud, flavor="g1")[0]
    for instance_uuid in (kept, dropped):
        cloud.db.write(lambda s, u=instance_uuid: claims.claim(s, u, "gpu", "gpu", gpu_wanted()))
    with cloud.db.writer() as session:  # an instance row gone without a release: drift to repair
        session.execute(update(Instance).where(Instance.uuid == dropped).values(deleted=True))
    with cloud.db.reader() as session:
        generation = session.scalars(select(ComputeNode.device_generation)).one()
    manager.resource_tracker.update_available_resource()
    with cloud.db.reader() as session:
        node = session.scalars(select(ComputeNode)).one()
    assert [d["used"] for d in node.devices] == [1] and node.device_generation > generation
    assert node.devices[0]["count"] == 2


def test_the_scheduler_cache_sees_devices_claimed_by_another_scheduler(cloud: Cloud) -> None:
    compute_host(cloud, "gpu", memory_mb=65536, devices=[A100])
    watcher = scheduler_for(cloud, pci_aliases=ALIASES, host_state_refresh_interval=0.0)
    placer = scheduler_for(cloud, pci_aliases=ALIASES)
    watcher.cache.refresh()
    first = boot(cloud, flavor="g1")
    assert placer.place(first)[0].host == "gpu"
    table = placer.cache.table
    assert table.hosts[table.index_of[("gpu", "gpu")]].devices_used == (1,)  # its own claim, at once
    watcher.cache.ensure_fresh()
    watched = watcher.cache.table
    assert watched.hosts[watched.index_of[("gpu", "gpu")]].devices_used == (1,)
    with pytest.raises(errors.NoValidHost, match=r"PciPassthroughFilter: 1 of 1 hosts rejected \(need 1 GPU"):
        watcher.place(boot(cloud, flavor="g1"))


def test_a_gpu_released_elsewhere_is_found_without_waiting_for_a_refresh(cloud: Cloud) -> None:
    compute_host(cloud, "gpu", memory_mb=65536, devices=[A100])
    scheduler = scheduler_for(cloud, pci_aliases=ALIASES, host_state_refresh_interval=3600.0)
    scheduler.cache.refresh()  # from here on the cache counts as fresh (FRESH_ENOUGH)
    first = boot(cloud, flavor="g1")
    assert scheduler.place(first)[0].host == "gpu"  # counted in the cache by our own claim
    release_instance(cloud, first[0])  # a delete on the compute host: the cache is not told
    second = boot(cloud, flavor="g1")
    assert scheduler.place(second)[0].host == "gpu"
    scheduler.cache.refresh()  # now the cache read the GPU as taken from the database
    release_instance(cloud, second[0])
    assert scheduler.place(boot(cloud, flavor="g1"))[0].host == "gpu"
