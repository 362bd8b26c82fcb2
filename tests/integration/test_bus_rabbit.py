"""The bus contract (tests/unit/bus/test_contract.py) on a real RabbitMQ, plus broker-only guarantees."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import kombu
import pytest

from overcast.bus import RPCClient, RPCServer, Target, Transport, get_transport
from overcast.bus.transports.amqp import kombu_url
from overcast.context import RequestContext
from overcast.errors import MessagingTimeout
from tests.support.waiting import WAIT_SECONDS, wait_until
from tests.unit.bus.test_contract import HOSTS, POOLS, BusContract

pytestmark = pytest.mark.rabbitmq

REPO_ROOT = Path(__file__).resolve().parents[2]


def delete_queues(url: str, names: list[str], exchanges: Sequence[str] = ()) -> None:
    with kombu.Connection(kombu_url(url)) as connection:
        channel = connection.channel()
        for name in names:
            channel.queue_delete(name)
        for name in exchanges:
            channel.exchange_delete(name)


class TestRabbitBus(BusContract):
    @pytest.fixture
    def bus_url(self, rabbitmq_url: str) -> str:
        return rabbitmq_url

    @pytest.fixture
    def topic(self, rabbitmq_url: str) -> Iterator[str]:
        name = f"test-{os.urandom(6).hex()}"
        yield name
        # Topic, host and pool queues outlive their consumers by design; tests clean theirs up.
        leftovers = [
            name,
            f"{name}-other",
            f"{name}-other.host-a",
            *(f"{name}.{host}" for host in HOSTS),
            *(f"{name}.{name}-{pool}" for pool in POOLS),
        ]
        delete_queues(rabbitmq_url, leftovers, exchanges=[f"{name}_fanout", f"{name}-other_fanout"])


def close_connections_of_this_process() -> int:
    """Make the broker drop this process's connections only (other test sessions may share the broker)."""
    listed = subprocess.run(
        ["rabbitmqctl", "list_connections", "-q", "--no-table-headers", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
    )
    marker = f'{{"connection_name","overcast:{os.getpid()}:'
    ours = [line.split("\t")[0] for line in listed.stdout.splitlines() if marker in line]
    for pid in ours:
        subprocess.run(
            ["rabbitmqctl", "close_connection", pid, "overcast reconnect test"],
            check=True,
            capture_output=True,
        )
    return len(ours)


class Survivor:
    RPC_API_VERSION = "1.0"

    def work(self, ctxt: RequestContext, value: str) -> str:
        return f"handled by survivor: {value}"


# A server in its own process whose handler never finishes: the message it holds stays unacknowledged.
DOOMED_SERVER = """
import sys, time
from overcast.bus import RPCServer, Target, get_transport

class Stuck:
    RPC_API_VERSION = "1.0"

    def work(self, ctxt, value):
        print("handling", value, flush=True)
        time.sleep(120)

server = RPCServer(get_transport(sys.argv[1]), Target(topic=sys.argv[2], host="doomed"), [Stuck()], 1)
server.start()
print("ready", flush=True)
time.sleep(120)
"""


def _lines(stream: IO[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.strip())

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_message_of_a_killed_server_is_redelivered_to_another(
    rabbitmq_url: str, transport: Transport
) -> None:
    topic = f"test-redeliver-{os.urandom(6).hex()}"
    doomed = subprocess.Popen(
        [sys.executable, "-c", DOOMED_SERVER, rabbitmq_url, topic],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    survivor: RPCServer | None = None
    try:
        assert doomed.stdout is not None
        lines = _lines(doomed.stdout)
        assert lines.get(timeout=WAIT_SECONDS) == "ready"
        results: queue.Queue[Any] = queue.Queue()
        client = RPCClient(transport, Target(topic=topic), timeout=WAIT_SECONDS)

        def call() -> None:
            try:
                results.put(client.call(RequestContext.admin(), "work", value="job-1"))
            except Exception as exc:
                results.put(exc)

        threading.Thread(target=call, daemon=True).start()
        assert lines.get(timeout=WAIT_SECONDS) == "handling job-1"
        survivor = RPCServer(
            transport, Target(topic=topic, host="survivor"), [Survivor()], executor_threads=1
        )
        survivor.start()
        doomed.send_signal(signal.SIGKILL)
        assert results.get(timeout=WAIT_SECONDS) == "handled by survivor: job-1"
    finally:
        doomed.kill()
        doomed.wait(10)
        if survivor is not None:
            survivor.stop()
            survivor.wait(5)
        delete_queues(
            rabbitmq_url, [topic, f"{topic}.doomed", f"{topic}.survivor"], exchanges=[f"{topic}_fanout"]
        )


def test_servers_and_clients_reconnect_after_the_broker_drops_them(
    rabbitmq_url: str, transport: Transport
) -> None:
    topic = f"test-reconnect-{os.urandom(6).hex()}"
    server = RPCServer(transport, Target(topic=topic, host="host-a"), [Survivor()], executor_threads=2)
    server.start()
    client = RPCClient(transport, Target(topic=topic), timeout=1.0)  # short: the retries below need it
    ctxt = RequestContext.admin()
    try:
        before = client.prepare(timeout=WAIT_SECONDS).call(ctxt, "work", value="before")
        assert before == "handled by survivor: before"
        assert close_connections_of_this_process() >= 3  # publisher, replies and the server's consumers

        def call_succeeds() -> bool:
            try:
                return bool(client.call(ctxt, "work", value="after") == "handled by survivor: after")
            except MessagingTimeout:
                return False  # a reply sent while the reply queue was being re-created is lost

        wait_until(call_succeeds, 60, interval=0.01)
    finally:
        server.stop()
        server.wait(5)
        delete_queues(rabbitmq_url, [topic, f"{topic}.host-a"], exchanges=[f"{topic}_fanout"])


@pytest.fixture
def transport(rabbitmq_url: str) -> Iterator[Transport]:
    bus = get_transport(rabbitmq_url)
    yield bus
    bus.close()
