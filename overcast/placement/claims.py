"""Claims and releases: the only writes of a compute node's usage and devices.

`claim` is one compare-and-swap on the node (usage grows only while it stays within capacity times the
allocation ratio) and one on the instance (placed only if still SCHEDULING, unplaced, not deleted), in
the caller's transaction. Two schedulers, or two requests, racing for the last slot cannot both win:
the database serialises the updates and the second finds no room.

Devices ride in the same node UPDATE: the claim reads the node's device pools, chooses the pools to
take (`devices.assign`) and writes the new used counts only if the node's device generation is
still the one it read, in the statement that checks vCPUs, RAM and disk. The instance records the pools
it took, which is what every release gives back (`Resources.of`).
"""

from __future__ import annotations

import enum
import functools
import logging
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, select, update
from sqlalchemy.orm import Session

from overcast.compute import states
from overcast.db.base import utcnow
from overcast.db.models.compute import ComputeNode, Instance
from overcast.placement.devices import Held, assign, held_json, pools_json, pools_of, used_after
from overcast.placement.resources import Resources, Wanted

__all__ = [
    "DEVICE_WRITE_ATTEMPTS", "Outcome", "Resources", "Wanted", "claim", "claim_held",
    "node_devices", "release", "release_devices", "reserve",
]  # fmt: skip

LOG = logging.getLogger(__name__)

Ratios = tuple[float | None, float | None, float | None]
# A device write loses its compare-and-swap only to another device write committed in between.
DEVICE_WRITE_ATTEMPTS = 5


class Outcome(enum.Enum):
    CLAIMED = "claimed"
    NO_ROOM = "no_room"  # the node is full (someone else claimed first, or the cache was stale)
    GONE = "gone"  # the instance was deleted or placed by someone else meanwhile


def _limit(capacity: Any, ratio_column: Any, override: float | None) -> Any:
    return capacity * (override if override is not None else ratio_column)


@functools.lru_cache(maxsize=32)
def _node_statement(ratios: Ratios, with_devices: bool, count_instance: bool) -> Any:
    """The node's compare-and-swap, built once per shape (building SQLAlchemy expressions per claim
    costs more than running them)."""
    cpu, ram, disk = ratios
    statement = update(ComputeNode).where(
        ComputeNode.host == bindparam("b_host"),
        ComputeNode.hypervisor_hostname == bindparam("b_node"),
        ComputeNode.vcpus_used + bindparam("b_vcpus")
        <= _limit(ComputeNode.vcpus, ComputeNode.cpu_allocation_ratio, cpu),
        ComputeNode.memory_mb_used + bindparam("b_ram")
        <= _limit(ComputeNode.memory_mb, ComputeNode.ram_allocation_ratio, ram),
        ComputeNode.local_gb_used + bindparam("b_disk")
        <= _limit(ComputeNode.local_gb, ComputeNode.disk_allocation_ratio, disk),
    )
    values: dict[str, Any] = {
        "vcpus_used": ComputeNode.vcpus_used + bindparam("b_vcpus"),
        "memory_mb_used": ComputeNode.memory_mb_used + bindparam("b_ram"),
        "local_gb_used": ComputeNode.local_gb_used + bindparam("b_disk"),
        # Other schedulers' caches pick up changed nodes by this column.
        "updated_at": bindparam("b_now"),
    }
    if count_instance:
        values["running_vms"] = ComputeNode.running_vms + 1
    if with_devices:
        statement = statement.where(ComputeNode.device_generation == bindparam("b_generation"))
        values["devices"] = bindparam("b_devices", type_=ComputeNode.devices.type)
        values["device_generation"] = ComputeNode.device_generation + 1
    return statement.values(**values)


@functools.lru_cache(maxsize=1)
def _instance_statement() -> Any:
    return (
        update(Instance)
        .where(
            Instance.uuid == bindparam("b_uuid"),
            Instance.deleted.is_(False),
            Instance.host.is_(None),
            Instance.task_state == states.SCHEDULING,
        )
        .values(
            host=bindparam("b_host"),
            node=bindparam("b_node"),
            updated_at=bindparam("b_now"),
            devices=bindparam("b_held", type_=Instance.devices.type),
        )
    )


def _execute(session: Session, statement: Any, params: dict[str, Any] | None = None) -> Any:
    # On the session's connection, in its transaction: the ORM's bulk-UPDATE path (Session.execute)
    # costs more than the UPDATE itself, and these statements never touch loaded objects.
    return session.connection().execute(statement, params)


def _updated(session: Session, statement: Any, params: dict[str, Any]) -> bool:
    return getattr(_execute(session, statement, params), "rowcount", 0) == 1


def reserve(
    session: Session,
    host: str,
    node: str,
    wanted: Wanted,
    ratios: Ratios = (None, None, None),
    *,
    count_instance: bool = False,
) -> Resources | None:
    """Add `wanted` to the node's usage if it fits: what is now held there, or None (no room).

    Alone it is a resize's reservation on its destination (no instance moves yet); `claim` adds the
    instance's placement and counts it among the node's instances.
    """
    params = {"b_host": host, "b_node": node, "b_now": utcnow(), "b_vcpus": wanted.vcpus,
              "b_ram": wanted.memory_mb, "b_disk": wanted.disk_gb}  # fmt: skip
    if not wanted.devices:
        if _updated(session, _node_statement(ratios, False, count_instance), params):
            return Resources(wanted.vcpus, wanted.memory_mb, wanted.disk_gb)
        return None
    statement, read = _node_statement(ratios, True, count_instance), None
    for _ in range(DEVICE_WRITE_ATTEMPTS):
        row = node_devices(session, host, node)
        if row is None or (read is not None and row[1] == read):
            return None  # no such node, or the generation held and vCPUs, RAM or disk did not fit
        devices, read = row
        pools = pools_of(devices)
        held = assign(pools, wanted.devices)
        if held is None:
            return None
        params.update(b_generation=read, b_devices=pools_json(devices, used_after(pools, held, 1)))
        if _updated(session, statement, params):
            return Resources(wanted.vcpus, wanted.memory_mb, wanted.disk_gb, held)
    return None


def claim_held(
    session: Session,
    instance_uuid: str,
    host: str,
    node: str,
    wanted: Wanted,
    ratios: Ratios = (None, None, None),
) -> tuple[Outcome, Resources | None]:
    """`claim`, also returning what the instance now holds (the devices it got) when it won."""
    held = reserve(session, host, node, wanted, ratios, count_instance=True)
    if held is None:
        return Outcome.NO_ROOM, None
    params = {"b_uuid": instance_uuid, "b_host": host, "b_node": node, "b_now": utcnow(),
              "b_held": held_json(held.devices)}  # fmt: skip
    if not _updated(session, _instance_statement(), params):
        release(session, host, node, held)
        return Outcome.GONE, None
    return Outcome.CLAIMED, held


def claim(
    session: Session,
    instance_uuid: str,
    host: str,
    node: str,
    wanted: Wanted,
    ratios: Ratios = (None, None, None),
) -> Outcome:
    return claim_held(session, instance_uuid, host, node, wanted, ratios)[0]


def release(session: Session, host: str, node: str | None, freed: Resources) -> None:
    """Give back what a claim took (the instance left the node: deleted, moved, or its build failed)."""
    if node is None:
        return
    _execute(
        session,
        update(ComputeNode)
        .where(ComputeNode.host == host, ComputeNode.hypervisor_hostname == node)
        .values(
            vcpus_used=_floor_zero(ComputeNode.vcpus_used - freed.vcpus),
            memory_mb_used=_floor_zero(ComputeNode.memory_mb_used - freed.memory_mb),
            local_gb_used=_floor_zero(ComputeNode.local_gb_used - freed.disk_gb),
            running_vms=_floor_zero(ComputeNode.running_vms - 1),
        ),
    )
    if freed.devices:
        release_devices(session, host, node, freed.devices)


def release_devices(session: Session, host: str, node: str, held: Held) -> None:
    """Give devices back with a compare-and-swap on the node's device generation (retried if it moved)."""
    for _ in range(DEVICE_WRITE_ATTEMPTS):
        row = node_devices(session, host, node)
        if row is None:
            return
        devices, generation = row
        used = used_after(pools_of(devices), held, -1)
        result = _execute(
            session,
            update(ComputeNode)
            .where(
                ComputeNode.host == host,
                ComputeNode.hypervisor_hostname == node,
                ComputeNode.device_generation == generation,
            )
            .values(devices=pools_json(devices, used), device_generation=generation + 1),
        )
        if getattr(result, "rowcount", 0) == 1:
            return
    LOG.warning("Could not give back devices %s on %s/%s; the next report recounts them", held, host, node)


def node_devices(session: Session, host: str, node: str) -> tuple[list[dict[str, Any]], int] | None:
    """A node's device pools (with used counts) and their generation, read for a compare-and-swap."""
    row = _execute(
        session,
        select(ComputeNode.devices, ComputeNode.device_generation).where(
            ComputeNode.host == host, ComputeNode.hypervisor_hostname == node
        ),
    ).first()
    return None if row is None else (list(row.devices or ()), int(row.device_generation))


def _floor_zero(value: ColumnElement[int]) -> ColumnElement[int]:
    # A release after the periodic recount already dropped the instance must not go negative.
    return case((value < 0, 0), else_=value)
