"""In-process transport: every service in one process, queues and worker threads, no broker.

It mirrors the AMQP layout so both transports behave alike: named queues (topic, topic.host, one fanout
queue per server, one per notification pool) that keep messages while nobody consumes them, and
exchanges that copy a message to every bound queue. A queue hands each message straight to one of its
consumers' inboxes, round-robin, where a fixed pool of worker threads takes it.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from overcast.bus.target import Target
from overcast.bus.transport import (
    Listener,
    MessageHandler,
    NotificationHandler,
    Reply,
    ReplySlot,
    Transport,
)

LOG = logging.getLogger(__name__)

# (encoded message, monotonic deadline after which nobody waits for it any more)
_Item = tuple[str, float | None]
_STOP = object()


class _Consumer:
    """Worker threads sharing one inbox, subscribed to one or more queues of the bus.

    ``slots`` bounds how many messages it handles at once; a caller may borrow a free slot to run a call
    on its own thread (see InprocTransport.call), so that bound holds for both paths.
    """

    def __init__(self, name: str, work: Callable[[str], None], threads: int) -> None:
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.work = work
        self.size = threads
        self.slots = threading.BoundedSemaphore(threads)
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{index}", daemon=True)
            for index in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while True:
            item = self.inbox.get()
            if item is _STOP:
                return
            body, deadline = item
            if deadline is not None and deadline < time.monotonic():
                continue  # the caller already gave up, as an expired AMQP message would be dropped
            with self.slots:
                self.run(body)

    def run(self, body: str) -> None:
        try:
            self.work(body)
        except Exception:
            LOG.exception("Message handler failed")

    def stop(self) -> None:
        for _ in self._threads:
            self.inbox.put(_STOP)

    def join(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        me = threading.current_thread()
        for thread in self._threads:
            if thread is not me:  # a handler stopping its own server cannot wait for itself
                thread.join(_remaining(deadline))
        if any(thread is me for thread in self._threads):
            return
        # Calls run on their callers' threads hold slots too; having every slot means none is in flight.
        taken = 0
        while taken < self.size and self.slots.acquire(timeout=_remaining(deadline)):
            taken += 1
        for _ in range(taken):
            self.slots.release()


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


class _Queue:
    def __init__(self, auto_delete: bool) -> None:
        self.auto_delete = auto_delete
        self.consumers: list[_Consumer] = []
        self.backlog: deque[_Item] = deque()
        self.cursor = 0

    def next_consumer(self) -> _Consumer | None:
        if not self.consumers:
            return None
        self.cursor += 1
        return self.consumers[self.cursor % len(self.consumers)]

    def put(self, item: _Item) -> None:
        consumer = self.next_consumer()
        if consumer is None:
            self.backlog.append(item)
        else:
            consumer.inbox.put(item)


class InprocBus:
    """The shared routing state of one ``inproc://name`` bus; every method is short and under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, _Queue] = {}
        self._bindings: dict[str, set[str]] = {}  # exchange -> queue names
        self.slots: dict[str, ReplySlot] = {}

    def publish(self, queue_name: str, item: _Item) -> None:
        with self._lock:
            self._declare(queue_name, auto_delete=False).put(item)

    def pick_consumer(self, queue_name: str) -> _Consumer | None:
        """The consumer the next message of the queue goes to (round-robin), None when nobody listens."""
        with self._lock:
            return self._declare(queue_name, auto_delete=False).next_consumer()

    def publish_to_exchange(self, exchange: str, item: _Item) -> None:
        with self._lock:
            for name in self._bindings.get(exchange, ()):
                self._queues[name].put(item)

    def subscribe(
        self, consumer: _Consumer, queue_name: str, *, exchange: str | None, auto_delete: bool
    ) -> None:
        with self._lock:
            bound = self._declare(queue_name, auto_delete)
            if exchange is not None:
                self._bindings.setdefault(exchange, set()).add(queue_name)
            bound.consumers.append(consumer)
            while bound.backlog:
                bound.put(bound.backlog.popleft())

    def unsubscribe(self, consumer: _Consumer) -> None:
        with self._lock:
            for name, bound in list(self._queues.items()):
                if consumer in bound.consumers:
                    bound.consumers.remove(consumer)
                    if bound.auto_delete and not bound.consumers:
                        self._delete(name)

    def deliver_reply(self, reply: Reply) -> None:
        slot = self.slots.pop(reply.msg_id, None)
        if slot is not None:  # else the caller timed out and left
            slot.set(reply.body)

    def _declare(self, name: str, auto_delete: bool) -> _Queue:
        bound = self._queues.get(name)
        if bound is None:
            bound = self._queues[name] = _Queue(auto_delete)
        return bound

    def _delete(self, name: str) -> None:
        del self._queues[name]
        for queue_names in self._bindings.values():
            queue_names.discard(name)


class _InprocListener(Listener):
    def __init__(self, bus: InprocBus, consumer: _Consumer) -> None:
        self._bus = bus
        self._consumer = consumer
        self.stopped = False

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            # Messages already in the inbox were delivered to us; the workers finish them before the STOPs.
            self._bus.unsubscribe(self._consumer)
            self._consumer.stop()

    def wait(self, timeout: float | None = None) -> None:
        self._consumer.join(timeout)


_buses: dict[str, InprocBus] = {}
_buses_lock = threading.Lock()


def _bus_named(name: str) -> InprocBus:
    with _buses_lock:
        bus = _buses.get(name)
        if bus is None:
            bus = _buses[name] = InprocBus()
        return bus


class InprocTransport(Transport):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        location, _, query = url.split("://", 1)[1].partition("?")
        self.bus_name = location.strip("/")
        options = urllib.parse.parse_qs(query)
        # ?caller_runs=false forces every call through the worker threads (a slower, stricter model).
        self.caller_runs = options.get("caller_runs", ["true"])[-1].lower() not in ("false", "0", "no")
        self.bus = _bus_named(self.bus_name)
        self._listeners: list[_InprocListener] = []

    @property
    def reply_to(self) -> str:
        return f"inproc:{self.bus_name}"

    def call(self, target: Target, body: str, msg_id: str, timeout: float) -> str | None:
        slot = ReplySlot()
        self.bus.slots[msg_id] = slot
        started = time.monotonic()
        queue_name = _queue_of(target)
        consumer = self.bus.pick_consumer(queue_name) if self.caller_runs else None
        if consumer is not None and consumer.slots.acquire(blocking=False):
            # Handing a message to another thread costs two cross-CPU wakeups (~45 us on a small VM),
            # more than the call itself; a free worker slot means running it here changes nothing else.
            # A fresh context keeps the caller's context variables (db transaction, request id) out.
            try:
                contextvars.Context().run(consumer.run, body)
            finally:
                consumer.slots.release()
            if slot.wait(0) and time.monotonic() - started <= timeout:
                return slot.value
            self.bus.slots.pop(msg_id, None)
            return None  # too late: a caller waiting on another thread would have given up already
        if consumer is not None:
            consumer.inbox.put((body, started + timeout))
        else:
            self.bus.publish(queue_name, (body, started + timeout))
        if slot.wait(timeout):
            return slot.value
        if self.bus.slots.pop(msg_id, None) is None and slot.wait(1.0):
            return slot.value  # the reply was being delivered just as we gave up
        return None

    def cast(self, target: Target, body: str) -> None:
        if target.fanout:
            self.bus.publish_to_exchange(target.fanout_exchange, (body, None))
        else:
            self.bus.publish(_queue_of(target), (body, None))

    def listen(self, target: Target, handler: MessageHandler, threads: int) -> Listener:
        bus = self.bus

        def work(body: str) -> None:
            reply = handler(body)
            if reply is not None:
                bus.deliver_reply(reply)

        consumer = _Consumer(f"rpc-{target.topic}", work, max(threads, 1))
        bus.subscribe(consumer, target.topic, exchange=None, auto_delete=False)
        if target.host is not None:
            bus.subscribe(consumer, target.host_queue, exchange=None, auto_delete=False)
        fanout_queue = f"{target.fanout_exchange}_{uuid.uuid4().hex}"
        bus.subscribe(consumer, fanout_queue, exchange=target.fanout_exchange, auto_delete=True)
        return self._track(consumer)

    def notify(self, topic: str, body: str) -> None:
        self.bus.publish_to_exchange(_notification_exchange(topic), (body, None))

    def listen_notifications(
        self, topics: Sequence[str], pool: str | None, handler: NotificationHandler
    ) -> Listener:
        # One worker keeps notifications of a listener in order, as a single AMQP consumer would.
        consumer = _Consumer(f"notify-{pool or 'own'}", handler, 1)
        own_queue_id = uuid.uuid4().hex
        for topic in topics:
            name = f"{topic}.{pool}" if pool else f"{topic}.listener_{own_queue_id}"
            self.bus.subscribe(
                consumer, name, exchange=_notification_exchange(topic), auto_delete=pool is None
            )
        return self._track(consumer)

    def close(self) -> None:
        for listener in self._listeners:
            listener.stop()
        self._listeners.clear()
        # The next transport for this URL starts with an empty bus, not with this one's leftover messages.
        with _buses_lock:
            if _buses.get(self.bus_name) is self.bus:
                del _buses[self.bus_name]
        super().close()

    def _track(self, consumer: _Consumer) -> _InprocListener:
        listener = _InprocListener(self.bus, consumer)
        self._listeners = [known for known in self._listeners if not known.stopped]
        self._listeners.append(listener)
        return listener


def _queue_of(target: Target) -> str:
    return target.host_queue if target.host is not None else target.topic


def _notification_exchange(topic: str) -> str:
    return f"notifications:{topic}"
