"""Message bus benchmark: RPC call round trips per second on inproc:// and RabbitMQ, against raw kombu.

    python bench/bus.py [--seconds 3] [--rounds 3] [--rabbit-url rabbit://guest:guest@127.0.0.1:5672//]

Without --rabbit-url a local broker is started (and installed) like the test fixture does. The raw kombu
loop is the floor for RabbitMQ: one queue, a consumer thread that replies to a reply queue, a caller that
publishes and drains its reply queue itself, i.e. an RPC call without our layer. RabbitMQ and raw runs
alternate and each reports its median, so broker noise hits both alike.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kombu

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overcast.bus import RPCClient, RPCServer, Target, get_transport
from overcast.bus.transports.amqp import kombu_url
from overcast.context import RequestContext

INPROC_TARGET = 20_000.0
RATIO_TARGET = 0.80


class Echo:
    RPC_API_VERSION = "1.0"

    def echo(self, ctxt: RequestContext, value: Any) -> Any:
        return value


def rate(one_round_trip: Callable[[], None], seconds: float) -> float:
    for _ in range(100):  # warm up connections, caches and the branch predictor of the broker
        one_round_trip()
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(100):
            one_round_trip()
        count += 100
    return count / elapsed


def rpc_calls_per_second(url: str, seconds: float) -> float:
    transport = get_transport(url)
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    server = RPCServer(transport, Target(topic=topic, host="bench"), [Echo()])
    server.start()
    client = RPCClient(transport, Target(topic=topic), timeout=30)
    ctxt = RequestContext.admin()
    try:
        return rate(lambda: client.call(ctxt, "echo", value={"id": 1, "name": "vm-1"}), seconds)
    finally:
        server.stop()
        server.wait(10)
        if not url.startswith("inproc"):
            _delete_queues(url, [topic, f"{topic}.bench"], f"{topic}_fanout")
        transport.close()


def raw_kombu_round_trips_per_second(url: str, seconds: float) -> float:
    broker = kombu_url(url)
    request_queue = kombu.Queue(f"bench-raw-{uuid.uuid4().hex[:8]}", durable=False, auto_delete=True)
    stop, ready = threading.Event(), threading.Event()
    properties = {"content_type": "application/json", "content_encoding": "utf-8", "delivery_mode": 1}

    def serve() -> None:
        with kombu.Connection(broker) as connection:
            producer = kombu.Producer(connection.channel(), auto_declare=False)

            def reply(message: Any) -> None:
                producer.publish(
                    message.body,
                    exchange="",
                    routing_key=message.properties["reply_to"],
                    correlation_id=message.properties["correlation_id"],
                    **properties,
                )
                message.ack()

            consumer = kombu.Consumer(
                connection.channel(), [request_queue], on_message=reply, prefetch_count=1
            )
            consumer.consume()
            ready.set()
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    connection.drain_events(timeout=0.1)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    ready.wait(10)
    try:
        with kombu.Connection(broker) as connection:
            channel = connection.channel()
            producer = kombu.Producer(channel, auto_declare=False)
            reply_queue = kombu.Queue(f"bench-reply-{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True)
            replies: list[Any] = []
            kombu.Consumer(channel, [reply_queue], on_message=replies.append, no_ack=True).consume()
            body = '{"method": "echo", "args": {"value": {"id": 1, "name": "vm-1"}}}'

            def round_trip() -> None:
                producer.publish(
                    body,
                    exchange="",
                    routing_key=request_queue.name,
                    reply_to=reply_queue.name,
                    correlation_id="1",
                    **properties,
                )
                while not replies:
                    connection.drain_events(timeout=10)
                replies.clear()

            return rate(round_trip, seconds)
    finally:
        stop.set()
        server.join(5)


def _delete_queues(url: str, names: list[str], exchange: str) -> None:
    with kombu.Connection(kombu_url(url)) as connection:
        channel = connection.channel()
        for name in names:
            channel.queue_delete(name)
        channel.exchange_delete(exchange)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating RabbitMQ/raw measurements")
    parser.add_argument("--rabbit-url", default=None, help="broker to use (default: start a local one)")
    args = parser.parse_args()

    inproc = rpc_calls_per_second("inproc://bench", args.seconds)
    inproc_threads = rpc_calls_per_second("inproc://bench-threads?caller_runs=false", args.seconds)
    rabbit_runs, raw_runs = [], []
    with contextlib.ExitStack() as stack:
        rabbit_url = args.rabbit_url
        if rabbit_url is None:
            from tests.support.rabbitmq import running_rabbitmq

            rabbit_url = stack.enter_context(running_rabbitmq())
        for _ in range(args.rounds):
            raw_runs.append(raw_kombu_round_trips_per_second(rabbit_url, args.seconds))
            rabbit_runs.append(rpc_calls_per_second(rabbit_url, args.seconds))
    rabbit, raw = statistics.median(rabbit_runs), statistics.median(raw_runs)
    ratio = rabbit / raw

    rows = [
        (
            "inproc RPC call round trips/s",
            f"{inproc:,.0f}",
            f">= {INPROC_TARGET:,.0f}",
            inproc >= INPROC_TARGET,
        ),
        ("inproc, worker threads only (caller_runs=false)", f"{inproc_threads:,.0f}", "-", None),
        ("RabbitMQ RPC call round trips/s", f"{rabbit:,.0f}", "-", None),
        ("raw kombu publish/consume round trips/s (floor)", f"{raw:,.0f}", "-", None),
        ("RabbitMQ RPC / raw kombu", f"{ratio:.0%}", f">= {RATIO_TARGET:.0%}", ratio >= RATIO_TARGET),
    ]
    print(f"{'benchmark':<50} {'result':>10} {'target':>10}  status")
    for name, result, target, passed in rows:
        status = "" if passed is None else ("PASS" if passed else "FAIL")
        print(f"{name:<50} {result:>10} {target:>10}  {status}")
    print(
        f"(median of {args.rounds} rounds of {args.seconds:g} s; "
        f"RabbitMQ runs {[round(r) for r in rabbit_runs]}, raw runs {[round(r) for r in raw_runs]})"
    )
    return 0 if all(passed is not False for *_, passed in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
