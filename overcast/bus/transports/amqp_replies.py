"""Reply queue of the AMQP transport, read by the callers themselves (leader/follower).

A dedicated reply thread would cost every call one more thread wakeup, which on a small VM is a large
share of a broker round trip. Instead, whichever waiting caller holds the drain lock (the leader) reads
the connection and hands each reply to its caller's waiter; the others sleep on their own waiter. A
leader whose reply arrived leaves and wakes one follower to take over.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import kombu
from kombu.message import Message

from overcast.bus.transports.amqp_connections import (
    close_quietly,
    connection_errors,
    decode,
    open_connection,
    safe_uri,
)
from overcast.errors import ServiceUnavailable

LOG = logging.getLogger(__name__)

# A follower re-checks the drain lock this often even unwoken, so a missed handoff only costs latency.
_FOLLOWER_POLL = 0.05
_CONNECT_ATTEMPTS = 3


class _Waiter:
    __slots__ = ("signaled", "value", "wakeup")

    def __init__(self) -> None:
        self.wakeup = threading.Lock()
        self.wakeup.acquire()
        self.value: str | None = None
        self.signaled = False


class ReplyQueue:
    def __init__(self, url: str, name: str) -> None:
        self._url = url
        self.name = name
        self._errors = connection_errors(url)
        self._drain_lock = threading.Lock()
        self._lock = threading.Lock()  # guards _waiters and every waiter's signaled flag
        self._waiters: dict[str, _Waiter] = {}
        self._connection: kombu.Connection | None = None

    def ensure_consuming(self) -> None:
        """The queue must exist before a request names it as reply_to, or the broker drops the reply."""
        if self._connection is not None:
            return
        with self._drain_lock:
            self._connect_if_needed()

    def expect(self, msg_id: str) -> None:
        with self._lock:
            self._waiters[msg_id] = _Waiter()

    def forget(self, msg_id: str) -> None:
        with self._lock:
            self._waiters.pop(msg_id, None)

    def wait(self, msg_id: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        waiter = self._waiters[msg_id]
        try:
            while waiter.value is None and (remaining := deadline - time.monotonic()) > 0:
                if self._drain_lock.acquire(blocking=False):
                    try:
                        self._lead(waiter, deadline)
                    finally:
                        self._drain_lock.release()
                elif waiter.wakeup.acquire(timeout=min(remaining, _FOLLOWER_POLL)):
                    with self._lock:
                        waiter.signaled = False
            return waiter.value
        finally:
            with self._lock:
                self._waiters.pop(msg_id, None)
            self._hand_over()

    def close(self) -> None:
        with self._drain_lock:
            if self._connection is not None:
                close_quietly(self._connection)
                self._connection = None

    def _lead(self, waiter: _Waiter, deadline: float) -> None:
        while waiter.value is None and (remaining := deadline - time.monotonic()) > 0:
            try:
                connection = self._connect_if_needed()
                connection.drain_events(timeout=remaining)
            except TimeoutError:
                return
            except self._errors as exc:
                LOG.warning("Reply queue connection to %s lost: %s", safe_uri(self._url), exc)
                self._drop_connection()
                time.sleep(min(0.1, max(deadline - time.monotonic(), 0.0)))
            except ServiceUnavailable:
                return

    def _connect_if_needed(self) -> kombu.Connection:
        if self._connection is not None:
            return self._connection
        failure: BaseException | None = None
        for attempt in range(_CONNECT_ATTEMPTS):
            connection = open_connection(self._url, "replies")
            try:
                connection.connect()
                channel = connection.channel()
                queue = kombu.Queue(self.name, durable=False, exclusive=True, auto_delete=True)(channel)
                queue.declare()
                kombu.Consumer(
                    channel, [queue], on_message=self._deliver, no_ack=True, auto_declare=False
                ).consume()
            except self._errors as exc:
                failure = exc
                close_quietly(connection)
                time.sleep(0.1 * 2**attempt)
                continue
            self._connection = connection
            return connection
        raise ServiceUnavailable(f"Message bus {safe_uri(self._url)} is unreachable: {failure}")

    def _drop_connection(self) -> None:
        if self._connection is not None:
            close_quietly(self._connection)
            self._connection = None

    def _deliver(self, message: Message) -> None:
        with self._lock:
            waiter = self._waiters.get(message.properties.get("correlation_id", ""))
            if waiter is None or waiter.value is not None:
                return  # the call already timed out (or a duplicate after a redelivery)
            waiter.value = decode(message)
            self._signal(waiter)

    def _hand_over(self) -> None:
        """Wake one waiting caller to become the leader, unless someone leads already."""
        if self._drain_lock.locked():
            return
        with self._lock:
            for waiter in self._waiters.values():
                if not waiter.signaled:
                    self._signal(waiter)
                    return

    @staticmethod
    def _signal(waiter: _Waiter) -> None:
        if not waiter.signaled:
            waiter.signaled = True
            waiter.wakeup.release()


def reply_properties(msg_id: str, reply_to: str, timeout: float) -> dict[str, Any]:
    # Expiring the request with the call keeps a late server from acting on an abandoned call.
    return {"correlation_id": msg_id, "reply_to": reply_to, "expiration": str(max(int(timeout * 1000), 1))}
