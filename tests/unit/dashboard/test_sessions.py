from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from overcast.dashboard.client import Login
from overcast.dashboard.sessions import Session, SessionStore
from overcast.db.engine import Database
from overcast.db.models.dashboard_sessions import DashboardSession
from tests.support.clock import FakeClock

START = datetime(2026, 1, 1, tzinfo=UTC)


def login(expires_in: timedelta = timedelta(hours=1), token: str = "token-1") -> Login:
    return Login(
        token=token,
        expires_at=START + expires_in,
        user_id="u",
        user_name="demo",
        domain_name="Default",
        project_id="p",
        project_name="demo",
        roles=("member",),
        catalog=({"type": "compute", "endpoints": [{"interface": "public", "url": "http://cloud/compute"}]},),
    )


def rows(db: Database) -> int:
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(DashboardSession)) or 0


def store(db: Database, clock: FakeClock | None = None, idle_seconds: float = 600) -> SessionStore:
    """A store whose idle timer and token expiry both follow the test's clock."""
    clock = clock or FakeClock(START)
    return SessionStore(db, clock, idle_seconds, token_clock=clock)


def test_a_session_is_found_by_its_id_only_and_comes_back_whole(db: Database) -> None:
    sessions = store(db)
    made = Session(login(), projects=(("p", "demo"), ("q", "other")))
    session_id = sessions.create(made)
    assert sessions.get(session_id) == made
    assert sessions.get(session_id + "x") is None
    assert sessions.get(None) is None


def test_the_database_holds_neither_the_session_id_nor_the_token(db: Database) -> None:
    sessions = store(db)
    made = Session(login(token="gAAAA-the-users-token"))
    session_id = sessions.create(made)
    with db.reader() as session:
        (row,) = session.scalars(select(DashboardSession)).all()
    stored = f"{row.id_hash} {row.sealed}"
    assert session_id not in stored
    assert "the-users-token" not in stored and made.csrf_token not in stored


def test_two_stores_over_one_database_share_sessions_and_their_end(db_url: str, db: Database) -> None:
    """Two dashboard processes: each has its own handle on the cloud's database."""
    clock = FakeClock(START)
    one, other = store(db, clock), SessionStore.at(db_url, clock, token_clock=clock)
    try:
        session_id = one.create(Session(login()))
        assert other.get(session_id) == one.get(session_id)
        # What one process keeps unsealed follows a change made at the other.
        other.replace_login(session_id, login(token="token-2"))
        switched = one.get(session_id)
        assert switched is not None and switched.login.token == "token-2"
        other.keep_private_key(session_id, "key", "PRIVATE")
        assert one.take_private_key(session_id, "key") == "PRIVATE"
        assert other.take_private_key(session_id, "key") is None
        other.drop(session_id)
        assert one.get(session_id) is None
    finally:
        other.db.dispose()


def test_a_session_ends_after_its_idle_time_and_each_request_restarts_it(db: Database) -> None:
    clock = FakeClock(START)
    sessions = store(db, clock)
    session_id = sessions.create(Session(login()))
    clock.now += timedelta(seconds=599)
    assert sessions.get(session_id) is not None
    clock.now += timedelta(seconds=599)
    assert sessions.get(session_id) is not None
    clock.now += timedelta(seconds=600)
    assert sessions.get(session_id) is None
    assert rows(db) == 0


def test_a_session_ends_when_its_token_expires_however_busy(db: Database) -> None:
    clock = FakeClock(START)
    sessions = store(db, clock)
    session_id = sessions.create(Session(login(expires_in=timedelta(minutes=15))))
    for _ in range(3):
        clock.now += timedelta(minutes=5)
        sessions.get(session_id)
    assert sessions.get(session_id) is None


def test_a_project_switch_keeps_the_id_and_csrf_token(db: Database) -> None:
    sessions = store(db)
    first = Session(login())
    session_id = sessions.create(first)
    switched = sessions.replace_login(session_id, login(token="token-2"))
    assert switched is not None and switched.csrf_token == first.csrf_token
    current = sessions.get(session_id)
    assert current is not None and current.login.token == "token-2"


def test_drop_ends_the_session_and_returns_it(db: Database) -> None:
    sessions = store(db)
    session_id = sessions.create(Session(login()))
    dropped = sessions.drop(session_id)
    assert dropped is not None and dropped.login.token == "token-1"
    assert sessions.get(session_id) is None
    assert sessions.drop(session_id) is None


def test_csrf_tokens_are_per_session_and_compared_whole() -> None:
    one, two = Session(login()), Session(login())
    assert one.csrf_token != two.csrf_token
    assert one.csrf_matches(one.csrf_token)
    assert not one.csrf_matches(two.csrf_token)
    assert not one.csrf_matches(one.csrf_token[:-1])
    assert not one.csrf_matches(None)


def test_a_private_key_is_handed_out_once(db: Database) -> None:
    sessions = store(db)
    session_id = sessions.create(Session(login()))
    sessions.keep_private_key(session_id, "one", "PRIVATE-1")
    sessions.keep_private_key(session_id, "two", "PRIVATE-2")
    current = sessions.get(session_id)
    assert current is not None and sorted(current.private_keys) == ["one", "two"]
    assert sessions.take_private_key(session_id, "one") == "PRIVATE-1"
    assert sessions.take_private_key(session_id, "one") is None
    assert sessions.take_private_key(session_id, "two") == "PRIVATE-2"
    sessions.drop(session_id)
    assert sessions.take_private_key(session_id, "two") is None


def test_expired_sessions_are_forgotten_when_new_ones_come(db: Database) -> None:
    clock = FakeClock(START)
    sessions = store(db, clock, idle_seconds=60)
    for _ in range(3):
        sessions.create(Session(login()))
    clock.now += timedelta(seconds=61)
    sessions.create(Session(login(expires_in=timedelta(hours=2))))
    assert rows(db) == 1


def test_token_expiry_is_wall_time_and_idleness_the_cloud_clock(db: Database) -> None:
    """A test cloud's clock may run days ahead; its tokens' expires_at is the identity service's wall time."""
    wall = datetime.now(UTC)
    cloud_clock = FakeClock(wall + timedelta(days=40))
    sessions = SessionStore(db, cloud_clock, idle_seconds=600)
    valid = sessions.create(Session(replace(login(), expires_at=wall + timedelta(hours=1))))
    expired = sessions.create(Session(replace(login(), expires_at=wall - timedelta(seconds=1))))
    assert sessions.get(valid) is not None and sessions.get(expired) is None
    cloud_clock.now += timedelta(seconds=600)
    assert sessions.get(valid) is None
