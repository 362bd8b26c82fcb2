"""The claim races of tests/unit/placement/test_claims.py again on a real PostgreSQL server.

On PostgreSQL claims run in SERIALIZABLE write transactions that really run side by side (SQLite queues
its writers), so this is where the compare-and-swaps' atomicity is tested against true concurrency.
"""

from __future__ import annotations

import pytest

from tests.unit.placement import test_claims

pytestmark = pytest.mark.postgresql

cloud = test_claims.cloud
test_the_loser_of_a_race_for_the_last_slot_gets_the_alternate = (
    test_claims.test_the_loser_of_a_race_for_the_last_slot_gets_the_alternate
)
test_racing_threads_with_separate_caches_never_overcommit = (
    test_claims.test_racing_threads_with_separate_caches_never_overcommit
)
test_racing_scheduler_processes_never_overcommit = (
    test_claims.test_racing_scheduler_processes_never_overcommit
)
test_multi_create_places_all_or_none = test_claims.test_multi_create_places_all_or_none


@pytest.fixture
def db_url(postgres_db_url: str) -> str:
    return postgres_db_url
