"""Rate limits on the public calls, counted in the database so every API process shares them: at most
`limit` attempts of an action per key (an address, a client IP) within a sliding window."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.db.models.portal import PortalAttempt


class TooManyAttempts(errors.OvercastError):
    status = 429
    title = "overLimit"
    default_message = "Too many attempts; try again later."


class AttemptLimits:
    def __init__(self, clock: Callable[[], datetime], window_seconds: int) -> None:
        self.clock = clock
        self.window = timedelta(seconds=window_seconds)

    def take(self, session: Session, action: str, limits: dict[str, int]) -> None:
        """Count one attempt under each key, or raise TooManyAttempts (with retry_after) if any key is
        at its limit; a refused attempt is not counted, so waiting out the window always helps."""
        now = self.clock()
        since = now - self.window
        session.execute(delete(PortalAttempt).where(PortalAttempt.action == action, PortalAttempt.at < since))
        for key, limit in limits.items():
            count, oldest = session.execute(
                select(func.count(), func.min(PortalAttempt.at)).where(
                    PortalAttempt.action == action, PortalAttempt.key == key, PortalAttempt.at >= since
                )
            ).one()
            if count >= limit:
                wait = max(1, math.ceil((oldest + self.window - now).total_seconds()))
                raise TooManyAttempts(f"Too many attempts; try again in {_duration(wait)}.", retry_after=wait)
        for key in limits:
            session.add(PortalAttempt(action=action, key=key, at=now))
        session.flush()


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
