"""The transport ABC: moves already-encoded JSON text between RPC clients, servers and listeners.

The RPC layer (rpc.py, notify.py) owns the message format; a transport only routes strings, correlates
replies with calls by ``msg_id`` and acknowledges a message after its handler returned.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from overcast.bus.target import Target


@dataclass(frozen=True)
class Reply:
    """What a server sends back for a call: the encoded result or error, addressed to the caller."""

    reply_to: str
    msg_id: str
    body: str


# A server handler takes the encoded request and returns the encoded reply (None for a cast).
MessageHandler = Callable[[str], Reply | None]
NotificationHandler = Callable[[str], None]


class ReplySlot:
    """One call's reply: a pre-acquired lock the replier releases (the cheapest cross-thread wakeup)."""

    __slots__ = ("_ready", "value")

    def __init__(self) -> None:
        self._ready = threading.Lock()
        self._ready.acquire()
        self.value: str | None = None

    def set(self, value: str) -> None:
        self.value = value
        self._ready.release()

    def wait(self, timeout: float) -> bool:
        return self._ready.acquire(timeout=max(timeout, 0.0))


class Listener(ABC):
    """A running consumer of messages (an RPC server's or a notification listener's)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop taking new messages; messages already being handled finish."""

    @abstractmethod
    def wait(self, timeout: float | None = None) -> None:
        """Block until every in-flight message has been handled (or ``timeout`` passed)."""


class Transport(ABC):
    def __init__(self, url: str) -> None:
        self.url = url
        # Set by the factory that hands out one transport per URL (bus/transports), so that a closed
        # transport is forgotten and the URL's next user gets a new one.
        self.when_closed: Callable[[Transport], None] = lambda transport: None

    @property
    @abstractmethod
    def reply_to(self) -> str:
        """The address replies to this transport's calls are sent to."""

    @abstractmethod
    def call(self, target: Target, body: str, msg_id: str, timeout: float) -> str | None:
        """Send a request and wait for the reply with the same ``msg_id``; None when ``timeout`` passed."""

    @abstractmethod
    def cast(self, target: Target, body: str) -> None:
        """Send a message without waiting (to every server of the topic when ``target.fanout``)."""

    @abstractmethod
    def listen(self, target: Target, handler: MessageHandler, threads: int) -> Listener:
        """Consume from the topic, the topic.host and the topic's fanout queues; returns once consuming."""

    @abstractmethod
    def notify(self, topic: str, body: str) -> None:
        """Publish a notification to every listener pool of ``topic``."""

    @abstractmethod
    def listen_notifications(
        self, topics: Sequence[str], pool: str | None, handler: NotificationHandler
    ) -> Listener:
        """Consume notifications: one queue per pool, so a pool shares the work and pools all get a copy."""

    def close(self) -> None:
        """Release connections and threads; the transport is unusable afterwards."""
        self.when_closed(self)


class ListeningServer(ABC):
    """Start/stop/wait of anything that consumes from the bus through one transport Listener."""

    _listener: Listener | None = None

    @abstractmethod
    def _listen(self) -> Listener:
        """Open the transport listener that feeds this server."""

    def start(self) -> None:
        if self._listener is None:
            self._listener = self._listen()

    def stop(self) -> None:
        """Stop consuming new messages; in-flight ones finish (see wait)."""
        if self._listener is not None:
            self._listener.stop()

    def wait(self, timeout: float | None = None) -> None:
        if self._listener is not None:
            self._listener.wait(timeout)
            self._listener = None
