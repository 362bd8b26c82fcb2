"""A clock a test moves by hand, for code that takes `now` as a callable (token expiry, lockouts)."""

from __future__ import annotations

from datetime import UTC, datetime


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now
