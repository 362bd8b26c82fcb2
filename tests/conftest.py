"""Shared fixtures: `db` (a migrated database; SQLite unless a module overrides `db_url`) and PostgreSQL.

To run a module's database tests on PostgreSQL, override `db_url` in that module with the fresh database
from `postgres_db_url` (see tests/integration/test_db_postgres.py) and mark it `postgresql`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.db import Database
from tests.support.postgres import PostgresCluster, PostgresUnavailable


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; each test gets a copy (much cheaper than Alembic)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "overcast.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()  # the last connection closing folds the WAL back into the file
    return path


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "db" / "overcast.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def empty_db_url(tmp_path: Path) -> str:
    """A database with no tables at all (for migration tests)."""
    return f"sqlite:///{tmp_path / 'empty' / 'overcast.db'}"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
    except PostgresUnavailable as error:
        cluster.stop()
        pytest.skip(f"PostgreSQL unavailable: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """URL of the session's `overcast_test` database on the private cluster."""
    return postgres_cluster.url(postgres_cluster.create_database("overcast_test"))


@pytest.fixture
def postgres_db_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    name = postgres_cluster.create_database()
    yield postgres_cluster.url(name)
    postgres_cluster.drop_database(name)


# Words in a skip reason that mean "a prerequisite of this machine is missing", not "not applicable".
_MISSING_PREREQUISITE = ("not installed", "unavailable", "could not be installed", "prerequisites")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under OVERCAST_STRICT_PREREQUISITES=1 (scripts/test.sh, so CI) a test skipped because a server or
    tool is missing fails instead: the test command installs everything, so such a skip is a bug."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped or os.environ.get("OVERCAST_STRICT_PREREQUISITES") != "1":
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if any(words in reason.lower() for words in _MISSING_PREREQUISITE):
        report.outcome = "failed"
        report.longrepr = f"prerequisite missing under strict mode: {reason}"
