"""Dashboard sessions on PostgreSQL: two dashboard processes' stores over one database (SERIALIZABLE
writers, the Core read of every page), sharing a log-in, its changes and its log-out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from overcast.dashboard.client import Login
from overcast.dashboard.sessions import Session, SessionStore
from overcast.db import Database
from tests.support.clock import FakeClock

pytestmark = pytest.mark.postgresql

START = datetime(2026, 1, 1, tzinfo=UTC)


def login(token: str) -> Login:
    return Login(
        token=token,
        expires_at=START + timedelta(hours=1),
        user_id="u",
        user_name="demo",
        domain_name="Default",
        project_id="p",
        project_name="demo",
        roles=("member",),
    )


@pytest.fixture
def database(postgres_db_url: str) -> Iterator[Database]:
    db = Database(postgres_db_url)
    db.upgrade()
    yield db
    db.dispose()


def test_two_stores_share_a_session_its_changes_and_its_end(postgres_db_url: str, database: Database) -> None:
    clock = FakeClock(START)
    one = SessionStore(database, clock, 600, token_clock=clock)
    other = SessionStore.at(postgres_db_url, clock, token_clock=clock)
    try:
        session_id = one.create(Session(login("token-1")))
        seen = other.get(session_id)
        assert seen is not None and seen.login.token == "token-1"
        other.replace_login(session_id, login("token-2"))
        switched = one.get(session_id)
        assert switched is not None and switched.login.token == "token-2"
        clock.now += timedelta(seconds=30)  # past the touch interval: the read also writes last_seen
        assert one.get(session_id) is not None
        one.drop(session_id)
        assert other.get(session_id) is None
    finally:
        other.db.dispose()


def test_a_private_key_is_handed_out_once_however_many_processes_ask_at_once(
    postgres_db_url: str, database: Database
) -> None:
    clock = FakeClock(START)
    stores = [SessionStore(database, clock, 600, token_clock=clock)] + [
        SessionStore.at(postgres_db_url, clock, token_clock=clock) for _ in range(3)
    ]
    try:
        session_id = stores[0].create(Session(login("token-1")))
        stores[0].keep_private_key(session_id, "key", "PRIVATE")
        taken: list[str | None] = []
        lock = threading.Lock()
        start = threading.Barrier(len(stores))

        def take(store: SessionStore) -> None:
            start.wait()
            found = store.take_private_key(session_id, "key")
            with lock:
                taken.append(found)

        threads = [threading.Thread(target=take, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(taken, key=lambda found: found or "") == [None, None, None, "PRIVATE"]
    finally:
        for store in stores[1:]:
            store.db.dispose()
