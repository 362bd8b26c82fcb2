"""Shared fixtures: `db` (a migrated database; SQLite unless a module overrides `db_url`) and PostgreSQL.

To run a module's database tests on PostgreSQL, override `db_url` in that module with the fresh database
from `postgres_db_url` (see tests/integration/test_db_postgres.py) and mark it `postgresql`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


# Work units of the parallel run beyond the tiers' rule (see `pytest_xdist_make_scheduler`): modules
# whose tests each build their own cloud, so they spread over the workers one test at a time.
SPREAD_MODULES = frozenset({"tests/security/test_fuzz.py"})


def work_unit(nodeid: str) -> str:
    """What one xdist worker runs as a whole, from the test's node id (all the controller knows of it).

    tests/integration/ starts real servers and kernel objects that are machine-wide (RabbitMQ on its fixed
    port, tgtd, network namespaces, CPU-bound QEMU guests): it is one unit, so one worker runs it serially
    while the others run the rest. A functional, security or compat module shares one in-process cloud (a
    module fixture) between its tests: it is one unit, so the cloud is built once. Unit tests and the
    modules in SPREAD_MODULES go one test at a time.
    """
    module = nodeid.partition("::")[0]
    if module.startswith("tests/integration/"):
        return "tests/integration"
    if (
        module.startswith(("tests/functional/", "tests/security/", "tests/compat/"))
        and module not in SPREAD_MODULES
    ):
        return module
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope` (scripts/test.sh) schedules by `work_unit` instead of by module or class.

    (xdist's own `loadgroup` reads groups from renamed node ids, which pytest 9 no longer lets it rename.)
    """
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)


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
