"""Concurrent quota consumption on PostgreSQL: SERIALIZABLE writers plus row locks, retried on conflict."""

from __future__ import annotations

import pytest

from overcast.db import Database
from overcast.quota import QuotaEngine
from tests.unit.test_quota import consume_concurrently

pytestmark = pytest.mark.postgresql


@pytest.fixture
def db_url(postgres_db_url: str) -> str:
    return postgres_db_url


def test_concurrent_consumption_never_exceeds_the_limit_on_postgresql(db: Database) -> None:
    engine = QuotaEngine()
    limit = 5
    with db.writer() as session:
        engine.set_limits(session, "p1", {"instances": limit})
    outcomes = consume_concurrently(db, "p1", 16)
    assert sorted(outcomes) == ["ok"] * limit + ["over"] * (16 - limit)
    with db.reader() as session:
        assert engine.get_usage(session, "p1")["instances"] == limit
