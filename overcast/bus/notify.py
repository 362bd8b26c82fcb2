"""Notifications: events published for whoever listens (metering, auditing), never waited on.

A notification is JSON ``{"message_id", "publisher_id", "event_type", "priority", "payload", "timestamp",
"context"}``. Each listener pool gets a copy; listeners that share a pool name share the work.
"""

from __future__ import annotations

import datetime
import decimal
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from overcast.bus.transport import Listener, ListeningServer, Transport
from overcast.context import RequestContext

LOG = logging.getLogger(__name__)


def _payload_default(value: object) -> Any:
    # Payloads come straight from database rows, so dates and decimals are common and have one obvious text.
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _system_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Notifier:
    def __init__(
        self,
        transport: Transport,
        publisher_id: str,
        topics: tuple[str, ...] = ("notifications",),
        clock: Callable[[], datetime.datetime] = _system_clock,
    ) -> None:
        self.transport = transport
        self.publisher_id = publisher_id
        self.topics = tuple(topics)
        # The cloud's clock: metering bills from these timestamps, so a test's injected clock drives usage.
        self.clock = clock

    def prepare(self, publisher_id: str) -> Notifier:
        return Notifier(self.transport, publisher_id, self.topics, self.clock)

    def info(self, ctxt: RequestContext, event_type: str, payload: dict[str, Any]) -> None:
        self.notify(ctxt, "INFO", event_type, payload)

    def error(self, ctxt: RequestContext, event_type: str, payload: dict[str, Any]) -> None:
        self.notify(ctxt, "ERROR", event_type, payload)

    def notify(self, ctxt: RequestContext, priority: str, event_type: str, payload: dict[str, Any]) -> None:
        message = {
            "message_id": str(uuid.uuid4()),
            "publisher_id": self.publisher_id,
            "event_type": event_type,
            "priority": priority.upper(),
            "payload": payload,
            "timestamp": self.clock().isoformat(),
            "context": ctxt.to_dict(),
        }
        body = json.dumps(message, default=_payload_default)
        for topic in self.topics:
            try:
                self.transport.notify(topic, body)
            except Exception:
                # A lost notification must not fail the user's operation that emitted it.
                LOG.exception("[%s] Could not send notification %s", ctxt.request_id, event_type)


class NotificationListener(ListeningServer):
    """Calls ``endpoint.info(ctxt, publisher_id, event_type, payload, metadata)`` (or ``error``...)."""

    def __init__(
        self,
        transport: Transport,
        endpoints: Sequence[object],
        topics: Sequence[str] = ("notifications",),
        pool: str | None = None,
    ) -> None:
        self.transport = transport
        self.endpoints = list(endpoints)
        self.topics = tuple(topics)
        self.pool = pool

    def _listen(self) -> Listener:
        return self.transport.listen_notifications(self.topics, self.pool, self.handle)

    def handle(self, body: str) -> None:
        try:
            message = json.loads(body)
            ctxt = RequestContext.from_dict(message.get("context") or {})
            priority = str(message["priority"]).lower()
            metadata = {"message_id": message.get("message_id"), "timestamp": message.get("timestamp")}
            args = (
                message.get("publisher_id"),
                message["event_type"],
                message.get("payload") or {},
                metadata,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            LOG.error("Dropping malformed notification: %s", exc)
            return
        for endpoint in self.endpoints:
            method = getattr(endpoint, priority, None)
            if method is None or not callable(method):
                continue
            try:
                method(ctxt, *args)
            except Exception:
                # Redelivering would fail the same way forever; log it and move on.
                LOG.exception(
                    "[%s] Notification endpoint %r failed on %s", ctxt.request_id, endpoint, args[1]
                )
