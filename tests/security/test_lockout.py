"""Failed logins lock the user, by id, in every API process and across restarts (#12 defect 10).

The lockout used to be keyed by the name the client typed and kept in each process's memory: after
locking a user's name, the right password by user id still got a token, and another API process or a
restart forgot the count. Two API apps on one database, through real HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.connection import Connection
from sqlalchemy import event, select

from overcast.db import Database
from overcast.db.models.identity import LoginLockout
from overcast.errors import Unauthorized
from overcast.identity.login_limits import LockoutState, LoginLockouts
from overcast.identity.passwords import LoginThrottled, PasswordHasher
from overcast.identity.service import IdentityService
from overcast.identity.settings import IdentitySettings
from tests.support.api_apps import identity_app, roomy_login_limits, served
from tests.support.clock import FakeClock
from tests.support.cloud import InProcessCloud

TOKENS = "/identity/v3/auth/tokens"
PASSWORD = "the-right-password"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    with roomy_login_limits():
        running = InProcessCloud(tmp_path_factory.mktemp("lockout"))
    yield running
    running.stop()


@contextmanager
def another_api(cloud: InProcessCloud) -> Iterator[str]:
    """A second API app (its own identity service and memory) on the cloud's database, over HTTP."""
    with roomy_login_limits():
        app = identity_app(cloud)
    with served(app) as base_url:
        yield base_url


def new_user(admin: Connection, name: str) -> str:
    identity: Any = admin.identity  # the v3 proxy; the SDK's annotations allow v2's too
    project = identity.create_project(name=f"{name}-project", domain_id="default")
    user = identity.create_user(
        name=name, password=PASSWORD, domain_id="default", default_project_id=project.id
    )
    identity.assign_project_role_to_user(project, user, identity.find_role("member"))
    return str(user.id)


def by_name(name: str, password: str) -> dict[str, Any]:
    user = {"name": name, "domain": {"name": "Default"}, "password": password}
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}


def by_id(user_id: str, password: str) -> dict[str, Any]:
    user = {"id": user_id, "password": password}
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}


def login(base_url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(base_url + TOKENS, json=body, timeout=60)


def assert_locked(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == 429
    assert int(response.headers["Retry-After"]) >= 1


def test_a_name_locked_in_one_api_is_locked_by_id_in_another_and_after_a_restart(
    cloud: InProcessCloud, admin: Connection
) -> None:
    user_id = new_user(admin, "victim")
    statuses = [login(cloud.base_url, by_name("victim", "guess")).status_code for _ in range(5)]
    assert statuses == [401] * 5
    assert_locked(login(cloud.base_url, by_name("victim", PASSWORD)))
    with another_api(cloud) as second:
        assert_locked(login(second, by_id(user_id, PASSWORD)))
    with another_api(cloud) as restarted:
        assert_locked(login(restarted, by_name("victim", PASSWORD)))
        assert_locked(login(restarted, by_id(user_id, PASSWORD)))


def test_failures_in_two_apis_add_up(cloud: InProcessCloud, admin: Connection) -> None:
    user_id = new_user(admin, "spread")
    with another_api(cloud) as second:
        for _ in range(3):
            assert login(cloud.base_url, by_name("spread", "guess")).status_code == 401
        for _ in range(2):
            assert login(second, by_id(user_id, "guess")).status_code == 401
        assert_locked(login(cloud.base_url, by_id(user_id, PASSWORD)))
        assert_locked(login(second, by_name("spread", PASSWORD)))


def test_an_unknown_name_locks_like_a_user_so_the_lockout_does_not_reveal_users(
    cloud: InProcessCloud, admin: Connection
) -> None:
    new_user(admin, "real")
    known = [login(cloud.base_url, by_name("real", "guess")) for _ in range(6)]
    unknown = [login(cloud.base_url, by_name("ghost", "guess")) for _ in range(6)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 5 + [429]
    assert [r.json() for r in known] == [r.json() for r in unknown]


def test_one_small_write_per_failure_and_none_for_a_clean_success(
    cloud: InProcessCloud, admin: Connection
) -> None:
    user_id = new_user(admin, "counted")
    writes: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "identity_login_lockouts" in statement and not statement.lstrip().upper().startswith("SELECT"):
            writes.append(statement.split()[0].upper())

    engine = cloud.cloud.db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert login(cloud.base_url, by_name("counted", PASSWORD)).status_code == 201
        assert writes == []
        assert login(cloud.base_url, by_id(user_id, "guess")).status_code == 401
        assert writes == ["UPDATE", "INSERT"]  # the update finds no row: the first failure inserts it
        writes.clear()
        assert login(cloud.base_url, by_name("counted", "guess")).status_code == 401
        assert writes == ["UPDATE"]
        writes.clear()
        assert login(cloud.base_url, by_name("counted", PASSWORD)).status_code == 201
        assert writes == ["DELETE"]  # a success after failures forgets them
        writes.clear()
        assert login(cloud.base_url, by_id(user_id, PASSWORD)).status_code == 201
        assert writes == []
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_lock_ends_after_lockout_seconds_and_deleting_the_user_drops_its_row(
    cloud: InProcessCloud, admin: Connection
) -> None:
    user_id = new_user(admin, "patient")
    clock = FakeClock()
    config = IdentitySettings(max_failed_logins=2, lockout_seconds=60, login_burst_per_address=1000)
    identity = IdentityService(
        cloud.settings, cloud.cloud.db, config, clock=clock, hasher=PasswordHasher(1, 1024)
    )
    for _ in range(2):
        with pytest.raises(Unauthorized):
            identity.tokens.issue(by_id(user_id, "guess")["auth"])
    with pytest.raises(LoginThrottled):
        identity.tokens.issue(by_name("patient", PASSWORD)["auth"])
    clock.now += timedelta(seconds=61)
    identity.tokens.issue(by_name("patient", PASSWORD)["auth"])

    with pytest.raises(Unauthorized):
        identity.tokens.issue(by_id(user_id, "guess")["auth"])
    admin.identity.delete_user(user_id)
    with cloud.cloud.db.reader() as session:
        assert session.scalars(select(LoginLockout).where(LoginLockout.user_id == user_id)).first() is None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """One database that every thread below writes to, as every API process does."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'lockout.db'}"
    else:
        url = request.getfixturevalue("postgres_db_url")
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


def test_concurrent_failures_all_count_then_lock(shared_db: Database) -> None:
    now = 1_000_000.0
    lockouts = LoginLockouts(shared_db, max_failures=41, window_seconds=300, lockout_seconds=60)
    start = threading.Barrier(8)

    def fail_five_times() -> None:
        start.wait()  # the first failures race to insert the row, the rest to update it
        for _ in range(5):
            lockouts.record_failure("user-x", now)

    workers = [threading.Thread(target=fail_five_times) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    with shared_db.reader() as session:
        assert lockouts.state(session, "user-x") == LockoutState(failures=40, locked_until=0.0)
    lockouts.record_failure("user-x", now + 1)
    with shared_db.reader() as session:
        state = lockouts.state(session, "user-x")
    assert state == LockoutState(failures=0, locked_until=now + 61)
    with pytest.raises(LoginThrottled):
        LoginLockouts.check(state, now + 60)
    LoginLockouts.check(state, now + 61)
