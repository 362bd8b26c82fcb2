"""Retrying a whole transaction when the database refused it because of a concurrent one."""

from __future__ import annotations

import functools
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar, overload

from sqlalchemy import exc as sa_exc

from overcast.db import ambient

LOG = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# serialization_failure and deadlock_detected: PostgreSQL aborted the transaction; running it again is safe.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# SQLITE_BUSY and SQLITE_LOCKED (the low byte also covers extended codes such as SQLITE_BUSY_SNAPSHOT).
_SQLITE_RETRYABLE_CODES = frozenset({5, 6})
_SQLITE_RETRYABLE_MESSAGES = ("database is locked", "database is busy", "database table is locked")


def is_retryable_error(error: BaseException) -> bool:
    """True when `error` means "another transaction got in the way", not "this transaction is wrong"."""
    original = error.orig if isinstance(error, sa_exc.DBAPIError) else error
    if getattr(original, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    if isinstance(original, sqlite3.OperationalError):
        code = getattr(original, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _SQLITE_RETRYABLE_CODES:
            return True
        message = str(original).lower()
        return any(text in message for text in _SQLITE_RETRYABLE_MESSAGES)
    return False


@overload
def retry_on_deadlock(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def retry_on_deadlock(
    *,
    attempts: int = ...,
    base_delay: float = ...,
    max_delay: float = ...,
    sleep: Callable[[float], None] = ...,
    rng: random.Random | None = ...,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def retry_on_deadlock(
    fn: Callable[P, R] | None = None,
    /,
    *,
    attempts: int = 10,
    base_delay: float = 0.02,
    max_delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Run `fn` again when the database aborted its transaction because of a concurrent one.

    The decorated function must open its own transaction (`with db.writer() as session: ...`) so that each
    attempt starts afresh. When it is called inside an already open transaction it is run once without
    retrying: the outer transaction is dead after such an error, so only the outermost retry can help.

    Use as `@retry_on_deadlock` or `@retry_on_deadlock(attempts=5)`. Between attempts it sleeps a random
    ("full jitter") time up to base_delay * 2**attempt, capped at max_delay, so that competing workers
    spread out. After `attempts` failures the last error is raised unchanged.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    jitter = rng or random.Random()

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            if ambient.active_transaction() is not None:
                return func(*args, **kwargs)
            for attempt in range(1, attempts + 1):
                try:
                    return func(*args, **kwargs)
                except Exception as error:
                    if attempt == attempts or not is_retryable_error(error):
                        raise
                    delay = jitter.uniform(0, min(max_delay, base_delay * 2**attempt))
                    LOG.debug(
                        "%s: transaction conflict (%s); retry %d in %.3fs",
                        func.__qualname__,
                        error.__class__.__name__,
                        attempt,
                        delay,
                    )
                    sleep(delay)
            raise AssertionError("unreachable")

        return wrapper

    return decorate(fn) if fn is not None else decorate
