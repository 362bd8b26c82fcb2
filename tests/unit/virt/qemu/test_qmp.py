"""The QMP client against an in-process QMP server (tests/support/qmp_server.py)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overcast.virt.qemu.qmp import QMPClient, QMPConnectionError, QMPError
from tests.support.qmp_server import FakeQMPServer
from tests.support.waiting import WAIT_SECONDS


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeQMPServer]:
    fake = FakeQMPServer(tmp_path / "qmp.sock")
    yield fake
    fake.close()


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def client(server: FakeQMPServer, events: list[dict[str, Any]]) -> Iterator[QMPClient]:
    qmp = QMPClient(server.path, timeout=WAIT_SECONDS, on_event=events.append)
    qmp.connect()
    yield qmp
    qmp.close()


def test_handshake_negotiates_capabilities_first(server: FakeQMPServer, client: QMPClient) -> None:
    assert client.greeting["QMP"]["version"]["qemu"]["major"] == 7
    assert server.received[0]["execute"] == "qmp_capabilities"


def test_execute_returns_the_reply_for_its_own_id(server: FakeQMPServer, client: QMPClient) -> None:
    server.handlers["query-status"] = lambda args: {"return": {"status": "running", "running": True}}
    server.handlers["echo"] = lambda args: {"return": args}
    assert client.execute("query-status") == {"status": "running", "running": True}
    assert client.execute("echo", {"value": 42}) == {"value": 42}
    ids = [request["id"] for request in server.received]
    assert len(set(ids)) == len(ids)


def test_errors_raise_with_their_class(client: QMPClient) -> None:
    with pytest.raises(QMPError, match="CommandNotFound") as caught:
        client.execute("no-such-command")
    assert caught.value.error_class == "CommandNotFound"


def test_events_reach_the_callback_and_wait_event(
    server: FakeQMPServer, client: QMPClient, events: list[dict[str, Any]]
) -> None:
    mark = client.event_mark()
    server.emit("STOP")
    server.emit("RESET", {"guest": True, "reason": "guest-reset"})
    reset = client.wait_event("RESET", timeout=WAIT_SECONDS, after=mark)
    assert reset is not None and reset["data"]["reason"] == "guest-reset"
    assert [e["event"] for e in events] == ["STOP", "RESET"]
    assert client.wait_event("RESET", timeout=0.1) is None  # nothing new after "now"


def test_events_interleaved_with_replies(server: FakeQMPServer, client: QMPClient) -> None:
    def stop(args: dict[str, Any]) -> dict[str, Any]:
        server.emit("STOP")  # QEMU sends the event before the command's reply
        return {"return": {}}

    server.handlers["stop"] = stop
    mark = client.event_mark()
    assert client.execute("stop") == {}
    assert client.wait_event("STOP", timeout=WAIT_SECONDS, after=mark) is not None


def test_concurrent_commands_from_threads(server: FakeQMPServer, client: QMPClient) -> None:
    server.handlers["echo"] = lambda args: {"return": args}
    results: dict[int, Any] = {}

    def worker(n: int) -> None:
        results[n] = client.execute("echo", {"n": n})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)
    assert results == {n: {"n": n} for n in range(20)}


def test_qemu_going_away_closes_the_client(
    server: FakeQMPServer, client: QMPClient, events: list[dict[str, Any]]
) -> None:
    server.disconnect()
    assert client.wait_closed(timeout=WAIT_SECONDS)
    assert events[-1] == {"event": "CONNECTION_CLOSED"}
    with pytest.raises(QMPConnectionError):
        client.execute("query-status")


def test_no_reply_times_out(server: FakeQMPServer, client: QMPClient) -> None:
    never = threading.Event()

    def hang(args: dict[str, Any]) -> dict[str, Any]:
        never.wait(2)
        return {"return": {}}

    server.handlers["hang"] = hang
    with pytest.raises(QMPConnectionError, match="no reply"):
        client.execute("hang", timeout=0.2)
    never.set()


def test_connect_fails_without_a_socket(tmp_path: Path) -> None:
    with pytest.raises(QMPConnectionError):
        QMPClient(tmp_path / "absent.sock").connect(wait=0.1)


def test_long_socket_paths_are_reached(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    # bind() has connect()'s 108-byte limit too: the server binds through its folder's descriptor.
    folder = os.open(deep, os.O_PATH)
    try:
        fake = FakeQMPServer(deep / "qmp.sock", bind_path=f"/proc/self/fd/{folder}/qmp.sock")
    finally:
        os.close(folder)
    try:
        assert len(str(fake.path)) > 108
        with QMPClient(fake.path, timeout=WAIT_SECONDS) as client:
            client.connect()
            assert fake.negotiated.wait(WAIT_SECONDS)
    finally:
        fake.close()
