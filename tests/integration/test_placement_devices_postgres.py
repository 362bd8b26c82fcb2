"""The device claim races of tests/unit/placement/test_devices.py again on a real PostgreSQL server."""

from __future__ import annotations

import pytest

from tests.unit.placement import test_devices

pytestmark = pytest.mark.postgresql

cloud = test_devices.cloud
test_threads_racing_for_the_last_gpu_never_both_win = (
    test_devices.test_threads_racing_for_the_last_gpu_never_both_win
)
test_schedulers_with_stale_caches_racing_for_gpus_never_overcommit = (
    test_devices.test_schedulers_with_stale_caches_racing_for_gpus_never_overcommit
)
test_a_claim_takes_the_gpu_and_a_release_gives_it_back = (
    test_devices.test_a_claim_takes_the_gpu_and_a_release_gives_it_back
)


@pytest.fixture
def db_url(postgres_db_url: str) -> str:
    return postgres_db_url
