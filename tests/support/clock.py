"""A clock a test moves by hand, for code that takes `now` as a callable (token expiry, lockouts)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import overcast.db.base


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@contextlib.contextmanager
def cloud_clock(start: datetime) -> Iterator[FakeClock]:
    """A FakeClock that the rows' own timestamps (created_at, updated_at, deleted_at) follow too, for
    the block: metering's audit and billing's periods read them."""
    clock = FakeClock(start)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(overcast.db.base, "clock", clock)
        yield clock
