"""The scheduler's cache of host states: loaded once, then kept current without reloading every host.

- Compute nodes are re-read only when their row changed (`updated_at` above the last mark, with some
  slack for transactions that committed late): resource reports and every claim bump it.
- The scheduler's own claims change the cache at once (`HostStateTable.consume`, devices included);
  a claim that loses a race re-reads just that node.
- Services (enabled, heartbeat), aggregates, in-flight builds (IO ops) and recent build failures are
  small queries repeated at each refresh; a full reload every FULL_RELOAD_EVERY refreshes drops nodes
  that disappeared.
- What an operator changes (a service disabled or forced down, aggregates and their metadata) and a
  compute host that starts must not wait for the refresh interval: their writers fan a notice out to
  every scheduler (`SchedulerAPI.host_states_changed`), which marks the cache stale, and the next
  decision refreshes first. The interval stays the backstop for a notice that never arrived.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from overcast.compute import states
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.config import Settings
from overcast.db.engine import Database
from overcast.db.models.aggregates import Aggregate, AggregateHost, AggregateMetadata
from overcast.db.models.compute import ComputeNode, Instance, InstanceFault
from overcast.db.models.service import ServiceRecord
from overcast.placement.devices import Held
from overcast.placement.resources import Wanted
from overcast.scheduler.host_state import (
    AggregateInfo,
    Capabilities,
    DeviceInfo,
    HostState,
    HostStateTable,
)
from overcast.servicegroup import last_heartbeat

LOG = logging.getLogger(__name__)

# A node row committed up to this long after its updated_at was stamped is still picked up.
CHANGE_SLACK = timedelta(seconds=30)
FULL_RELOAD_EVERY = 120
# Nodes re-read per query (hosts in one IN list).
RELOAD_BATCH = 500
FAILED_BUILD_WINDOW = timedelta(hours=1)
# Tasks that keep a host's disks and CPU busy (Nova's IoOpsFilter list, in our task-state names).
IO_TASK_STATES = (states.SCHEDULING, states.SPAWNING, "resize_migrating", "resize_prep", "image_snapshot",
                  "image_backup", "rebuilding", "unshelving")  # fmt: skip

_NODE_COLUMNS = (
    ComputeNode.host, ComputeNode.hypervisor_hostname, ComputeNode.hypervisor_type,
    ComputeNode.hypervisor_version, ComputeNode.cpu_info, ComputeNode.devices, ComputeNode.vcpus,
    ComputeNode.memory_mb, ComputeNode.local_gb, ComputeNode.vcpus_used, ComputeNode.memory_mb_used,
    ComputeNode.local_gb_used, ComputeNode.running_vms, ComputeNode.cpu_allocation_ratio,
    ComputeNode.ram_allocation_ratio, ComputeNode.disk_allocation_ratio, ComputeNode.updated_at,
)  # fmt: skip


class HostStateCache:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.settings = settings.scheduler
        self.clock = clock
        self.lock = threading.RLock()
        self.table = self._new_table()
        self.loaded = False
        self._mark: datetime | None = None
        self._refreshed_at = 0.0
        self._refreshes = 0
        self._stale = False
        self._aggregates_version: tuple[Any, ...] | None = None
        self._aggregates: dict[str, tuple[AggregateInfo, ...]] = {}
        self._services: dict[str, tuple[bool, float | None]] = {}
        self._io_ops: dict[tuple[str, str], int] = {}
        self._failed_builds: dict[str, int] = {}
        self._capabilities: dict[Any, Capabilities] = {}
        # Nodes whose cached usage our own claims changed since the last refresh (see reload_claimed).
        self._claimed: set[tuple[str, str]] = set()

    def _new_table(self) -> HostStateTable:
        s = self.settings
        return HostStateTable((s.cpu_allocation_ratio, s.ram_allocation_ratio, s.disk_allocation_ratio))

    # --- entry points -----------------------------------------------------------------------------
    def ensure_fresh(self) -> None:
        """Load on first use; afterwards refresh when marked stale or the refresh interval has passed."""
        if (
            self._stale
            or not self.loaded
            or time.monotonic() - self._refreshed_at >= self.settings.host_state_refresh_interval
        ):
            self.refresh()

    def mark_stale(self) -> None:
        """Something the cache holds changed in the database: refresh before the next decision.

        No lock: a flag write is atomic, and waiting for a decision in progress would gain nothing.
        """
        self._stale = True

    def age(self) -> float:
        """Seconds since the last refresh."""
        return time.monotonic() - self._refreshed_at

    def refresh(self, *, full: bool = False) -> None:
        with self.lock:
            # Cleared before reading: a notice that arrives while this refresh reads may describe a
            # write it does not see, so it must leave the cache stale for the next decision.
            self._stale = False
            with self.db.reader() as session:
                self._refresh(session, full=full)

    def _refresh(self, session: Session, *, full: bool) -> None:
        self._claimed.clear()  # our claims bumped their nodes' updated_at: re-read below
        full = full or not self.loaded or self._refreshes % FULL_RELOAD_EVERY == 0
        before = (dict(self._services), self._aggregates, self._io_ops, dict(self._failed_builds))
        self._load_context(session)
        if full:
            self.table = self._new_table()
            rows = session.execute(select(*_NODE_COLUMNS)).all()
        elif self._mark is None:  # no node existed at the last look
            rows = session.execute(select(*_NODE_COLUMNS)).all()
        else:
            since = self._mark - CHANGE_SLACK
            rows = session.execute(select(*_NODE_COLUMNS).where(ComputeNode.updated_at > since)).all()
        self._apply_nodes(rows)
        if not full:
            self._apply_context_changes(*before)
        self.loaded = True
        self._refreshes += 1
        self._refreshed_at = time.monotonic()

    def _apply_context_changes(
        self,
        services: dict[str, tuple[bool, float | None]],
        aggregates: dict[str, tuple[AggregateInfo, ...]],
        io_ops: dict[tuple[str, str], int],
        failed_builds: dict[str, int],
    ) -> None:
        """Service, aggregate and IO numbers change without touching node rows: apply what changed."""
        table = self.table
        changed = {host for old, new in ((aggregates, self._aggregates), (failed_builds, self._failed_builds))
                   for host in old.keys() | new.keys() if old.get(host) != new.get(host)}  # fmt: skip
        changed |= {
            key[0] for key in io_ops.keys() | self._io_ops.keys() if io_ops.get(key) != self._io_ops.get(key)
        }
        for host, (disabled, seen) in self._services.items():
            old_disabled, old_seen = services.get(host, (False, None))
            if disabled != old_disabled:
                changed.add(host)
            elif seen != old_seen:  # a heartbeat: the commonest change by far, so the cheapest path
                for index in table.indices_of_host.get(host, ()):
                    table.hosts[index].last_seen_up = seen
                    table.columns["last_seen"][index] = float("nan") if seen is None else seen
        changed |= services.keys() - self._services.keys()
        for host in changed:
            for index in table.indices_of_host.get(host, ()):
                self._decorate(table.hosts[index])
                table.sync(index)

    def reload_nodes(self, session: Session, keys: Iterable[tuple[str, str]]) -> None:
        """Re-read these nodes now (after a lost claim, or a rolled-back batch)."""
        wanted = set(keys)
        hosts = sorted({host for host, _ in wanted})
        with self.lock:
            found: dict[tuple[str, str], Row[Any]] = {}
            for start in range(0, len(hosts), RELOAD_BATCH):
                batch = hosts[start : start + RELOAD_BATCH]
                for row in session.execute(select(*_NODE_COLUMNS).where(ComputeNode.host.in_(batch))):
                    if (row.host, row.hypervisor_hostname) in wanted:
                        found[row.host, row.hypervisor_hostname] = row
            self._apply_nodes(found.values(), advance_mark=False)
            for key in wanted - found.keys():
                self.table.remove(key)

    def consume(self, index: int, wanted: Wanted, devices: Held = ()) -> None:
        """Our own claim on the node at `index` won: count it now, without waiting for a refresh."""
        with self.lock:
            self.table.consume(index, wanted, devices)
            self._claimed.add(self.table.hosts[index].key)

    def reload_claimed(self, *, devices_in_use: bool = False) -> bool:
        """Re-read the nodes our claims changed since the last refresh, and with `devices_in_use` every
        node whose devices the cache believes taken: someone may have released them since. False when
        there is nothing to re-read."""
        with self.lock:
            keys, self._claimed = self._claimed, set()
            if devices_in_use:
                busy = np.flatnonzero(self.table.column("devices_used") > 0)
                keys |= {self.table.hosts[index].key for index in busy}
            if keys:
                with self.db.reader() as session:
                    self.reload_nodes(session, keys)
            return bool(keys)

    def note_build_failures(self, hosts: Iterable[str]) -> None:
        with self.lock:
            for host in hosts:
                self._failed_builds[host] = self._failed_builds.get(host, 0) + 1
                for index in self.table.indices_of_host.get(host, ()):
                    self.table.hosts[index].failed_builds += 1
                    self.table.sync(index)

    # --- loading ----------------------------------------------------------------------------------
    def _apply_nodes(self, rows: Iterable[Row[Any]], *, advance_mark: bool = True) -> None:
        for row in rows:
            state = HostState(
                host=row.host, nodename=row.hypervisor_hostname, capabilities=self._capabilities_of(row),
                vcpus=row.vcpus, memory_mb=row.memory_mb, local_gb=row.local_gb, vcpus_used=row.vcpus_used,
                memory_mb_used=row.memory_mb_used, local_gb_used=row.local_gb_used,
                running_vms=row.running_vms, cpu_allocation_ratio=row.cpu_allocation_ratio,
                ram_allocation_ratio=row.ram_allocation_ratio,
                disk_allocation_ratio=row.disk_allocation_ratio,
                devices_used=tuple(int(device.get("used", 0)) for device in row.devices or ()),
            )  # fmt: skip
            self._decorate(state)
            self.table.upsert(state)
            if advance_mark and (self._mark is None or row.updated_at > self._mark):
                self._mark = row.updated_at

    def _decorate(self, state: HostState) -> None:
        state.disabled, state.last_seen_up = self._services.get(state.host, (False, None))
        state.aggregates = self._aggregates.get(state.host, ())
        state.io_ops = self._io_ops.get(state.key, 0)
        state.failed_builds = self._failed_builds.get(state.host, 0)

    def _capabilities_of(self, row: Row[Any]) -> Capabilities:
        cpu = row.cpu_info or {}
        # What the node *is*: device counts, not how many are used (that changes with every claim).
        devices = tuple(DeviceInfo.from_dict(device) for device in row.devices or ())
        key = (cpu.get("arch"), cpu.get("model"), tuple(sorted(cpu.get("features") or ())),
               row.hypervisor_type, row.hypervisor_version, devices)  # fmt: skip
        found = self._capabilities.get(key)
        if found is None:
            found = self._capabilities[key] = Capabilities(
                cpu_arch=str(cpu.get("arch") or "x86_64"), cpu_model=str(cpu.get("model") or ""),
                cpu_features=frozenset(cpu.get("features") or ()), hypervisor_type=row.hypervisor_type,
                hypervisor_version=row.hypervisor_version,
                devices=devices,
            )  # fmt: skip
        return found

    def _load_context(self, session: Session) -> None:
        services = session.scalars(select(ServiceRecord).where(ServiceRecord.binary == COMPUTE_BINARY))
        self._services = {}
        for record in services:
            heartbeat = None if record.forced_down else last_heartbeat(record)
            self._services[record.host] = (record.disabled, heartbeat.timestamp() if heartbeat else None)
        self._load_aggregates(session)
        self._io_ops = {
            (str(host), str(node)): int(count)
            for host, node, count in session.execute(
                select(Instance.host, Instance.node, func.count(Instance.id))
                .where(
                    Instance.deleted.is_(False),
                    Instance.host.is_not(None),
                    Instance.task_state.in_(IO_TASK_STATES),
                )
                .group_by(Instance.host, Instance.node)
            )
        }
        since = self.clock() - FAILED_BUILD_WINDOW
        failures = session.execute(
            select(InstanceFault.host, func.count(InstanceFault.id))
            .where(InstanceFault.host.is_not(None), InstanceFault.created_at > since)
            .group_by(InstanceFault.host)
        )
        counted = {str(host): int(count) for host, count in failures}
        for host, count in self._failed_builds.items():
            counted[host] = max(counted.get(host, 0), count)
        self._failed_builds = counted

    def _load_aggregates(self, session: Session) -> None:
        version = tuple(
            session.execute(select(func.count(), func.max(model.updated_at))).one()
            for model in (Aggregate, AggregateHost, AggregateMetadata)
        )
        if version == self._aggregates_version:
            return
        metadata: dict[int, list[tuple[str, str]]] = {}
        for aggregate_id, key, value in session.execute(
            select(AggregateMetadata.aggregate_id, AggregateMetadata.key, AggregateMetadata.value)
        ):
            metadata.setdefault(aggregate_id, []).append((key, value))
        infos = {
            aggregate_id: AggregateInfo(name, tuple(sorted(metadata.get(aggregate_id, ()))))
            for aggregate_id, name in session.execute(select(Aggregate.id, Aggregate.name))
        }
        by_host: dict[str, list[AggregateInfo]] = {}
        for aggregate_id, host in session.execute(select(AggregateHost.aggregate_id, AggregateHost.host)):
            if aggregate_id in infos:
                by_host.setdefault(host, []).append(infos[aggregate_id])
        self._aggregates = {host: tuple(sorted(aggs, key=lambda a: a.name)) for host, aggs in by_host.items()}
        self._aggregates_version = version
