"""Polling for what another thread or process makes true."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# How long a test waits for what it expects to happen (a reply, a thread's end, an event): CI runs the suite
# beside QEMU guests on two cores, where 10-20 s waits were starved; a wait that succeeds is no slower for it.
# A wait for what must NOT happen stays short.
WAIT_SECONDS = 60.0


def wait_until(
    predicate: Callable[[], T],
    timeout: float = WAIT_SECONDS,
    *,
    what: str = "the condition",
    interval: float = 0.05,
) -> T:
    """The predicate's first truthy result; fails the test if none comes within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)
    return result
