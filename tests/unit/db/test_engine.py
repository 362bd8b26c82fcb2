"""Database transactions, the SQLite recipe and the timestamp columns.

Tests named test_sqlite_* are SQLite-specific; every other test here also runs on PostgreSQL
(tests/integration/test_db_postgres.py).
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text

from overcast.db import Database, ReadOnlySessionError, base
from overcast.db.models import ServiceRecord


def _service(host: str = "node1", binary: str = "overcast-compute") -> ServiceRecord:
    return ServiceRecord(host=host, binary=binary, topic="compute")


def _count(db: Database) -> int:
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(ServiceRecord)) or 0


def _sqlite_path(db: Database) -> str:
    assert db.url.database
    return db.url.database


def test_sqlite_connection_recipe(db: Database) -> None:
    with db.reader() as session:
        pragma = {
            name: session.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        }
        dbapi_connection = session.connection().connection.dbapi_connection
        assert dbapi_connection is not None
        isolation_level = dbapi_connection.isolation_level  # type: ignore[attr-defined]
    # synchronous: 1 is NORMAL.
    assert pragma == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1, "synchronous": 1}
    assert isolation_level is None


def _try_write_lock(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


def test_sqlite_writer_holds_write_lock_from_its_first_statement(db: Database) -> None:
    with db.writer():
        assert not _try_write_lock(_sqlite_path(db))
    with db.reader() as session:
        session.execute(select(ServiceRecord)).all()
        assert _try_write_lock(_sqlite_path(db))
    assert _try_write_lock(_sqlite_path(db))


def test_sqlite_creates_missing_data_directory(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()
    assert path.is_file()


def test_sqlite_memory_database_is_shared_between_threads() -> None:
    database = Database("sqlite://")
    database.upgrade()
    with database.writer() as session:
        session.add(_service())
    counts: list[int] = []
    thread = threading.Thread(target=lambda: counts.append(_count(database)))
    thread.start()
    thread.join()
    database.dispose()
    assert counts == [1]


def test_dialect_name(db: Database) -> None:
    assert db.dialect_name == db.url.get_backend_name()


def test_writer_commits_on_success(db: Database) -> None:
    with db.writer() as session:
        session.add(_service())
    assert _count(db) == 1


def test_writer_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(ZeroDivisionError), db.writer() as session:
        session.add(_service())
        session.flush()
        1 / 0  # noqa: B018
    assert _count(db) == 0


def test_reader_refuses_to_flush_changes(db: Database) -> None:
    with pytest.raises(ReadOnlySessionError), db.reader() as session:
        session.add(_service())
        session.flush()
    assert _count(db) == 0


def test_reader_never_commits_raw_statements(db: Database) -> None:
    insert = text(
        'INSERT INTO services (uuid, host, "binary", topic, report_count, disabled, forced_down,'
        " version, created_at, updated_at) VALUES ('u1', 'h', 'b', 't', 0, false, false, 0,"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    with db.reader() as session:
        if db.dialect_name == "postgresql":
            # PostgreSQL enforces read-only transactions itself; SQLite just never commits.
            with pytest.raises(sa_exc.InternalError, match="read-only transaction"):
                session.execute(insert)
        else:
            session.execute(insert)
    assert _count(db) == 0


def test_nested_writer_joins_the_outer_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError, match="outer failure"), db.writer() as outer:
        with db.writer() as inner:
            assert inner is outer
            inner.add(_service())
        with db.reader() as nested_reader:
            assert nested_reader.scalar(select(func.count()).select_from(ServiceRecord)) == 1
        raise RuntimeError("outer failure")
    assert _count(db) == 0


def test_writer_inside_reader_is_refused(db: Database) -> None:
    with db.reader(), pytest.raises(RuntimeError, match="inside a reader"), db.writer():
        pass


def test_host_and_binary_are_unique(db: Database) -> None:
    with db.writer() as session:
        session.add(_service())
    with pytest.raises(sa_exc.IntegrityError), db.writer() as session:
        session.add(_service())
    with db.writer() as session:
        session.add(_service(binary="overcast-conductor"))
    assert _count(db) == 2


def test_timestamps_come_from_the_injected_clock_as_aware_utc(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    monkeypatch.setattr(base, "clock", lambda: created)
    with db.writer() as session:
        session.add(_service())
    updated = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)
    monkeypatch.setattr(base, "clock", lambda: updated)
    with db.writer() as session:
        session.execute(select(ServiceRecord)).scalar_one().report_count += 1
    with db.reader() as session:
        record = session.execute(select(ServiceRecord)).scalar_one()
    assert (record.created_at, record.updated_at) == (created, updated)
    assert record.created_at.tzinfo is UTC and record.updated_at.tzinfo is UTC
    assert record.created_at.hour == 12


def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(sa_exc.StatementError) as raised, db.writer() as session:
        record = _service()
        record.last_seen_up = datetime(2024, 1, 1, 12, 0)
        session.add(record)
    assert isinstance(raised.value.orig, ValueError)
    assert _count(db) == 0


def test_datetime_comparisons_in_queries(db: Database) -> None:
    seen = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    with db.writer() as session:
        for offset, host in enumerate(("a", "b", "c")):
            record = _service(host=host)
            record.last_seen_up = seen + timedelta(minutes=offset)
            session.add(record)
    cutoff = (seen + timedelta(seconds=30)).astimezone(timezone(timedelta(hours=-5)))
    with db.reader() as session:
        hosts = session.scalars(
            select(ServiceRecord.host).where(ServiceRecord.last_seen_up > cutoff).order_by(ServiceRecord.host)
        ).all()
    assert hosts == ["b", "c"]
