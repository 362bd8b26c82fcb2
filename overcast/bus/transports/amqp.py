"""RabbitMQ transport through kombu.

Layout on the broker (all published through the default exchange unless said otherwise):
- queue ``topic``: every server of the topic consumes from it (competing consumers, round-robin);
- queue ``topic.host``: only the server on that host;
- fanout exchange ``topic_fanout``: each server binds its own auto-delete queue to it;
- queue ``reply_<id>``: one per transport (so one per process), replies correlated by ``msg_id``;
- direct exchange ``overcast_notifications`` (routing key = topic): one queue per listener pool.
Topic and host queues outlive their consumers, so casts wait for a restarting server; call requests
expire with the call's timeout, so a server that comes back late does not act on abandoned calls.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import kombu
from kombu.message import Message

from overcast.bus.target import Target
from overcast.bus.transport import (
    Listener,
    MessageHandler,
    NotificationHandler,
    Transport,
)
from overcast.bus.transports.amqp_connections import ConsumerLoop, PublisherPool, decode, safe_uri, send
from overcast.bus.transports.amqp_replies import ReplyQueue, reply_properties

LOG = logging.getLogger(__name__)

NOTIFICATIONS_EXCHANGE = kombu.Exchange("overcast_notifications", type="direct", durable=False)
_READY_TIMEOUT = 10.0
_NOTIFICATION_PREFETCH = 4


def kombu_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"pyamqp://{rest}" if scheme.lower() in ("rabbit", "amqp") else url


# kombu entities are costly to build (~10 us) and immutable here; publishing reuses them.
@functools.lru_cache(maxsize=4096)
def _shared_queue(name: str) -> kombu.Queue:
    return kombu.Queue(name, durable=False, auto_delete=False)


@functools.lru_cache(maxsize=4096)
def _fanout_exchange(topic: str) -> kombu.Exchange:
    return kombu.Exchange(f"{topic}_fanout", type="fanout", durable=False, auto_delete=False)


class _AmqpListener(Listener):
    def __init__(self, loops: list[ConsumerLoop]) -> None:
        self.loops = loops

    def stop(self) -> None:
        for loop in self.loops:
            loop.stop()

    def wait(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for loop in self.loops:
            loop.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))


class AmqpTransport(Transport):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._kombu_url = kombu_url(url)
        self._publishers = PublisherPool(self._kombu_url)
        self._replies = ReplyQueue(self._kombu_url, f"reply_{uuid.uuid4().hex}")
        self._listeners: list[_AmqpListener] = []

    @property
    def reply_to(self) -> str:
        self._replies.ensure_consuming()
        return self._replies.name

    def call(self, target: Target, body: str, msg_id: str, timeout: float) -> str | None:
        reply_to = self.reply_to
        self._replies.expect(msg_id)
        try:
            self._publish_to_queue(target, body, reply_properties(msg_id, reply_to, timeout))
        except BaseException:
            self._replies.forget(msg_id)
            raise
        return self._replies.wait(msg_id, timeout)

    def cast(self, target: Target, body: str) -> None:
        if target.fanout:
            exchange = _fanout_exchange(target.topic)
            self._publishers.publish(
                body, exchange=exchange.name, routing_key=target.topic, declare=[exchange]
            )
        else:
            self._publish_to_queue(target, body, {})

    def listen(self, target: Target, handler: MessageHandler, threads: int) -> Listener:
        fanout_queue = kombu.Queue(
            f"{target.fanout_exchange}_{uuid.uuid4().hex}",
            exchange=_fanout_exchange(target.topic),
            routing_key=target.topic,
            durable=False,
            auto_delete=True,
        )
        names = [target.topic] + ([target.host_queue] if target.host is not None else [])

        def declare(channel: Any) -> list[kombu.Queue]:
            queues = [_shared_queue(name)(channel) for name in names] + [fanout_queue(channel)]
            for bound in queues:
                bound.declare()
            return list(queues)

        def on_message(message: Message, channel: Any) -> None:
            reply = handler(decode(message))
            if reply is not None:
                # A caller that gave up has no reply queue any more; the default exchange drops it.
                send(channel, reply.body, "", reply.reply_to, {"correlation_id": reply.msg_id})

        # prefetch 1 per connection: a message waits in the broker, not behind a busy handler.
        loops = [
            ConsumerLoop(self._kombu_url, f"rpc-{target.topic}-{index}", declare, on_message, prefetch=1)
            for index in range(max(threads, 1))
        ]
        return self._start(loops, f"RPC server of {target.describe()}")

    def notify(self, topic: str, body: str) -> None:
        self._publishers.publish(
            body, exchange=NOTIFICATIONS_EXCHANGE.name, routing_key=topic, declare=[NOTIFICATIONS_EXCHANGE]
        )

    def listen_notifications(
        self, topics: Sequence[str], pool: str | None, handler: NotificationHandler
    ) -> Listener:
        own_id = uuid.uuid4().hex
        queues = [
            kombu.Queue(
                f"{topic}.{pool}" if pool else f"{topic}.listener_{own_id}",
                exchange=NOTIFICATIONS_EXCHANGE,
                routing_key=topic,
                durable=False,
                auto_delete=pool is None,
            )
            for topic in topics
        ]

        def declare(channel: Any) -> list[kombu.Queue]:
            bound = [queue(channel) for queue in queues]
            for queue in bound:
                queue.declare()
            return bound

        def on_message(message: Message, channel: Any) -> None:
            handler(decode(message))

        loop = ConsumerLoop(
            self._kombu_url, f"notify-{pool or 'own'}", declare, on_message, prefetch=_NOTIFICATION_PREFETCH
        )
        return self._start([loop], f"notification listener of {', '.join(topics)}")

    def close(self) -> None:
        listeners = [*self._listeners]
        for listener in listeners:
            listener.stop()
        for listener in listeners:
            listener.wait(5.0)
        self._listeners.clear()
        self._replies.close()
        self._publishers.close()
        super().close()

    def _publish_to_queue(self, target: Target, body: str, properties: dict[str, Any]) -> None:
        name = target.host_queue if target.host is not None else target.topic
        # Declaring from the sender too keeps a message sent before its server first started.
        self._publishers.publish(
            body, exchange="", routing_key=name, declare=[_shared_queue(name)], properties=properties
        )

    def _start(self, loops: list[ConsumerLoop], what: str) -> _AmqpListener:
        for loop in loops:
            loop.start()
        deadline = time.monotonic() + _READY_TIMEOUT
        if not all(loop.ready.wait(max(deadline - time.monotonic(), 0.0)) for loop in loops):
            LOG.warning("%s is not consuming yet; it keeps retrying %s", what, safe_uri(self._kombu_url))
        listener = _AmqpListener(loops)
        self._listeners = [known for known in self._listeners if any(loop.alive for loop in known.loops)]
        self._listeners.append(listener)
        return listener
