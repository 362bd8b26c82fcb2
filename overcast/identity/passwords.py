"""Password hashing (argon2id) and the per-user throttle on failed logins."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from overcast.errors import OvercastError


class PasswordHasher:
    """argon2id with the library's recommended cost; tests pass a cheaper cost to stay fast."""

    def __init__(self, time_cost: int = 3, memory_cost_kib: int = 65536, parallelism: int = 1) -> None:
        self._argon2 = Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism)
        # Verifying against this when the user does not exist makes both cases cost the same time.
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash or self._dummy_hash, password) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def waste_time(self, password: str) -> None:
        """Spend the cost of one verification (for logins of users that do not exist)."""
        self.verify(None, password)


def generate_password() -> str:
    return secrets.token_urlsafe(18)


class LoginThrottled(OvercastError):
    status = 429
    title = "Too Many Requests"
    default_message = "Too many failed authentication attempts; try again later."


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LoginThrottle:
    """Counts failed logins per user name (existing or not) and locks the name out for a while.

    Keyed by the name the client typed, so that locking behaves the same for unknown users and does not
    reveal which users exist.
    """

    max_tracked: ClassVar[int] = 100_000

    def __init__(
        self,
        max_failures: int = 5,
        window_seconds: float = 300.0,
        lockout_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.lockout_seconds = lockout_seconds
        self.clock = clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        with self._lock:
            entry = self._failures.get(key)
            if entry is not None and entry.locked_until > self.clock():
                raise LoginThrottled()

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

    def record_success(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _forget_idle(self, now: float) -> None:
        idle = [
            key
            for key, entry in self._failures.items()
            if entry.locked_until <= now and all(now - t >= self.window_seconds for t in entry.times)
        ]
        for key in idle:
            del self._failures[key]
