"""Shared fixtures: `db` (a migrated database; SQLite unless a module overrides `db_url`) and PostgreSQL.

To run a module's database tests on PostgreSQL, override `db_url` in that module with the fresh database
from `postgres_db_url` (see tests/integration/test_db_postgres.py) and mark it `postgresql`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from overcast.db import Database
from tests.postgres import PostgresCluster, PostgresUnavailable


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
