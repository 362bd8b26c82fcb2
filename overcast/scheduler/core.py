"""The scheduler itself: choose hosts from the cache, then claim them in the database.

`place` handles a whole request (max_count N) in one write transaction: each instance is chosen in turn
(seeing the claims of the ones before it, so anti-affinity holds inside the request too) and claimed;
a lost claim re-reads that node and moves to the alternate. If any instance finds no host, the
transaction rolls back and no instance of the request is placed.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from overcast import errors
from overcast.config import Settings
from overcast.db.engine import Database
from overcast.placement import claims
from overcast.scheduler.host_cache import HostStateCache
from overcast.scheduler.request_spec import RequestSpec, load_spec, with_devices
from overcast.scheduler.selector import HostSelector, Selection, no_valid_host

LOG = logging.getLogger(__name__)

# Fresh selections after every candidate of one lost its claim (other schedulers are busy too).
SELECTION_ROUNDS = 3
# Before answering 'No valid host', a cache older than this (seconds) is refreshed and asked again.
FRESH_ENOUGH = 0.5


@dataclass
class Placement:
    instance_uuid: str
    host: str
    nodename: str
    alternates: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"instance_uuid": self.instance_uuid, "host": self.host, "nodename": self.nodename,
                "alternates": self.alternates}  # fmt: skip


class _Unplaceable(Exception):
    def __init__(self, error: errors.NoValidHost, spec: RequestSpec) -> None:
        self.error = error
        self.spec = spec


class Scheduler:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.cache = HostStateCache(db, settings, clock)
        self.selector = HostSelector(settings.scheduler, rng)
        s = settings.scheduler
        self.ratios: claims.Ratios = (s.cpu_allocation_ratio, s.ram_allocation_ratio, s.disk_allocation_ratio)

    def _now(self) -> float:
        return self.clock().timestamp()

    def select(self, spec: RequestSpec, num_alternates: int = 0) -> Selection:
        """A dry run: the hosts the request would get, and what each filter removed. Claims nothing."""
        self.cache.ensure_fresh()
        count, down_time = 1 + max(0, num_alternates), self.settings.service_down_time
        spec = with_devices(spec, self.settings.scheduler.pci_aliases)
        with self.cache.lock:
            selection = self.selector.select(self.cache.table, spec, self._now(), down_time, count)
        if not selection.indices and self._look_again(spec):
            with self.cache.lock:
                selection = self.selector.select(self.cache.table, spec, self._now(), down_time, count)
        return selection

    def place(
        self, instance_uuids: list[str], excluded_hosts: list[str] | None = None, num_alternates: int = 0
    ) -> list[Placement]:
        """Choose and claim a host for every instance, or raise NoValidHost having claimed nothing.

        Instances deleted (or placed by someone else) meanwhile are left out of the result.
        """
        excluded = frozenset(excluded_hosts or ())
        self.cache.ensure_fresh()
        touched: set[tuple[str, str]] = set()

        def work(session: Session) -> list[Placement]:
            if touched:  # a retried transaction: forget what the failed attempt did to the cache
                self.cache.reload_nodes(session, touched)
            return self._place_all(session, instance_uuids, excluded, num_alternates, touched)

        for attempt in range(2):
            with self.cache.lock:
                try:
                    return self.db.write(work)
                except _Unplaceable as failure:
                    self._resync(touched)
                    if attempt or not self._look_again(failure.spec):
                        raise failure.error from None
                except BaseException:
                    self._resync(touched)
                    raise
        raise AssertionError("unreachable")

    def _look_again(self, spec: RequestSpec) -> bool:
        """Before refusing: re-read what may have changed since the cache last looked; False if nothing.

        Hosts that appeared or changed since the last refresh may fit. Within FRESH_ENOUGH of it, only
        the nodes that may have been freed meanwhile are re-read: those our own claims changed and, for
        a device request, those whose devices are taken. A delete or a failed build elsewhere may have
        released them, and for a one-GPU host that is the whole difference.
        """
        if self.cache.age() >= FRESH_ENOUGH:
            self.cache.refresh()
            return True
        return self.cache.reload_claimed(devices_in_use=bool(spec.wanted.devices))

    def _resync(self, touched: set[tuple[str, str]]) -> None:
        if touched:
            with self.db.reader() as session:
                self.cache.reload_nodes(session, touched)

    def _place_all(
        self,
        session: Session,
        instance_uuids: list[str],
        excluded: frozenset[str],
        num_alternates: int,
        touched: set[tuple[str, str]],
    ) -> list[Placement]:
        placements = []
        for position, uuid in enumerate(instance_uuids):
            try:
                spec = with_devices(load_spec(session, uuid, excluded), self.settings.scheduler.pci_aliases)
            except errors.NotFound:
                LOG.info("Instance %s was deleted before it was scheduled", uuid)
                continue
            placed = self._place_one(session, spec, num_alternates, touched)
            if isinstance(placed, Selection):
                error = no_valid_host(placed)
                if len(instance_uuids) > 1:
                    error = errors.NoValidHost(
                        f"{error.message} (instance {position + 1} of {len(instance_uuids)}; none was placed)"
                    )
                raise _Unplaceable(error, spec)
            if placed is not None:
                placements.append(placed)
        return placements

    def _place_one(
        self, session: Session, spec: RequestSpec, num_alternates: int, touched: set[tuple[str, str]]
    ) -> Placement | Selection | None:
        """The claimed placement; the failed Selection when nothing fits; None if the instance left."""
        assert spec.instance_uuid is not None
        table = self.cache.table
        selection = Selection([])
        for _ in range(SELECTION_ROUNDS):
            selection = self.selector.select(
                table, spec, self._now(), self.settings.service_down_time, 1 + max(0, num_alternates)
            )
            if not selection.indices:
                return selection
            for position, index in enumerate(selection.indices):
                state = table.hosts[index]
                touched.add(state.key)
                outcome, held = claims.claim_held(
                    session, spec.instance_uuid, state.host, state.nodename, spec.wanted, self.ratios
                )
                if outcome is claims.Outcome.GONE:
                    return None
                if held is not None:
                    self.cache.consume(index, spec.wanted, held.devices)
                    alternates = [
                        {"host": table.hosts[i].host, "nodename": table.hosts[i].nodename}
                        for i in selection.indices[position + 1 :]
                    ]
                    return Placement(spec.instance_uuid, state.host, state.nodename, alternates)
                LOG.info("Lost the claim on %s for %s; trying the alternate", state.host, spec.instance_uuid)
                self.cache.reload_nodes(session, [state.key])
        return selection
