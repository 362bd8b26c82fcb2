"""Group commit: the events of handlers running at the same time go into the database in one transaction.

Each handler still returns only once the transaction holding its event has committed, so a bus that
acknowledges after the handler keeps its guarantee (nothing acknowledged is lost); what is saved is the
commit per event, which bounds ingest far below what one transaction of many rows costs. The first
handler to find no commit running takes everything pending and commits it (the leader); handlers that
arrive meanwhile wait and are taken by the next leader, one of themselves. A leader first gathers for up
to `GATHER_SECONDS`, until as many events are pending as the largest batch so far: otherwise the first
handler back from a commit would lead a batch of one while the others are still on their way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from overcast.db.engine import Database
from overcast.metering import events
from overcast.metering.events import NewUsageEvent

GATHER_SECONDS = 0.002


class GroupCommit:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock
        lock = threading.RLock()
        self._changed = threading.Condition(lock)  # a batch committed, or the lead given up
        self._arrived = threading.Condition(lock)  # an event joined the pending batch
        self._largest = 1  # the most events one batch has held: how many handlers run at once
        self._pending: list[NewUsageEvent] = []
        self._collecting = 0  # number of the batch that `_pending` will be committed as
        self._committed = -1  # batches up to this number are settled (committed or failed)
        self._failures: dict[int, BaseException] = {}
        self._leading = False

    def record(self, event: NewUsageEvent) -> None:
        """Returns once `event` is committed; raises what its transaction raised."""
        with self._changed:
            self._pending.append(event)
            self._arrived.notify()
            mine = self._collecting
            while self._committed < mine and self._leading:
                self._changed.wait()
            if self._committed < mine:
                self._gather()
                self._lead()  # the batch still collecting holds our event: commit it ourselves
            failure = self._failures.get(mine)
        if failure is not None:
            raise failure

    def _gather(self) -> None:
        """Wait a moment for the other running handlers' events (holding the lead, so they wait for us)."""
        self._leading = True
        deadline = time.monotonic() + GATHER_SECONDS
        while len(self._pending) < self._largest and (left := deadline - time.monotonic()) > 0:
            self._arrived.wait(left)

    def _lead(self) -> None:
        """Commit the pending batch (called holding the condition's lock, which it releases meanwhile)."""
        batch, number = self._pending, self._collecting
        self._largest = max(self._largest, len(batch))
        self._pending, self._collecting, self._leading = [], number + 1, True
        self._changed.release()
        failure: BaseException | None = None
        try:
            self._write(batch)
        except Exception as exc:  # every handler of the batch sees it, as its own write would have
            failure = exc
        finally:
            self._changed.acquire()
        if failure is not None:
            self._failures[number] = failure
        self._failures.pop(number - 64, None)  # waiters of older batches have long read theirs
        self._committed, self._leading = number, False
        self._changed.notify_all()

    def _write(self, batch: Sequence[NewUsageEvent]) -> None:
        received_at = self.clock()
        self.db.write(lambda session: events.record(session, batch, received_at))
