"""The portal's rate limits on a real database: per key within a sliding window, the refusal's
Retry-After, and a refused attempt not counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from overcast.db import Database
from overcast.portal.limits import AttemptLimits, TooManyAttempts
from tests.support.clock import FakeClock

T0 = datetime(2031, 1, 1, tzinfo=UTC)


def test_each_key_has_its_own_limit_and_the_window_slides(db: Database) -> None:
    clock = FakeClock(T0)
    limits = AttemptLimits(clock, window_seconds=3600)

    def take(address: str, client: str) -> None:
        db.write(lambda session: limits.take(session, "signup", {address: 2, client: 3}))

    take("address:a", "client:1")
    clock.now = T0 + timedelta(minutes=10)
    take("address:a", "client:1")
    with pytest.raises(TooManyAttempts) as refused:
        take("address:a", "client:2")  # the address is at its limit, from any client
    assert refused.value.status == 429
    assert refused.value.details["retry_after"] == 3000  # when the first attempt leaves the window
    assert refused.value.message == "Too many attempts; try again in 50 minutes."
    take("address:b", "client:1")
    with pytest.raises(TooManyAttempts):
        take("address:c", "client:1")  # the client is at its limit, for any address
    take("address:c", "client:2")  # the refused attempts were not counted
    clock.now = T0 + timedelta(minutes=60, seconds=1)
    take("address:a", "client:3")  # the first attempt left the window
    with pytest.raises(TooManyAttempts) as again:
        take("address:a", "client:3")
    assert again.value.details["retry_after"] == 599


def test_actions_count_apart(db: Database) -> None:
    limits = AttemptLimits(FakeClock(T0), window_seconds=60)
    db.write(lambda session: limits.take(session, "signup", {"address:a": 1}))
    db.write(lambda session: limits.take(session, "password-reset", {"address:a": 1}))
    with pytest.raises(TooManyAttempts, match="try again in 60 seconds"):
        db.write(lambda session: limits.take(session, "signup", {"address:a": 1}))
