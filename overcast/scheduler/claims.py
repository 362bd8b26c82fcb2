"""Claims: a decision is final only once the node's resources and the instance are updated atomically.

`claim` is one compare-and-swap on the node (usage grows only while it stays within capacity times the
allocation ratio) and one on the instance (placed only if still SCHEDULING, unplaced, not deleted), in
the caller's transaction. Two schedulers, or two requests, racing for the last slot cannot both win:
the database serialises the updates and the second finds no room.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from overcast.compute import states
from overcast.compute.resource_tracker import Resources, release
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.compute import ComputeNode, Instance
from overcast.scheduler.host_state import Wanted

__all__ = ["Outcome", "Wanted", "claim", "claim_first"]

Ratios = tuple[float | None, float | None, float | None]


class Outcome(enum.Enum):
    CLAIMED = "claimed"
    NO_ROOM = "no_room"  # the node is full (someone else claimed first, or the cache was stale)
    GONE = "gone"  # the instance was deleted or placed by someone else meanwhile


def _limit(capacity: Any, ratio_column: Any, override: float | None) -> Any:
    return capacity * (override if override is not None else ratio_column)


@functools.lru_cache(maxsize=8)
def _statements(ratios: Ratios) -> tuple[Any, Any]:
    """The two compare-and-swap updates, built once (building SQLAlchemy expressions per claim costs
    more than running them)."""
    cpu, ram, disk = ratios
    node_fits = (
        update(ComputeNode)
        .where(
            ComputeNode.host == bindparam("b_host"),
            ComputeNode.hypervisor_hostname == bindparam("b_node"),
            ComputeNode.vcpus_used + bindparam("b_vcpus")
            <= _limit(ComputeNode.vcpus, ComputeNode.cpu_allocation_ratio, cpu),
            ComputeNode.memory_mb_used + bindparam("b_ram")
            <= _limit(ComputeNode.memory_mb, ComputeNode.ram_allocation_ratio, ram),
            ComputeNode.local_gb_used + bindparam("b_disk")
            <= _limit(ComputeNode.local_gb, ComputeNode.disk_allocation_ratio, disk),
        )
        .values(
            vcpus_used=ComputeNode.vcpus_used + bindparam("b_vcpus"),
            memory_mb_used=ComputeNode.memory_mb_used + bindparam("b_ram"),
            local_gb_used=ComputeNode.local_gb_used + bindparam("b_disk"),
            running_vms=ComputeNode.running_vms + 1,
            # Other schedulers' caches pick up changed nodes by this column.
            updated_at=bindparam("b_now"),
        )
        .execution_options(synchronize_session=False)
    )
    instance_placed = (
        update(Instance)
        .where(
            Instance.uuid == bindparam("b_uuid"),
            Instance.deleted.is_(False),
            Instance.host.is_(None),
            Instance.task_state == states.SCHEDULING,
        )
        .values(host=bindparam("b_host"), node=bindparam("b_node"), updated_at=bindparam("b_now"))
        .execution_options(synchronize_session=False)
    )
    return node_fits, instance_placed


def claim(
    session: Session,
    instance_uuid: str,
    host: str,
    node: str,
    wanted: Wanted,
    ratios: Ratios = (None, None, None),
) -> Outcome:
    node_fits, instance_placed = _statements(ratios)
    params = {"b_host": host, "b_node": node, "b_now": utcnow()}
    resources = {"b_vcpus": wanted.vcpus, "b_ram": wanted.memory_mb, "b_disk": wanted.disk_gb}
    if getattr(session.execute(node_fits, params | resources), "rowcount", 0) != 1:
        return Outcome.NO_ROOM
    if getattr(session.execute(instance_placed, params | {"b_uuid": instance_uuid}), "rowcount", 0) != 1:
        release(session, host, node, Resources(wanted.vcpus, wanted.memory_mb, wanted.disk_gb))
        return Outcome.GONE
    return Outcome.CLAIMED


def claim_first(
    db: Database,
    instance_uuid: str,
    candidates: list[dict[str, str]],
    wanted: Wanted,
    ratios: Ratios = (None, None, None),
    still_wanted: Callable[[], bool] = lambda: True,
) -> dict[str, str] | None:
    """Claim the first candidate that has room, consuming `candidates` up to it (the conductor's
    reschedule path: the alternates the scheduler returned). None when none fits or the instance left."""
    while candidates:
        target = candidates.pop(0)
        outcome = db.write(
            functools.partial(
                claim,
                instance_uuid=instance_uuid,
                host=target["host"],
                node=target["nodename"],
                wanted=wanted,
                ratios=ratios,
            )
        )
        if outcome is Outcome.CLAIMED:
            return target
        if outcome is Outcome.GONE or not still_wanted():
            return None
    return None
