"""Group commit: concurrent handlers share transactions, and each returns only once its event is committed."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from overcast.db.engine import Database
from overcast.db.models.metering import UsageEvent
from overcast.metering import group_commit
from overcast.metering.events import NewUsageEvent
from overcast.metering.group_commit import GroupCommit
from overcast.metering.usage import FLOATING_IP
from tests.support.waiting import WAIT_SECONDS, wait_until

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def event(n: int, project_id: Any = "p1") -> NewUsageEvent:
    return NewUsageEvent(
        f"m-{n}", "floatingip.create.end", T0 + timedelta(seconds=n), project_id, "floating_ip", f"fip-{n}",
        FLOATING_IP, Decimal(1),
    )  # fmt: skip


def count(db: Database) -> int:
    with db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(UsageEvent)) or 0)


class CountingCommit(GroupCommit):
    def __init__(self, db: Database) -> None:
        super().__init__(db, lambda: T0)
        self.batches: list[int] = []

    def _write(self, batch: Any) -> None:
        super()._write(batch)
        self.batches.append(len(batch))


def test_every_handler_returns_after_its_event_is_committed_and_commits_are_shared(db: Database) -> None:
    committer = CountingCommit(db)
    seen_after_return: list[bool] = []
    lock = threading.Lock()

    def handler(n: int) -> None:
        committer.record(event(n))
        with db.reader() as session:
            stored = session.scalar(select(UsageEvent.id).where(UsageEvent.message_id == f"m-{n}"))
        with lock:
            seen_after_return.append(stored is not None)

    threads = [threading.Thread(target=handler, args=(n,)) for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert count(db) == 200 and seen_after_return == [True] * 200
    assert sum(committer.batches) == 200
    assert len(committer.batches) < 200  # some commits carried several events


def test_a_failed_transaction_is_raised_in_each_of_its_handlers(db: Database) -> None:
    committer = GroupCommit(db, lambda: T0)
    with pytest.raises(Exception, match="NOT NULL"):
        committer.record(event(1, project_id=None))
    committer.record(event(2))  # the next batch is not affected
    assert count(db) == 1


def test_a_leader_gathers_as_many_events_as_the_largest_batch_before_committing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(group_commit, "GATHER_SECONDS", WAIT_SECONDS)  # ends once the batch is full
    writing = threading.Event()
    release = threading.Event()

    class HeldCommit(CountingCommit):
        def _write(self, batch: Any) -> None:
            if not self.batches:  # hold the first commit until two more handlers are waiting
                writing.set()
                release.wait(WAIT_SECONDS)
            super()._write(batch)

    committer = HeldCommit(db)

    def record_in_thread(n: int) -> threading.Thread:
        thread = threading.Thread(target=committer.record, args=(event(n),))
        thread.start()
        return thread

    threads = [record_in_thread(1)]  # alone: the largest batch so far is one, so it commits at once
    assert writing.wait(WAIT_SECONDS)
    threads += [record_in_thread(2), record_in_thread(3)]
    wait_until(lambda: len(committer._pending) == 2, what="two handlers waiting", interval=0.01)
    release.set()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    assert committer.batches == [1, 2]
    late = record_in_thread(4)  # now the leader waits for a second event rather than commit one alone
    time.sleep(0.2)
    committer.record(event(5))
    late.join(WAIT_SECONDS)
    assert committer.batches == [1, 2, 2] and count(db) == 5
