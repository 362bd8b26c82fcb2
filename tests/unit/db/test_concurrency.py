"""Concurrent writers: no lost updates across processes, and retry_on_deadlock.

On SQLite writer() alone makes read-modify-write safe (BEGIN IMMEDIATE queues the writers), so the SQLite run
uses no retry at all. On PostgreSQL writer() is SERIALIZABLE: conflicting increments are aborted with
SQLSTATE 40001 and must be run again, so that run goes through Database.write() (retry_on_deadlock).
"""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db import Database, retry_on_deadlock
from overcast.db.models import ServiceRecord
from overcast.db.retry import is_retryable_error

PROCESSES = 4
INCREMENTS = 50
COUNTER_HOST = "counter"


def _increment(session: Session) -> None:
    record = session.execute(select(ServiceRecord).where(ServiceRecord.host == COUNTER_HOST)).scalar_one()
    record.report_count = record.report_count + 1


def _increment_worker(url: str, increments: int, start: threading.Event) -> None:
    database = Database(url)
    try:
        start.wait(30)
        for _ in range(increments):
            if database.dialect_name == "sqlite":
                with database.writer() as session:
                    _increment(session)
            else:
                database.write(_increment, attempts=50)
    finally:
        database.dispose()


def _counter(db: Database) -> int:
    with db.reader() as session:
        return session.execute(
            select(ServiceRecord.report_count).where(ServiceRecord.host == COUNTER_HOST)
        ).scalar_one()


def test_concurrent_read_modify_write_loses_no_update(db: Database, db_url: str) -> None:
    with db.writer() as session:
        session.add(ServiceRecord(host=COUNTER_HOST, binary="overcast-test", topic="test"))
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    workers = [
        spawn.Process(target=_increment_worker, args=(db_url, INCREMENTS, start)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    assert _counter(db) == PROCESSES * INCREMENTS


def test_retry_gives_up_on_errors_that_are_not_conflicts(db: Database) -> None:
    calls: list[int] = []

    @retry_on_deadlock(attempts=5, sleep=lambda delay: None)
    def add_duplicate() -> None:
        calls.append(1)
        with db.writer() as session:
            session.add(ServiceRecord(host="dup", binary="b", topic="t"))

    add_duplicate()
    with pytest.raises(sa_exc.IntegrityError) as raised:
        add_duplicate()
    assert not is_retryable_error(raised.value)
    assert len(calls) == 2


class _WriteLockHolder:
    """Another connection holding SQLite's write lock, as a competing process would."""

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.connection.execute("ROLLBACK")
        self.connection.close()


def _impatient(db: Database) -> Database:
    assert db.url.database
    return Database(f"sqlite:///{db.url.database}", sqlite_busy_timeout=0.02)


def test_sqlite_retry_outlasts_a_held_write_lock(db: Database) -> None:
    impatient = _impatient(db)
    holder = _WriteLockHolder(str(db.url.database))
    releaser = threading.Timer(0.3, holder.release)
    attempts: list[int] = []

    @retry_on_deadlock(attempts=40, base_delay=0.01, max_delay=0.05)
    def add_service() -> None:
        attempts.append(1)
        with impatient.writer() as session:
            session.add(ServiceRecord(host="late", binary="b", topic="t"))

    releaser.start()
    try:
        add_service()
    finally:
        releaser.join()
        impatient.dispose()
    assert len(attempts) > 1
    with db.reader() as session:
        assert session.execute(select(ServiceRecord.host)).scalars().all() == ["late"]


def test_sqlite_retry_gives_up_after_bounded_attempts_with_jittered_backoff(db: Database) -> None:
    impatient = _impatient(db)
    holder = _WriteLockHolder(str(db.url.database))
    delays: list[float] = []
    attempts: list[int] = []

    @retry_on_deadlock(attempts=4, base_delay=0.1, max_delay=0.3, sleep=delays.append, rng=random.Random(7))
    def add_service() -> None:
        attempts.append(1)
        with impatient.writer() as session:
            session.add(ServiceRecord(host="never", binary="b", topic="t"))

    try:
        with pytest.raises(sa_exc.OperationalError, match="database is locked") as raised:
            add_service()
    finally:
        holder.release()
        impatient.dispose()
    assert is_retryable_error(raised.value)
    assert len(attempts) == 4
    caps = [0.2, 0.3, 0.3]  # base_delay * 2**attempt, capped at max_delay
    assert len(delays) == 3 and all(0 <= delay <= cap for delay, cap in zip(delays, caps, strict=True))
    assert len(set(delays)) == 3


def test_sqlite_no_retry_inside_an_open_transaction(db: Database, tmp_path: Path) -> None:
    impatient = _impatient(db)
    holder = _WriteLockHolder(str(db.url.database))
    attempts: list[int] = []

    @retry_on_deadlock(attempts=5, sleep=lambda delay: None)
    def add_service() -> None:
        attempts.append(1)
        with impatient.writer() as session:
            session.add(ServiceRecord(host="nested", binary="b", topic="t"))

    try:
        with db.reader(), pytest.raises(sa_exc.OperationalError):
            add_service()
    finally:
        holder.release()
        impatient.dispose()
    assert len(attempts) == 1
