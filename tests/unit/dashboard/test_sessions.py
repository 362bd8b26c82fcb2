from __future__ import annotations

from datetime import UTC, datetime, timedelta

from overcast.dashboard.client import Login
from overcast.dashboard.sessions import Session, SessionStore
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
    )


def store(clock: FakeClock, idle: float = 600) -> SessionStore:
    return SessionStore(clock, idle_seconds=idle)


def test_a_session_is_found_by_its_id_only() -> None:
    sessions = store(FakeClock(START))
    session_id = sessions.create(Session(login()))
    assert sessions.get(session_id) is not None
    assert sessions.get(session_id + "x") is None
    assert sessions.get(None) is None
    assert session_id not in sessions._entries


def test_a_session_ends_after_its_idle_time_and_each_request_restarts_it() -> None:
    clock = FakeClock(START)
    sessions = store(clock, idle=600)
    session_id = sessions.create(Session(login()))
    clock.now += timedelta(seconds=599)
    assert sessions.get(session_id) is not None
    clock.now += timedelta(seconds=599)
    assert sessions.get(session_id) is not None
    clock.now += timedelta(seconds=600)
    assert sessions.get(session_id) is None
    assert len(sessions) == 0


def test_a_session_ends_when_its_token_expires_however_busy() -> None:
    clock = FakeClock(START)
    sessions = store(clock, idle=600)
    session_id = sessions.create(Session(login(expires_in=timedelta(minutes=15))))
    for _ in range(3):
        clock.now += timedelta(minutes=5)
        sessions.get(session_id)
    assert sessions.get(session_id) is None


def test_a_project_switch_keeps_the_id_and_csrf_token() -> None:
    sessions = store(FakeClock(START))
    first = Session(login())
    session_id = sessions.create(first)
    switched = sessions.replace_login(session_id, login(token="token-2"))
    assert switched is not None and switched.csrf_token == first.csrf_token
    current = sessions.get(session_id)
    assert current is not None and current.login.token == "token-2"


def test_drop_ends_the_session_and_returns_it() -> None:
    sessions = store(FakeClock(START))
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


def test_expired_sessions_are_forgotten_when_new_ones_come() -> None:
    clock = FakeClock(START)
    sessions = store(clock, idle=60)
    for _ in range(3):
        sessions.create(Session(login()))
    clock.now += timedelta(seconds=61)
    sessions.create(Session(login(expires_in=timedelta(hours=2))))
    assert len(sessions) == 1
