"""Quotas: defaults, per-project limits, consumption and release, and concurrent consumption."""

from __future__ import annotations

import threading

import pytest

from overcast.db import Database
from overcast.errors import BadRequest, QuotaExceeded
from overcast.quota import DEFAULT_LIMITS, QuotaEngine

ENGINE = QuotaEngine()


def test_limits_default_then_follow_admin_changes(db: Database) -> None:
    with db.writer() as session:
        assert ENGINE.get_limits(session, "p1") == DEFAULT_LIMITS
        ENGINE.set_defaults(session, {"instances": 5})
        ENGINE.set_limits(session, "p1", {"cores": 4, "ram": -1})
    with db.reader() as session:
        limits = ENGINE.get_limits(session, "p1")
        assert (limits["instances"], limits["cores"], limits["ram"]) == (5, 4, -1)
        assert ENGINE.get_limits(session, "p2")["cores"] == DEFAULT_LIMITS["cores"]
    with db.writer() as session:
        ENGINE.reset_limits(session, "p1")
        assert ENGINE.get_limits(session, "p1")["cores"] == DEFAULT_LIMITS["cores"]


def test_consume_counts_and_refuses_beyond_the_limit_with_novas_message(db: Database) -> None:
    with db.writer() as session:
        ENGINE.set_limits(session, "p1", {"instances": 2, "cores": 10})
        ENGINE.consume(session, "p1", {"instances": 1, "cores": 4})
        ENGINE.consume(session, "p1", {"instances": 1, "cores": 4})
    with pytest.raises(QuotaExceeded) as caught, db.writer() as session:
        ENGINE.consume(session, "p1", {"instances": 1, "cores": 1})
    assert (
        caught.value.message == "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
    )
    assert caught.value.status == 403
    with db.reader() as session:
        usage = ENGINE.get_usage(session, "p1")
    assert (usage["instances"], usage["cores"]) == (2, 8)


def test_a_refused_request_changes_no_counter(db: Database) -> None:
    with db.writer() as session:
        ENGINE.set_limits(session, "p1", {"cores": 3})
    with pytest.raises(QuotaExceeded, match="cores"), db.writer() as session:
        ENGINE.consume(session, "p1", {"instances": 1, "cores": 4})
    with db.reader() as session:
        assert ENGINE.get_usage(session, "p1")["instances"] == 0


def test_release_gives_back_and_never_goes_negative(db: Database) -> None:
    with db.writer() as session:
        ENGINE.consume(session, "p1", {"instances": 2, "cores": 8})
        ENGINE.release(session, "p1", {"instances": 1, "cores": 4})
        assert ENGINE.get_usage(session, "p1")["cores"] == 4
        ENGINE.release(session, "p1", {"instances": 5})
        assert ENGINE.get_usage(session, "p1")["instances"] == 0


def test_unlimited_and_validation(db: Database) -> None:
    with db.writer() as session:
        ENGINE.set_limits(session, "p1", {"key_pairs": -1})
        ENGINE.consume(session, "p1", {"key_pairs": 10_000})
        with pytest.raises(BadRequest, match="Unknown quota resources"):
            ENGINE.consume(session, "p1", {"unicorns": 1})
        with pytest.raises(BadRequest):
            ENGINE.set_limits(session, "p1", {"instances": -2})
        ENGINE.consume(session, "p1", {"instances": 3})
        with pytest.raises(BadRequest, match="already used"):
            ENGINE.set_limits(session, "p1", {"instances": 2})
        ENGINE.set_limits(session, "p1", {"instances": 2}, force=True)


def test_setting_no_limits_changes_nothing(db: Database) -> None:
    with db.writer() as session:
        ENGINE.set_limits(session, "p1", {"instances": 4})
        assert ENGINE.set_limits(session, "p1", {})["instances"] == 4
        assert ENGINE.set_limits(session, "p2", {}, force=True) == ENGINE.get_defaults(session)


def consume_concurrently(db: Database, project_id: str, attempts: int) -> list[str]:
    """Fire `attempts` threads that each create one instance; returns each one's outcome."""
    outcomes: list[str] = []
    barrier = threading.Barrier(attempts)
    lock = threading.Lock()

    def create_one() -> None:
        barrier.wait()
        try:
            db.write(lambda session: ENGINE.consume(session, project_id, {"instances": 1, "cores": 1}))
            result = "ok"
        except QuotaExceeded:
            result = "over"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=create_one) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_concurrent_consumption_never_exceeds_the_limit(db: Database) -> None:
    limit = 7
    with db.writer() as session:
        ENGINE.set_limits(session, "p1", {"instances": limit})
    outcomes = consume_concurrently(db, "p1", 20)
    assert sorted(outcomes) == ["ok"] * limit + ["over"] * (20 - limit)
    with db.reader() as session:
        assert ENGINE.get_usage(session, "p1")["instances"] == limit


# --- per-user limits --------------------------------------------------------------------------------
def test_a_user_has_the_projects_limits_until_given_their_own(db: Database) -> None:
    with db.writer() as session:
        ENGINE.set_limits(session, "p1", {"instances": 6})
        assert ENGINE.get_user_limits(session, "p1", "u1")["instances"] == 6
        limits = ENGINE.set_user_limits(session, "p1", "u1", {"instances": 2, "ram": 1024}, {})
        assert (limits["instances"], limits["ram"], limits["cores"]) == (2, 1024, DEFAULT_LIMITS["cores"])
        assert ENGINE.get_user_limits(session, "p1", "u2")["instances"] == 6
        ENGINE.reset_user_limits(session, "p1", "u1")
        assert ENGINE.get_user_limits(session, "p1", "u1")["instances"] == 6


def test_users_share_the_projects_limit(db: Database) -> None:
    with db.writer() as session:
        ENGINE.set_limits(session, "p1", {"instances": 10})
        ENGINE.set_user_limits(session, "p1", "u1", {"instances": 4}, {})
    with pytest.raises(BadRequest, match="must be less than or equal to 6"), db.writer() as session:
        ENGINE.set_user_limits(session, "p1", "u2", {"instances": 7}, {})
    with pytest.raises(BadRequest, match="must be less than or equal to 6"), db.writer() as session:
        ENGINE.set_user_limits(session, "p1", "u2", {"instances": -1}, {})
    with db.writer() as session:
        # u1 may grow into what is left, and their own 4 on top of it.
        assert ENGINE.set_user_limits(session, "p1", "u1", {"instances": 10}, {})["instances"] == 10
    with pytest.raises(BadRequest, match="already used and reserved 10"), db.writer() as session:
        ENGINE.set_limits(session, "p1", {"instances": 9})
    with pytest.raises(BadRequest, match="already used and reserved 3"), db.writer() as session:
        ENGINE.set_user_limits(session, "p1", "u1", {"instances": 2}, {"instances": 3})
    with db.writer() as session:
        assert ENGINE.set_user_limits(session, "p1", "u1", {"instances": 2}, {"instances": 3}, force=True)
        ENGINE.reset_limits(session, "p1")
        assert ENGINE.own_user_limits(session, "p1", "u1") == {}


def test_check_user_counts_only_for_a_user_with_an_own_limit(db: Database) -> None:
    counted: list[str] = []

    def count(held: int) -> dict[str, int]:
        counted.append("asked")
        return {"instances": held}

    with db.writer() as session:
        ENGINE.check_user(session, "p1", "u1", {"instances": 1}, lambda: count(99))
        assert counted == []
        ENGINE.set_user_limits(session, "p1", "u1", {"instances": 2}, {})
        ENGINE.check_user(session, "p1", "u1", {"instances": 1}, lambda: count(1))
        ENGINE.check_user(session, "p1", "u1", {"instances": -1, "cores": 5}, lambda: count(9))
        assert counted == ["asked"]
    with pytest.raises(QuotaExceeded) as caught, db.writer() as session:
        ENGINE.check_user(session, "p1", "u1", {"instances": 1}, lambda: count(2))
    assert (
        caught.value.message == "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
    )
