"""kombu connections for the AMQP transport, each owned by one thread at a time.

kombu (py-amqp) connections are not thread-safe, so every consumer thread opens its own connection and
publishes its replies on it, and other publishers borrow a connection from a small pool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import kombu
from kombu.message import Message

from overcast.errors import ServiceUnavailable

LOG = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"
# How often an idle consumer looks up from the socket to see whether it was asked to stop.
_POLL_SECONDS = 0.1
_BACKOFF_START, _BACKOFF_MAX = 0.1, 5.0
_PUBLISH_ATTEMPTS = 6
_IDLE_PUBLISHERS = 8

# (channel) -> the queues to consume, already declared (and bound) on that channel
Declare = Callable[[Any], list[kombu.Queue]]
# (the message, the thread's own channel, for publishing replies)
OnMessage = Callable[[Message, Any], None]


def connection_errors(url: str) -> tuple[type[BaseException], ...]:
    probe = kombu.Connection(url)
    return tuple(probe.connection_errors) + tuple(probe.channel_errors)


def open_connection(url: str, purpose: str) -> kombu.Connection:
    """A not yet connected connection, named so the broker's admin tools show who holds it."""
    name = f"overcast:{os.getpid()}:{purpose}"
    options = {"client_properties": {"connection_name": name}}
    return kombu.Connection(url, connect_timeout=5, transport_options=options)


def safe_uri(url: str) -> str:
    return str(kombu.Connection(url).as_uri())  # masks the password


def decode(message: Message) -> str:
    body = message.body
    return body.decode("utf-8") if isinstance(body, bytes | bytearray) else str(body)


class ConsumerLoop:
    """One thread with one connection: declare, consume, run ``on_message`` inline, ack afterwards.

    Acknowledging only after the handler returned means a consumer that dies mid-message leaves the
    message unacknowledged, and the broker redelivers it to another consumer. Connection errors are
    retried forever with exponential backoff, redeclaring the queues each time.
    """

    def __init__(
        self,
        url: str,
        name: str,
        declare: Declare,
        on_message: OnMessage,
        *,
        prefetch: int,
        no_ack: bool = False,
    ) -> None:
        self._url = url
        self._declare = declare
        self._on_message = on_message
        self._prefetch = prefetch
        self._no_ack = no_ack
        self._errors = connection_errors(url)
        self._stopping = threading.Event()
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None) -> None:
        if self._thread is not threading.current_thread() and self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = _BACKOFF_START
        while not self._stopping.is_set():
            connection = open_connection(self._url, self._thread.name)
            try:
                self._consume(connection)
                backoff = _BACKOFF_START
            except Exception as exc:  # connection errors mostly; anything else is retried the same way
                self.ready.clear()
                LOG.warning(
                    "Bus consumer %s lost %s (%s); retrying in %.1f s",
                    self._thread.name,
                    safe_uri(self._url),
                    exc,
                    backoff,
                )
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            finally:
                close_quietly(connection)

    def _consume(self, connection: kombu.Connection) -> None:
        connection.connect()
        channel = connection.channel()
        queues = self._declare(channel)

        def deliver(message: Message) -> None:
            try:
                self._on_message(message, channel)
            except self._errors:
                raise  # unacknowledged: the broker hands the message to someone else
            except Exception:
                # Handlers report their own failures; redelivering a message that breaks one never ends.
                LOG.exception("Bus consumer %s failed on a message", self._thread.name)
            if not self._no_ack:
                message.ack()

        consumer = kombu.Consumer(
            channel,
            queues,
            on_message=deliver,
            no_ack=self._no_ack,
            prefetch_count=self._prefetch or None,
            auto_declare=False,
        )
        consumer.consume()
        self.ready.set()
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                connection.drain_events(timeout=_POLL_SECONDS)
        consumer.cancel()


class _Publisher:
    def __init__(self, url: str) -> None:
        self.connection = open_connection(url, "publisher")
        self.connection.connect()
        self.channel = self.connection.channel()
        self.declared: set[tuple[str, str]] = set()

    def publish(
        self,
        body: str,
        exchange: str,
        routing_key: str,
        declare: Sequence[kombu.Queue | kombu.Exchange],
        properties: dict[str, Any],
    ) -> None:
        for entity in declare:
            key = (type(entity).__name__, str(entity.name))
            if key not in self.declared:
                entity(self.channel).declare()
                self.declared.add(key)
        send(self.channel, body, exchange, routing_key, properties)


def send(channel: Any, body: str, exchange: str, routing_key: str, properties: dict[str, Any]) -> None:
    """Publish on a channel the calling thread owns (kombu's Producer adds ~10 us per message)."""
    message = channel.prepare_message(
        body.encode("utf-8"),
        content_type=CONTENT_TYPE,
        content_encoding="utf-8",
        properties={"delivery_mode": 1, **properties},
    )
    channel.basic_publish(message, exchange=exchange, routing_key=routing_key)


class PublisherPool:
    """Connections for publishing from any thread: each borrowed by one thread at a time."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._errors = connection_errors(url)
        self._idle: list[_Publisher] = []
        self._lock = threading.Lock()
        self._closed = False

    def publish(
        self,
        body: str,
        *,
        exchange: str,
        routing_key: str,
        declare: Sequence[kombu.Queue | kombu.Exchange] = (),
        properties: dict[str, Any] | None = None,
    ) -> None:
        delay = _BACKOFF_START
        failure: BaseException | None = None
        for attempt in range(_PUBLISH_ATTEMPTS):
            if attempt:
                time.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
            publisher = None
            try:
                publisher = self._borrow()
                publisher.publish(body, exchange, routing_key, declare, properties or {})
            except self._errors as exc:
                failure = exc
                if publisher is not None:
                    close_quietly(publisher.connection)
                LOG.warning("Publishing to %s failed (%s), attempt %d", safe_uri(self._url), exc, attempt + 1)
                continue
            self._give_back(publisher)
            return
        raise ServiceUnavailable(f"Message bus {safe_uri(self._url)} is unreachable: {failure}")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for publisher in idle:
            close_quietly(publisher.connection)

    def _borrow(self) -> _Publisher:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Publisher(self._url)

    def _give_back(self, publisher: _Publisher) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < _IDLE_PUBLISHERS:
                self._idle.append(publisher)
                return
        close_quietly(publisher.connection)


def close_quietly(connection: kombu.Connection) -> None:
    try:
        connection.release()
    except Exception:  # a broken connection may fail to close; it is being dropped either way
        LOG.debug("Ignoring error while closing a bus connection", exc_info=True)
