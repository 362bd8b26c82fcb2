"""The message bus contract: every transport passes these same tests.

`BusContract` holds the tests; a subclass per transport supplies the `bus_url` fixture (the RabbitMQ one
lives in tests/integration/test_bus_rabbit.py).
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from overcast.bus import (
    NoSuchMethod,
    NotificationListener,
    Notifier,
    RPCClient,
    RPCServer,
    Target,
    Transport,
    get_transport,
)
from overcast.context import RequestContext
from overcast.errors import (
    BadRequest,
    Conflict,
    MessagingTimeout,
    NotFound,
    OvercastError,
    RemoteError,
    UnsupportedVersion,
)
from tests.support.waiting import WAIT_SECONDS, wait_until

HOSTS = ("host-a", "host-b", "down-host")
POOLS = ("metering", "audit", "shared")
SHORT_TIMEOUT = 0.5


class Endpoint:
    RPC_API_VERSION = "1.3"

    def __init__(self, name: str) -> None:
        self.name = name
        self.received: queue.Queue[Any] = queue.Queue()
        self.started = threading.Event()
        self.private_ran = False

    def echo(self, ctxt: RequestContext, value: Any) -> dict[str, Any]:
        return {"server": self.name, "value": value}

    def whoami(self, ctxt: RequestContext) -> str:
        return self.name

    def context(self, ctxt: RequestContext) -> dict[str, Any]:
        return ctxt.to_dict()

    def record(self, ctxt: RequestContext, value: Any) -> None:
        self.received.put((self.name, value))

    def fail(self, ctxt: RequestContext, kind: str, message: str) -> None:
        errors: dict[str, type[OvercastError]] = {
            "NotFound": NotFound,
            "Conflict": Conflict,
            "BadRequest": BadRequest,
        }
        raise errors[kind](message)

    def crash(self, ctxt: RequestContext) -> None:
        raise ValueError("disk on fire")

    def unserializable(self, ctxt: RequestContext) -> object:
        return object()

    def slow(self, ctxt: RequestContext, seconds: float, value: Any) -> Any:
        self.started.set()
        time.sleep(seconds)
        return value

    def _secret(self, ctxt: RequestContext) -> str:
        self.private_ran = True
        return "secret"


class NotificationSink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = []
        self.lock = threading.Lock()

    def info(
        self,
        ctxt: RequestContext,
        publisher_id: str,
        event_type: str,
        payload: dict[str, Any],
        metadata: dict[str, Any],
    ) -> None:
        with self.lock:
            self.events.append((publisher_id, event_type, payload, metadata, ctxt.request_id))

    def error(
        self,
        ctxt: RequestContext,
        publisher_id: str,
        event_type: str,
        payload: dict[str, Any],
        metadata: dict[str, Any],
    ) -> None:
        self.info(ctxt, publisher_id, f"error:{event_type}", payload, metadata)


class BusContract:
    @pytest.fixture
    def transport(self, bus_url: str) -> Iterator[Transport]:
        transport = get_transport(bus_url)
        yield transport
        transport.close()

    @pytest.fixture
    def topic(self) -> str:
        return f"test-{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def serve(self, transport: Transport, topic: str) -> Iterator[Callable[..., tuple[RPCServer, Endpoint]]]:
        servers: list[RPCServer] = []

        def start(
            host: str, threads: int = 2, endpoint: Endpoint | None = None
        ) -> tuple[RPCServer, Endpoint]:
            endpoint = endpoint or Endpoint(host)
            server = RPCServer(
                transport, Target(topic=topic, host=host), [endpoint], executor_threads=threads
            )
            server.start()
            servers.append(server)
            return server, endpoint

        yield start
        for server in servers:
            server.stop()
        for server in servers:
            server.wait(WAIT_SECONDS)

    @pytest.fixture
    def client(self, transport: Transport, topic: str) -> RPCClient:
        return RPCClient(transport, Target(topic=topic), version="1.3", timeout=WAIT_SECONDS)

    @pytest.fixture
    def ctxt(self) -> RequestContext:
        return RequestContext(user_id="u-1", project_id="p-1", roles=("member",), auth_token="secret-token")

    def test_call_returns_the_result(self, serve: Any, client: RPCClient, ctxt: RequestContext) -> None:
        serve("host-a")
        assert client.call(ctxt, "echo", value={"n": [1, 2.5, "x", None]}) == {
            "server": "host-a",
            "value": {"n": [1, 2.5, "x", None]},
        }

    @pytest.mark.parametrize("kind", ["NotFound", "Conflict", "BadRequest"])
    def test_call_reraises_the_remote_error_type(
        self, serve: Any, client: RPCClient, ctxt: RequestContext, kind: str
    ) -> None:
        serve("host-a")
        with pytest.raises(OvercastError) as raised:
            client.call(ctxt, "fail", kind=kind, message=f"instance i-1 is {kind}")
        assert type(raised.value).__name__ == kind
        assert raised.value.message == f"instance i-1 is {kind}"

    def test_foreign_exception_becomes_remote_error(
        self, serve: Any, client: RPCClient, ctxt: RequestContext
    ) -> None:
        serve("host-a")
        with pytest.raises(RemoteError) as raised:
            client.call(ctxt, "crash")
        assert raised.value.exc_type == "ValueError"
        assert "disk on fire" in raised.value.message

    def test_unserializable_result_is_an_error_not_a_hang(
        self, serve: Any, client: RPCClient, ctxt: RequestContext
    ) -> None:
        serve("host-a")
        with pytest.raises(RemoteError, match="not JSON serializable"):  # a hang would be a MessagingTimeout
            client.call(ctxt, "unserializable")

    def test_cast_runs_the_method(self, serve: Any, client: RPCClient, ctxt: RequestContext) -> None:
        _, endpoint = serve("host-a")
        client.cast(ctxt, "record", value=42)
        assert endpoint.received.get(timeout=WAIT_SECONDS) == ("host-a", 42)

    def test_cast_waits_for_a_server_that_starts_later(
        self, serve: Any, client: RPCClient, ctxt: RequestContext
    ) -> None:
        client.prepare(host="host-a").cast(ctxt, "record", value="early")
        _, endpoint = serve("host-a")
        assert endpoint.received.get(timeout=WAIT_SECONDS) == ("host-a", "early")

    def test_fanout_reaches_every_server_of_the_topic(
        self, serve: Any, client: RPCClient, ctxt: RequestContext, transport: Transport
    ) -> None:
        _, first = serve("host-a")
        _, second = serve("host-b")
        bystander = Endpoint("other-topic")
        other = RPCServer(transport, Target(topic=f"{client.target.topic}-other", host="host-a"), [bystander])
        other.start()
        try:
            client.prepare(fanout=True).cast(ctxt, "record", value="to-all")
            assert first.received.get(timeout=WAIT_SECONDS) == ("host-a", "to-all")
            assert second.received.get(timeout=WAIT_SECONDS) == ("host-b", "to-all")
            time.sleep(0.2)
            assert bystander.received.empty()
            assert first.received.empty() and second.received.empty()
        finally:
            other.stop()
            other.wait(WAIT_SECONDS)

    def test_host_target_reaches_only_that_host(
        self, serve: Any, client: RPCClient, ctxt: RequestContext
    ) -> None:
        serve("host-a")
        serve("host-b")
        to_b = client.prepare(host="host-b")
        assert {to_b.call(ctxt, "whoami") for _ in range(8)} == {"host-b"}

    def test_calls_without_host_round_robin_across_servers(
        self, serve: Any, client: RPCClient, ctxt: RequestContext
    ) -> None:
        serve("host-a")
        serve("host-b")
        answers = [client.call(ctxt, "whoami") for _ in range(12)]
        assert set(answers) == {"host-a", "host-b"}

    def test_call_to_a_down_host_times_out_clearly(
        self, serve: Any, client: RPCClient, ctxt: RequestContext
    ) -> None:
        serve("host-a")
        started = time.monotonic()
        with pytest.raises(MessagingTimeout) as raised:
            client.prepare(host="down-host", timeout=SHORT_TIMEOUT).call(ctxt, "whoami")
        elapsed = time.monotonic() - started
        assert SHORT_TIMEOUT * 0.9 <= elapsed < client.timeout / 2  # the prepared timeout, not the client's
        topic = client.target.topic
        assert f"timed out waiting for a reply from topic {topic} host down-host" in raised.value.message

    @pytest.mark.parametrize("version", ["1.4", "2.0", "0.9"])
    def test_version_the_server_does_not_serve_is_refused(
        self, serve: Any, client: RPCClient, ctxt: RequestContext, version: str
    ) -> None:
        serve("host-a")
        with pytest.raises(UnsupportedVersion, match=version):
            client.prepare(version=version).call(ctxt, "whoami")

    def test_older_minor_version_is_served(self, serve: Any, client: RPCClient, ctxt: RequestContext) -> None:
        serve("host-a")
        assert client.prepare(version="1.0").call(ctxt, "whoami") == "host-a"

    def test_private_and_unknown_methods_are_refused(
        self, serve: Any, client: RPCClient, ctxt: RequestContext
    ) -> None:
        _, endpoint = serve("host-a")
        with pytest.raises(NoSuchMethod, match="private"):
            client.call(ctxt, "_secret")
        with pytest.raises(NoSuchMethod, match="no_such_thing"):
            client.call(ctxt, "no_such_thing")
        assert not endpoint.private_ran

    def test_context_round_trips_without_the_token(
        self, serve: Any, client: RPCClient, ctxt: RequestContext
    ) -> None:
        serve("host-a")
        remote = client.call(ctxt, "context")
        assert remote["request_id"] == ctxt.request_id
        assert (remote["user_id"], remote["project_id"], remote["roles"]) == ("u-1", "p-1", ["member"])
        assert "auth_token" not in remote
        assert RequestContext.from_dict(remote) == RequestContext(
            user_id="u-1", project_id="p-1", roles=("member",), request_id=ctxt.request_id
        )

    def test_stop_finishes_in_flight_messages(
        self, serve: Any, client: RPCClient, ctxt: RequestContext
    ) -> None:
        server, endpoint = serve("host-a")
        results: queue.Queue[Any] = queue.Queue()
        caller = threading.Thread(
            target=lambda: results.put(
                client.prepare(host="host-a").call(ctxt, "slow", seconds=0.5, value="done")
            )
        )
        caller.start()
        assert endpoint.started.wait(WAIT_SECONDS)
        server.stop()
        server.wait(WAIT_SECONDS)
        assert results.get(timeout=WAIT_SECONDS) == "done"
        caller.join(WAIT_SECONDS)
        with pytest.raises(MessagingTimeout):
            client.prepare(host="host-a", timeout=0.3).call(ctxt, "whoami")

    def test_notifications_reach_every_pool_once(
        self, transport: Transport, topic: str, ctxt: RequestContext
    ) -> None:
        sinks = {name: NotificationSink() for name in ("metering", "audit", "shared-1", "shared-2", "own")}
        metering, audit, shared = POOLS
        pools = {"metering": metering, "audit": audit, "shared-1": shared, "shared-2": shared, "own": None}
        listeners = [
            NotificationListener(
                transport, [sinks[name]], topics=(topic,), pool=f"{topic}-{pool}" if pool else None
            )
            for name, pool in pools.items()
        ]
        for listener in listeners:
            listener.start()
        try:
            notifier = Notifier(transport, "compute.host-a", topics=(topic,))
            for index in range(4):
                notifier.info(ctxt, "compute.instance.create.end", {"index": index})
            notifier.prepare("api.host-z").error(ctxt, "compute.instance.delete.error", {"index": 99})

            def count(name: str) -> int:
                with sinks[name].lock:
                    return len(sinks[name].events)

            every_listener = ("metering", "audit", "own")
            wait_until(lambda: all(count(name) == 5 for name in every_listener), interval=0.01)
            wait_until(lambda: count("shared-1") + count("shared-2") == 5, interval=0.01)
            time.sleep(0.2)  # time for any duplicate to show up
            assert count("shared-1") + count("shared-2") == 5
            publisher, event_type, payload, metadata, request_id = sinks["metering"].events[0]
            assert (publisher, event_type, payload, request_id) == (
                "compute.host-a",
                "compute.instance.create.end",
                {"index": 0},
                ctxt.request_id,
            )
            assert metadata["message_id"] and metadata["timestamp"]
            assert sinks["audit"].events[-1][:3] == (
                "api.host-z",
                "error:compute.instance.delete.error",
                {"index": 99},
            )
        finally:
            for listener in listeners:
                listener.stop()
            for listener in listeners:
                listener.wait(WAIT_SECONDS)


class TestInprocBus(BusContract):
    @pytest.fixture
    def bus_url(self) -> str:
        return f"inproc://contract-{uuid.uuid4().hex}"


class TestInprocBusWorkerThreadsOnly(BusContract):
    """The same contract with every call going through the server's worker threads."""

    @pytest.fixture
    def bus_url(self) -> str:
        return f"inproc://contract-{uuid.uuid4().hex}?caller_runs=false"
