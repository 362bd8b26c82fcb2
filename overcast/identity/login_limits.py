"""What a login meets before its password is hashed: rate limits, and the lockout of users who failed.

* LoginRateLimiter: token buckets per client address and per user name typed (every attempt takes a
  token, right password or not), so no one address and no one name can keep the hashing slots busy.
  In each process's memory: a limit on how fast one process hashes needs nothing shared.
* LoginLockouts: failed logins of a user, by the user's id, in the database, so the lockout holds
  whether the user is named by name or by id, in every API process and across restarts. One small write
  per failed login; a successful login writes only when it clears earlier failures.
* LoginThrottle: the same lockout for names that match no user, in memory, so that a locked name does
  not tell an attacker that the user exists.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from sqlalchemy import case, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast.db.engine import Database
from overcast.db.models.identity import LoginLockout
from overcast.identity.passwords import LoginThrottled
from overcast.identity.settings import IdentitySettings

Seconds = Callable[[], float]


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class LoginRateLimiter:
    """A token bucket per key: `burst` attempts at once, then `per_second` on average."""

    max_tracked: ClassVar[int] = 100_000

    def __init__(self, burst: int, per_second: float, clock: Seconds, what: str) -> None:
        self.burst = max(1, burst)
        self.per_second = per_second
        self.clock = clock
        self.what = what
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_tracked:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now - bucket.updated_at) * self.per_second
            )
            bucket.updated_at = now
            if bucket.tokens < 1:
                wait = (1 - bucket.tokens) / self.per_second if self.per_second > 0 else 60.0
                raise LoginThrottled(
                    f"Too many logins {self.what}; try again later.", retry_after_seconds=wait
                )
            bucket.tokens -= 1

    def _forget_full(self, now: float) -> None:
        """Buckets that have refilled are the same as no bucket; drop them (all of them if none has)."""
        refilled = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated_at) * self.per_second >= self.burst
        ]
        for key in refilled or list(self._buckets):
            del self._buckets[key]


@dataclass(frozen=True)
class LockoutState:
    failures: int
    locked_until: float


class LoginLockouts:
    """`max_failures` failed logins within `window_seconds` lock the user out for `lockout_seconds`."""

    def __init__(
        self, db: Database, max_failures: int, window_seconds: float, lockout_seconds: float
    ) -> None:
        self.db = db
        self.max_failures = max(1, max_failures)
        self.window_seconds = window_seconds
        self.lockout_seconds = lockout_seconds

    @staticmethod
    def state(session: Session, user_id: str) -> LockoutState | None:
        row = session.get(LoginLockout, user_id)
        return LockoutState(row.failures, row.locked_until) if row is not None else None

    @staticmethod
    def check(state: LockoutState | None, now: float) -> None:
        if state is not None and state.locked_until > now:
            raise LoginThrottled(retry_after_seconds=state.locked_until - now)

    def record_failure(self, user_id: str, now: float) -> None:
        """Count one failure in one statement, so concurrent failures in any process all count."""
        window_over = LoginLockout.window_started_at <= now - self.window_seconds
        failures = case((window_over, 1), else_=LoginLockout.failures + 1)
        locks = failures >= self.max_failures
        counted = (
            update(LoginLockout)
            .where(LoginLockout.user_id == user_id)
            .values(
                failures=case((locks, 0), else_=failures),
                window_started_at=case((window_over, now), else_=LoginLockout.window_started_at),
                locked_until=case((locks, now + self.lockout_seconds), else_=LoginLockout.locked_until),
            )
            .execution_options(synchronize_session=False)
        )

        def count(session: Session) -> None:
            if session.execute(counted).rowcount:  # type: ignore[attr-defined]
                return
            first_locks = self.max_failures <= 1
            session.add(
                LoginLockout(
                    user_id=user_id,
                    failures=0 if first_locks else 1,
                    window_started_at=now,
                    locked_until=now + self.lockout_seconds if first_locks else 0.0,
                )
            )
            session.flush()

        try:
            self.db.write(count)
        except IntegrityError:
            # Another process inserted the user's row first: count this failure on it.
            self.db.write(count)

    def clear(self, user_id: str, state: LockoutState | None, now: float) -> None:
        """Forget earlier failures after a successful login; nothing to write if there were none."""
        if state is None:
            return
        self.db.write(
            lambda session: session.execute(
                delete(LoginLockout).where(LoginLockout.user_id == user_id, LoginLockout.locked_until <= now)
            )
        )


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LoginThrottle:
    """Failed logins per name that matches no user, locking the name as LoginLockouts locks a user."""

    max_tracked: ClassVar[int] = 100_000

    def __init__(
        self, max_failures: int, window_seconds: float, lockout_seconds: float, clock: Seconds
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.lockout_seconds = lockout_seconds
        self.clock = clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            entry = self._failures.get(key)
            if entry is not None and entry.locked_until > now:
                raise LoginThrottled(retry_after_seconds=entry.locked_until - now)

    def record_failure(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= self.max_tracked:
                self._forget_idle(now)
            entry = self._failures.setdefault(key, _Failures())
            entry.times = [t for t in entry.times if now - t < self.window_seconds]
            entry.times.append(now)
            if len(entry.times) >= self.max_failures:
                entry.locked_until = now + self.lockout_seconds
                entry.times.clear()

    def _forget_idle(self, now: float) -> None:
        idle = [
            key
            for key, entry in self._failures.items()
            if entry.locked_until <= now and all(now - t >= self.window_seconds for t in entry.times)
        ]
        for key in idle or list(self._failures):
            del self._failures[key]


class LoginGuard:
    """The limits every password (or application-credential secret) login passes before its hash."""

    def __init__(
        self,
        db: Database,
        config: IdentitySettings,
        wall_clock: Seconds,
        monotonic: Seconds = time.monotonic,
    ) -> None:
        self.now = wall_clock
        self.by_address = LoginRateLimiter(
            config.login_burst_per_address,
            config.logins_per_second_per_address,
            monotonic,
            "from this address",
        )
        self.by_name = LoginRateLimiter(
            config.login_burst_per_user, config.logins_per_second_per_user, monotonic, "for this user"
        )
        self.lockouts = LoginLockouts(
            db, config.max_failed_logins, config.failure_window_seconds, config.lockout_seconds
        )
        self.unknown_names = LoginThrottle(
            config.max_failed_logins, config.failure_window_seconds, config.lockout_seconds, wall_clock
        )

    def admit(self, client_address: str | None, typed_name: str) -> None:
        """Take one attempt from the client address's bucket and the typed name's, or raise 429."""
        if client_address:
            self.by_address.take(client_address)
        self.by_name.take(typed_name)
