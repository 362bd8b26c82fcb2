"""The tests of tests/unit/db/ again on a real PostgreSQL server, plus PostgreSQL-only ones.

Every test function there not named test_sqlite_* is collected here too; `db_url` and `empty_db_url` are
overridden so that each test gets its own fresh PostgreSQL database.
"""

from __future__ import annotations

import threading
from types import ModuleType

import pytest
from sqlalchemy import select, update

from overcast.db import Database, retry_on_deadlock
from overcast.db.models import ServiceRecord
from tests.support.waiting import WAIT_SECONDS
from tests.unit.db import test_concurrency, test_engine, test_migrations, test_pagination, test_types

pytestmark = pytest.mark.postgresql

_SHARED_MODULES: tuple[ModuleType, ...] = (
    test_engine,
    test_concurrency,
    test_migrations,
    test_pagination,
    test_types,
)


def _share_tests(namespace: dict[str, object]) -> None:
    for module in _SHARED_MODULES:
        for name, value in vars(module).items():
            if name.startswith("test_") and not name.startswith("test_sqlite_") and callable(value):
                assert name not in namespace, f"two shared database tests are called {name}"
                namespace[name] = value
    # Module-level fixtures those tests use.
    namespace["services"] = test_pagination.services


_share_tests(globals())


@pytest.fixture
def db_url(postgres_db_url: str) -> str:
    return postgres_db_url


@pytest.fixture
def empty_db_url(postgres_db_url: str) -> str:
    return postgres_db_url


def test_postgres_session_database_is_reachable(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        with database.reader() as session:
            assert session.execute(select(1)).scalar_one() == 1
            assert database.dialect_name == "postgresql"
    finally:
        database.dispose()


def test_postgres_deadlock_is_retried_until_both_transactions_commit(db: Database) -> None:
    with db.writer() as session:
        session.add_all([ServiceRecord(host=host, binary="b", topic="t") for host in ("a", "b")])
    both_hold_their_first_row = threading.Barrier(2, timeout=WAIT_SECONDS)
    attempts: list[str] = []
    errors: list[BaseException] = []

    @retry_on_deadlock(attempts=5, base_delay=0.05)
    def bump_in_order(first: str, second: str) -> None:
        first_attempt = first not in attempts
        attempts.append(first)
        with db.writer() as session:
            for host in (first, second):
                session.execute(
                    update(ServiceRecord)
                    .where(ServiceRecord.host == host)
                    .values(report_count=ServiceRecord.report_count + 1)
                )
                if host == first and first_attempt:
                    both_hold_their_first_row.wait()

    def run(first: str, second: str) -> None:
        try:
            bump_in_order(first, second)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=order) for order in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(attempts) == 3  # one of the two was chosen as the deadlock victim and ran again
    with db.reader() as session:
        counts = dict(session.execute(select(ServiceRecord.host, ServiceRecord.report_count)).all())
    assert counts == {"a": 2, "b": 2}
