"""The late server-group check on the compute host: what two racing schedulers (or a reschedule to a
stale alternate) got wrong is put right when the builds start, with real conductor and compute services
on an in-process bus."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.compute import states
from overcast.compute.api.server_groups import ServerGroupAPI
from overcast.compute.api.servers import ServerCreate
from overcast.compute.manager import ComputeManager
from overcast.conductor.manager import ConductorManager
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.compute import ComputeNode, Instance, InstanceFault
from overcast.placement.claims import Outcome, Wanted, claim
from overcast.quota import QuotaEngine
from overcast.scheduler.group_policy import group_policy_violation
from overcast.scheduler.request_spec import load_spec
from overcast.service import Service
from overcast.virt.fake import FakeDriver
from tests.support.compute_service import compute_service
from tests.support.waiting import WAIT_SECONDS

IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"
ALICE = RequestContext(user_id="alice", project_id="p1", roles=("member", "reader"))
NOW = datetime(2026, 3, 1, tzinfo=UTC)
TINY = Wanted(1, 512, 1)  # flavor "1"


@pytest.fixture
def cloud(db: Database, tmp_path: Path) -> Iterator[Cloud]:
    transport = get_transport(f"inproc://group-policy-{uuid.uuid4().hex}")
    settings = load_settings(data_dir=tmp_path, rpc_timeout=WAIT_SECONDS)
    yield Cloud(settings=settings, db=db, transport=transport, clock=lambda: NOW)
    transport.close()


@pytest.fixture
def services(cloud: Cloud) -> Iterator[dict[str, ComputeManager]]:
    """A conductor and compute hosts h1 and h2, serving on the bus."""
    computes = {
        host: ComputeManager(cloud, host, driver=FakeDriver(vcpus=4, memory_mb=4096)) for host in ("h1", "h2")
    }
    running = [Service(cloud, ConductorManager(cloud, "c1")), *(Service(cloud, m) for m in computes.values())]
    for service in running:
        service.start()
    yield computes
    for service in reversed(running):
        service.stop()


def members(cloud: Cloud, policy: str, count: int) -> list[str]:
    """Servers created in one group. Their build requests go to a bus nobody serves: each test decides
    where they are claimed and built, as the schedulers that raced would have."""
    group = ServerGroupAPI(cloud.db, QuotaEngine()).create(ALICE, "g", [policy], allow_soft=True).group
    unserved = Cloud(settings=cloud.settings, db=cloud.db, transport=get_transport(f"inproc://{uuid.uuid4()}"),
                     clock=cloud.clock)  # fmt: skip
    api = compute_service(unserved).servers
    request = ServerCreate("member", IMAGE_ID, "1", scheduler_hints={"group": group.uuid})
    return [api.create(ALICE, request).servers[0].uuid for _ in range(count)]


def claimed_on(cloud: Cloud, instance_uuid: str, host: str) -> None:
    assert cloud.db.write(lambda session: claim(session, instance_uuid, host, host, TINY)) is Outcome.CLAIMED


def settled(cloud: Cloud, instance_uuid: str, timeout: float = WAIT_SECONDS) -> Instance:
    """The instance once its build is over (ACTIVE or ERROR)."""
    deadline = time.monotonic() + timeout
    while True:
        with cloud.db.reader() as session:
            instance = session.scalars(select(Instance).where(Instance.uuid == instance_uuid)).one()
        if instance.vm_state in (states.ACTIVE, states.ERROR) or time.monotonic() > deadline:
            return instance
        time.sleep(0.02)


def memory_used(cloud: Cloud, host: str) -> int:
    with cloud.db.reader() as session:
        return session.scalars(select(ComputeNode.memory_mb_used).where(ComputeNode.host == host)).one()


def to(host: str) -> list[dict[str, str]]:
    return [{"host": host, "nodename": host}]


def test_the_later_of_two_anti_affinity_members_on_one_host_moves_to_its_alternate(
    cloud: Cloud, services: dict[str, ComputeManager]
) -> None:
    first, second = members(cloud, "anti-affinity", 2)
    claimed_on(cloud, first, "h1")
    claimed_on(cloud, second, "h1")  # the claim another scheduler made before it saw the first
    services["h1"].build_and_run_instance(ALICE, first, alternates=to("h2"))
    services["h1"].build_and_run_instance(ALICE, second, alternates=to("h2"))
    placed = {settled(cloud, uuid_).host: settled(cloud, uuid_).vm_state for uuid_ in (first, second)}
    assert placed == {"h1": states.ACTIVE, "h2": states.ACTIVE}
    assert settled(cloud, second).host == "h2"
    assert memory_used(cloud, "h1") == memory_used(cloud, "h2") == TINY.memory_mb  # the h1 claim went back
    assert not services["h1"].driver.instance_exists(second)


def test_an_anti_affinity_member_with_nowhere_else_to_go_fails_and_says_why(
    cloud: Cloud, services: dict[str, ComputeManager]
) -> None:
    first, second = members(cloud, "anti-affinity", 2)
    claimed_on(cloud, first, "h1")
    claimed_on(cloud, second, "h1")
    services["h1"].build_and_run_instance(ALICE, first)
    services["h1"].build_and_run_instance(ALICE, second)
    failed = settled(cloud, second)
    assert (failed.vm_state, failed.host) == (states.ERROR, None)
    with cloud.db.reader() as session:
        fault = session.scalars(select(InstanceFault).where(InstanceFault.instance_uuid == second)).one()
    assert "Anti-affinity instance group policy was violated" in fault.message
    assert memory_used(cloud, "h1") == TINY.memory_mb


def test_an_affinity_member_follows_the_member_that_started_first(
    cloud: Cloud, services: dict[str, ComputeManager]
) -> None:
    first, second = members(cloud, "affinity", 2)
    claimed_on(cloud, first, "h1")
    claimed_on(cloud, second, "h2")  # each scheduler saw an empty group
    services["h1"].build_and_run_instance(ALICE, first)
    services["h2"].build_and_run_instance(ALICE, second, alternates=to("h1"))
    assert (settled(cloud, second).host, settled(cloud, second).vm_state) == ("h1", states.ACTIVE)
    assert memory_used(cloud, "h2") == 0


def test_only_started_members_of_hard_policies_count(
    cloud: Cloud, services: dict[str, ComputeManager]
) -> None:
    first, second = members(cloud, "anti-affinity", 2)
    claimed_on(cloud, first, "h1")
    claimed_on(cloud, second, "h1")
    with cloud.db.reader() as session:
        # Both still wait in SCHEDULING: whichever starts first keeps the host.
        assert group_policy_violation(session, second, "h1") is None
    with cloud.db.writer() as session:
        session.execute(Instance.__table__.update().where(Instance.uuid == first).values(task_state=None))
    with cloud.db.reader() as session:
        assert group_policy_violation(session, second, "h1") is not None
        assert group_policy_violation(session, second, "h2") is None
        assert group_policy_violation(session, first, "h1") is None  # the second has not started
    soft, soft_too = members(cloud, "soft-anti-affinity", 2)
    claimed_on(cloud, soft, "h2")
    with cloud.db.writer() as session:
        session.execute(Instance.__table__.update().where(Instance.uuid == soft).values(task_state=None))
    with cloud.db.reader() as session:
        assert group_policy_violation(session, soft_too, "h2") is None  # soft policies only weigh


def test_max_server_per_host_lets_an_anti_affinity_group_share_a_host_up_to_its_rule(
    cloud: Cloud, services: dict[str, ComputeManager]
) -> None:
    group = ServerGroupAPI(cloud.db, QuotaEngine()).create(
        ALICE, "pairs", ["anti-affinity"], allow_soft=True, rules={"max_server_per_host": 2}
    )
    unserved = Cloud(settings=cloud.settings, db=cloud.db, transport=get_transport(f"inproc://{uuid.uuid4()}"),
                     clock=cloud.clock)  # fmt: skip
    api = compute_service(unserved).servers
    request = ServerCreate("member", IMAGE_ID, "1", scheduler_hints={"group": group.group.uuid})
    first, second, third = (api.create(ALICE, request).servers[0].uuid for _ in range(3))
    for member in (first, second):
        claimed_on(cloud, member, "h1")
        with cloud.db.writer() as session:
            started = Instance.__table__.update().where(Instance.uuid == member).values(task_state=None)
            session.execute(started)
    with cloud.db.reader() as session:
        # Two on h1 is the rule's limit: a third may not join them, but may go elsewhere.
        assert group_policy_violation(session, third, "h1") is not None
        assert group_policy_violation(session, third, "h2") is None
        assert load_spec(session, third).group_hosts == ("h1",)
        assert group_policy_violation(session, second, "h1") is None  # itself and one other: within the rule


def test_rules_belong_to_anti_affinity_only(cloud: Cloud) -> None:
    groups = ServerGroupAPI(cloud.db, QuotaEngine())
    with pytest.raises(errors.BadRequest):
        groups.create(ALICE, "g", ["affinity"], allow_soft=True, rules={"max_server_per_host": 2})
