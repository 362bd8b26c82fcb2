"""The database handle: one engine, read and write transactions, migrations.

Transaction semantics (the same promise on both backends: a writer() block behaves as if it ran alone):

* SQLite: WAL journal, pysqlite's own transaction handling switched off, and every writer() starts with
  `BEGIN IMMEDIATE`, which takes the database's write lock before the first read. Writers therefore queue
  (up to busy_timeout) instead of interleaving, so read-modify-write inside writer() cannot lose updates.
  Readers use a plain deferred `BEGIN` and read one consistent snapshot without blocking writers.
* PostgreSQL: writer() runs at SERIALIZABLE isolation. Concurrent writers run in parallel and PostgreSQL
  aborts one of two conflicting transactions with a serialization failure (SQLSTATE 40001), so a
  read-modify-write never silently loses an update; wrap the unit of work in `retry_on_deadlock` (or use
  `Database.write(fn)`) so the aborted one runs again. Readers are REPEATABLE READ READ ONLY (one snapshot,
  like SQLite's, and the server refuses writes).

Nesting: a reader() or writer() opened inside a writer() of the same Database joins the outer transaction
(the outer block commits). A writer() inside a reader() is refused: open the writer first.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from overcast.db import ambient, migrate
from overcast.db.retry import is_retryable_error, retry_on_deadlock

__all__ = ["Database", "ReadOnlySessionError", "is_retryable_error", "retry_on_deadlock"]

LOG = logging.getLogger(__name__)
T = TypeVar("T")

# Execution option read by the SQLite "begin" hook: which BEGIN statement opens the transaction.
_SQLITE_BEGIN = "overcast_sqlite_begin"


class ReadOnlySessionError(RuntimeError):
    """Something tried to flush changes through a reader() session."""


class _ReaderSession(Session):
    pass


@event.listens_for(_ReaderSession, "before_flush")
def _refuse_flush(session: Session, flush_context: Any, instances: Any) -> None:
    raise ReadOnlySessionError("reader() sessions are read-only; use Database.writer() to change data")


def _is_memory_sqlite(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or database.startswith("file::memory:")


def _sqlite_engine(url: URL, echo: bool, busy_timeout: float) -> Engine:
    memory = _is_memory_sqlite(url)
    if memory:
        # One connection shared by every thread; without StaticPool each connection gets an empty database.
        engine = create_engine(
            url, echo=echo, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        database = Path(url.database or "").expanduser().absolute()
        database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Password hashes and secrets live here, and SQLite gives its -wal and -shm files the
        # database file's mode: create it private before SQLite creates it world-readable.
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
        engine = create_engine(url, echo=echo, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, connection_record: Any) -> None:
        # pysqlite would BEGIN lazily before the first write only (after our SELECTs), which is what
        # loses updates; with isolation_level=None it emits nothing and our "begin" hook decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))

    return engine


class Database:
    """One database: `sqlite:///path`, `sqlite://` (in memory) or `postgresql+psycopg://...`."""

    def __init__(self, url: str, *, echo: bool = False, sqlite_busy_timeout: float = 30.0) -> None:
        self.url = make_url(url)
        # An in-memory database lives in one connection, so its sessions must take turns.
        self._turns: threading.RLock | None = None
        # SQLite has one writer at a time, and a BEGIN IMMEDIATE that finds the lock taken sleeps in
        # SQLite's busy handler (1, 2, 5, 10 ... 100 ms) rather than waking when it frees: this process's
        # writers queue here instead, so the next one starts as soon as the last commits. BEGIN IMMEDIATE
        # still takes SQLite's lock, which other processes share.
        self._writer_turns: threading.Lock | None = None
        self._writer_wait = sqlite_busy_timeout
        if self.url.get_backend_name() == "sqlite":
            self.engine: Engine = _sqlite_engine(self.url, echo, sqlite_busy_timeout)
            if _is_memory_sqlite(self.url):
                self._turns = threading.RLock()
            else:
                self._writer_turns = threading.Lock()
            self._reader_options: dict[str, Any] = {_SQLITE_BEGIN: "BEGIN"}
            self._writer_options: dict[str, Any] = {_SQLITE_BEGIN: "BEGIN IMMEDIATE"}
        else:
            self.engine = create_engine(self.url, echo=echo, pool_pre_ping=True)
            self._reader_options = {"isolation_level": "REPEATABLE READ"}
            self._writer_options = {"isolation_level": "SERIALIZABLE"}
            if self.dialect_name == "postgresql":
                self._reader_options["postgresql_readonly"] = True

    @property
    def dialect_name(self) -> str:
        return self.engine.dialect.name

    def __repr__(self) -> str:
        return f"<Database {self.url.render_as_string(hide_password=True)}>"

    def _own_transaction(self) -> ambient.ActiveTransaction | None:
        current = ambient.active_transaction()
        return current if current is not None and current.owner is self else None

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session on one consistent snapshot; nothing is ever committed."""
        outer = self._own_transaction()
        if outer is not None:
            yield outer.session
            return
        with self._turns or nullcontext(), _ReaderSession(self.engine, expire_on_commit=False) as session:
            # Closing (not rolling back) keeps loaded objects usable after the block; the connection's
            # transaction is still rolled back when the pool takes it back.
            session.connection(execution_options=self._reader_options)
            with ambient.activated(ambient.ActiveTransaction(self, session, writable=False)):
                yield session

    @contextmanager
    def writer(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        outer = self._own_transaction()
        if outer is not None:
            if not outer.writable:
                raise RuntimeError("cannot open a writer() inside a reader(); open the writer() first")
            yield outer.session
            return
        with (
            self._turns or nullcontext(),
            self._writer_turn(),
            Session(self.engine, expire_on_commit=False) as session,
        ):
            try:
                session.connection(execution_options=self._writer_options)
                with ambient.activated(ambient.ActiveTransaction(self, session, writable=True)):
                    yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if self._writer_turns is None:
            yield
            return
        # Past the busy timeout, BEGIN IMMEDIATE waits (and fails) as it would have without the queue.
        queued = self._writer_turns.acquire(timeout=self._writer_wait)
        try:
            yield
        finally:
            if queued:
                self._writer_turns.release()

    def write(self, work: Callable[[Session], T], *, attempts: int = 10) -> T:
        """Run `work(session)` in a writer(), running it again when a concurrent transaction aborted it."""

        @retry_on_deadlock(attempts=attempts)
        def attempt() -> T:
            with self.writer() as session:
                return work(session)

        return attempt()

    def upgrade(self, revision: str = "heads") -> None:
        """Bring the schema to `revision` (Alembic, migrations shipped inside the package)."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(**self._writer_options)
            with connection.begin():
                migrate.upgrade(connection, revision)

    def dispose(self) -> None:
        self.engine.dispose()
