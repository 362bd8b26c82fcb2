"""Password hashing (argon2id), bounded so that logins cannot exhaust the API's memory or cores."""

from __future__ import annotations

import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from overcast.errors import OvercastError


class LoginThrottled(OvercastError):
    """Too many logins for one user or from one address: the client should wait, not retry at once."""

    status = 429
    title = "Too Many Requests"
    default_message = "Too many failed authentication attempts; try again later."

    def __init__(self, message: str | None = None, *, retry_after_seconds: float = 1.0) -> None:
        super().__init__(message, retry_after=max(1, math.ceil(retry_after_seconds)))


class LoginBusy(OvercastError):
    """Every password-hashing slot is taken and the queue in front of them is full or too slow."""

    status = 503
    title = "Service Unavailable"
    default_message = "The server is busy authenticating other requests; try again later."

    def __init__(self, message: str | None = None, *, retry_after_seconds: float = 1.0) -> None:
        super().__init__(message, retry_after=max(1, math.ceil(retry_after_seconds)))


class HashGate:
    """At most `slots` argon2 computations at once, at most `queue_limit` more waiting for a slot.

    Each argon2id computation holds `memory_cost` (64 MiB by default) and a core for its whole run, so
    the number running at once is the API's memory and CPU spent on logins: sized to the cores, a flood
    of logins costs at most that and a short queue, and whoever finds the queue full (or waits longer
    than `max_wait_seconds`) is refused. A login reserves its place first (`reserve`, never blocking:
    the API does it on its event loop, so a refused login costs no worker thread), then hashes inside
    `Reservation.held()`, whose first hash takes the reserved place instead of queueing anew.
    """

    def __init__(
        self,
        slots: int | None = None,
        queue_limit: int | None = None,
        max_wait_seconds: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = max(1, slots or os.cpu_count() or 1)
        self.queue_limit = max(0, self.slots * 2 if queue_limit is None else queue_limit)
        self.max_wait_seconds = max_wait_seconds
        self.monotonic = monotonic
        self._changed = threading.Condition()
        self._running = 0
        self._waiting = 0
        self._reserved = 0
        # Hashes admitted since start: what a test (or an operator) reads to see what logins cost.
        self.admitted = 0

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def reserved(self) -> int:
        return self._reserved

    def reserve(self) -> Reservation:
        """A place at the gate (a slot or in the queue) for one login, or LoginBusy at once."""
        with self._changed:
            if self._full():
                raise LoginBusy(retry_after_seconds=self.max_wait_seconds)
            self._reserved += 1
        return Reservation(self)

    @contextmanager
    def slot(self) -> Iterator[None]:
        self._acquire()
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify()

    def _full(self) -> bool:
        return self._running + self._waiting + self._reserved >= self.slots + self.queue_limit

    def _give_back(self, reservation: Reservation) -> bool:
        """Turn an unspent reservation back into room; False if it was spent already."""
        with self._changed:
            if reservation.spent:
                return False
            reservation.spent = True
            self._reserved -= 1
            self._changed.notify()
            return True

    def _acquire(self) -> None:
        reservation = _HELD_RESERVATION.get()
        with self._changed:  # reentrant: spending the reservation and queueing are one step
            holds_a_place = (
                reservation is not None and reservation.gate is self and self._give_back(reservation)
            )
            if self._running < self.slots and self._waiting == 0:
                self._admit()
                return
            # A reserved place was counted when it was taken: only a newcomer can find the gate full.
            if not holds_a_place and self._full():
                raise LoginBusy(retry_after_seconds=self.max_wait_seconds)
            self._waiting += 1
            try:
                deadline = self.monotonic() + self.max_wait_seconds
                while self._running >= self.slots:
                    remaining = deadline - self.monotonic()
                    if remaining <= 0:
                        raise LoginBusy(retry_after_seconds=self.max_wait_seconds)
                    self._changed.wait(remaining)
                self._admit()
            finally:
                self._waiting -= 1

    def _admit(self) -> None:
        self._running += 1
        self.admitted += 1


@dataclass
class Reservation:
    """One login's place at a HashGate, from `HashGate.reserve` until its first hash or the end of `held`."""

    gate: HashGate
    spent: bool = False

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hashes in this block (this thread or task) use the place; an unused place is given back."""
        token = _HELD_RESERVATION.set(self)
        try:
            yield
        finally:
            _HELD_RESERVATION.reset(token)
            self.gate._give_back(self)

    def release(self) -> None:
        """Give the place back if no hash used it (a login refused before its hash, or abandoned)."""
        self.gate._give_back(self)


# The reservation of the login running in this context, which its hash spends instead of queueing anew.
_HELD_RESERVATION: ContextVar[Reservation | None] = ContextVar("overcast_hash_reservation", default=None)


class PasswordHasher:
    """argon2id with the library's recommended cost; tests pass a cheaper cost to stay fast.

    Every hash and verification goes through one HashGate, verifications for users that do not exist
    included, so an unknown user costs what a known one does and no more.
    """

    def __init__(
        self,
        time_cost: int = 3,
        memory_cost_kib: int = 65536,
        parallelism: int = 1,
        gate: HashGate | None = None,
    ) -> None:
        self._argon2 = Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism)
        self.gate = gate or HashGate()
        # Verifying against this when the user does not exist makes both cases cost the same time.
        self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        with self.gate.slot():
            return self._argon2.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        with self.gate.slot():
            try:
                matched = self._argon2.verify(password_hash or self._dummy_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False
        return matched and bool(password_hash)

    def waste_time(self, password: str) -> None:
        """Spend the cost of one verification (for logins of users that do not exist)."""
        self.verify(None, password)


def generate_password() -> str:
    return secrets.token_urlsafe(18)
