"""The metadata proxy on loopback: who may ask, what it signs, and that the API's answer comes back whole.

The upstream "API" is a small ASGI app of ours that echoes what it received; the proxy itself is the real
one, bound in this process's namespace on 127.0.0.1 (the namespace case is in tests/integration).
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.exc import OperationalError
from starlette.types import Receive, Scope, Send

from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.metadata.signing import sign
from overcast.network.api.service import NetworkAPI
from overcast.network.metadata import (
    MetadataProxy,
    MetadataProxyApp,
    PortDirectory,
    Requester,
    listening_socket,
)
from tests.support.ports import free_port
from tests.support.waiting import WAIT_SECONDS

SECRET = "proxy-secret"
INSTANCE = "0f5a2c1e-1111-4222-8333-444455556666"
ALICE = RequestContext(user_id="alice", project_id="project-a", roles=("member",))
ADMIN = RequestContext(user_id="root", project_id="admin", roles=("admin", "member"), is_admin=True)


class EchoAPI:
    """Answers every request with what it saw; /metadata/missing is a 404, /metadata/big a 1 MiB body."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen = {
            "method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode(),
            "headers": {k.decode(): v.decode() for k, v in scope["headers"]}, "body": body.decode(),
        }  # fmt: skip
        self.requests.append(seen)
        status, body = 200, json.dumps(seen).encode()
        if scope["path"] == "/metadata/missing":
            status, body = 404, b"404 Not Found\n"
        elif scope["path"] == "/metadata/big":
            body = bytes(range(256)) * 4096
        elif scope["path"] == "/metadata/cut":
            # Promises 1,000 bytes, sends 10 and dies: the API process going away mid-answer.
            start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]}
            await send(start)
            await send({"type": "http.response.body", "body": b"0123456789", "more_body": True})
            raise ConnectionError("the API died")
        headers = [(b"content-type", b"application/json"), (b"x-upstream", b"yes")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        half = len(body) // 2
        await send({"type": "http.response.body", "body": body[:half], "more_body": True})
        await send({"type": "http.response.body", "body": body[half:]})


class StaticDirectory(PortDirectory):
    def __init__(self, known: dict[tuple[str, str], Requester]) -> None:
        self.known = known

    def requester(self, network_ids: Collection[str], address: str) -> Requester | None:
        return next(
            (found for (net, ip), found in self.known.items() if net in network_ids and ip == address), None
        )


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[EchoAPI, str]]:
    app = EchoAPI()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def proxy_for(api_url: str, network_ids: tuple[str, ...] = ("net-1",)) -> MetadataProxy:
    directory = StaticDirectory({("net-1", "127.0.0.1"): Requester(INSTANCE, "project-a")})
    app = MetadataProxyApp(directory, network_ids, api_url, SECRET)
    return MetadataProxy(app, None, address="127.0.0.1", port=0)


@pytest.fixture
def proxy(upstream: tuple[EchoAPI, str]) -> Iterator[MetadataProxy]:
    running = proxy_for(upstream[1])
    running.start()
    yield running
    running.stop()


def test_a_known_source_is_signed_and_forwarded(proxy: MetadataProxy, upstream: tuple[EchoAPI, str]) -> None:
    url = f"http://127.0.0.1:{proxy.bound_port}/openstack/latest/meta_data.json?x=1"
    answer = httpx.get(url, timeout=WAIT_SECONDS)
    assert answer.status_code == 200
    assert answer.headers["x-upstream"] == "yes"
    seen = answer.json()
    assert (seen["path"], seen["query"]) == ("/metadata/openstack/latest/meta_data.json", "x=1")
    assert seen["headers"]["x-instance-id"] == INSTANCE
    assert seen["headers"]["x-tenant-id"] == "project-a"
    assert seen["headers"]["x-instance-id-signature"] == sign(SECRET, INSTANCE)
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    # The guest gets the bytes the API sent, never an encoding it did not ask for.
    assert seen["headers"]["accept-encoding"] == "identity"
    assert answer.headers.get_list("date") == [answer.headers["date"]]


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """A GET with the target exactly as given (httpx resolves dot segments before sending)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT_SECONDS)
    try:
        connection.request("GET", target)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("target", "forwarded"),
    [("/../identity/v3", "/metadata/identity/v3"), ("/openstack/../../../image/v2", "/metadata/image/v2"),
     ("/%2e%2e/compute", "/metadata/compute"), ("/openstack/latest/", "/metadata/openstack/latest/"),
     ("/", "/metadata/")],
)  # fmt: skip
def test_no_path_leaves_the_metadata_routes(proxy: MetadataProxy, target: str, forwarded: str) -> None:
    status, body = raw_get(proxy.bound_port, target)
    assert status == 200
    assert json.loads(body)["path"] == forwarded


def test_the_answer_streams_back_whole_with_its_status(proxy: MetadataProxy) -> None:
    base = f"http://127.0.0.1:{proxy.bound_port}"
    assert httpx.get(f"{base}/big", timeout=WAIT_SECONDS).content == bytes(range(256)) * 4096
    missing = httpx.get(f"{base}/missing", timeout=WAIT_SECONDS)
    assert (missing.status_code, missing.text) == (404, "404 Not Found\n")


def test_an_unknown_source_gets_404_and_nothing_reaches_the_api(upstream: tuple[EchoAPI, str]) -> None:
    elsewhere = proxy_for(upstream[1], network_ids=("net-2",))
    elsewhere.start()
    try:
        before = len(upstream[0].requests)
        answer = httpx.get(f"http://127.0.0.1:{elsewhere.bound_port}/latest/meta-data/", timeout=WAIT_SECONDS)
        assert answer.status_code == 404
        assert len(upstream[0].requests) == before
    finally:
        elsewhere.stop()


def test_a_posted_password_is_forwarded_and_nothing_else_is_written(proxy: MetadataProxy) -> None:
    url = f"http://127.0.0.1:{proxy.bound_port}/openstack/latest/password"
    answer = httpx.post(url, content=b"ZW5jcnlwdGVk", timeout=WAIT_SECONDS)
    assert answer.status_code == 200
    seen = answer.json()
    assert (seen["method"], seen["path"], seen["body"]) == ("POST", "/metadata/openstack/latest/password",
                                                            "ZW5jcnlwdGVk")  # fmt: skip
    assert seen["headers"]["x-instance-id-signature"] == sign(SECRET, INSTANCE)
    assert httpx.post(url, content=b"x" * 5000, timeout=WAIT_SECONDS).status_code == 413
    assert httpx.put(url, content=b"x", timeout=WAIT_SECONDS).status_code == 405
    assert httpx.delete(url, timeout=WAIT_SECONDS).status_code == 405


def test_an_answer_cut_off_reaches_the_guest_cut_off(proxy: MetadataProxy) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"http://127.0.0.1:{proxy.bound_port}/cut", timeout=WAIT_SECONDS)
    assert httpx.get(f"http://127.0.0.1:{proxy.bound_port}/", timeout=WAIT_SECONDS).status_code == 200


class BrokenDirectory(PortDirectory):
    def __init__(self) -> None:
        pass

    def requester(self, network_ids: Collection[str], address: str) -> Requester | None:
        raise OperationalError("SELECT ...", {}, Exception("database is locked"))


def test_an_unreadable_ports_table_is_unavailable_not_an_error(upstream: tuple[EchoAPI, str]) -> None:
    app = MetadataProxyApp(BrokenDirectory(), ("net-1",), upstream[1], SECRET)
    broken = MetadataProxy(app, None, address="127.0.0.1", port=0)
    broken.start()
    try:
        assert httpx.get(f"http://127.0.0.1:{broken.bound_port}/", timeout=WAIT_SECONDS).status_code == 503
    finally:
        broken.stop()


def test_an_unreachable_api_is_a_bad_gateway() -> None:
    unreachable = proxy_for(f"http://127.0.0.1:{free_port()}")
    unreachable.start()
    try:
        answer = httpx.get(f"http://127.0.0.1:{unreachable.bound_port}/", timeout=WAIT_SECONDS)
        assert answer.status_code == 502
    finally:
        unreachable.stop()


def test_its_connections_send_without_waiting_for_acks() -> None:
    # Named TCP with Nagle off (accepted connections inherit it; asyncio also sets it only for sockets
    # whose protocol is TCP): a keep-alive answer written in parts took 40 ms more without it.
    with listening_socket(None, "127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_stop_closes_the_port_and_start_serves_again(upstream: tuple[EchoAPI, str]) -> None:
    proxy = proxy_for(upstream[1])
    proxy.start()
    proxy.start()  # already running: nothing changes
    port = proxy.bound_port
    proxy.stop()
    assert not proxy.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    proxy.start()
    try:
        assert httpx.get(f"http://127.0.0.1:{proxy.bound_port}/", timeout=WAIT_SECONDS).status_code == 200
    finally:
        proxy.stop()


def test_the_ports_table_names_the_instance_behind_a_fixed_ip(db: Database, tmp_path: Path) -> None:
    transport = get_transport(f"inproc://metadata-proxy-{uuid.uuid4().hex}")
    cloud = Cloud(settings=load_settings(data_dir=tmp_path), db=db, transport=transport)
    network = NetworkAPI(cloud, rng=random.Random(5))
    net = network.networks.create(ALICE, {"name": "private"})
    other = network.networks.create(ALICE, {"name": "other"})
    for created in (net, other):
        network.subnets.create(ALICE, {"network_id": created["id"], "ip_version": 4, "cidr": "10.0.0.0/24"})

    def port(network_id: str, address: str, **attrs: Any) -> None:
        network.ports.create(ADMIN, {"network_id": network_id, "project_id": "project-a",
                                     "fixed_ips": [{"ip_address": address}], **attrs})  # fmt: skip

    port(net["id"], "10.0.0.5", device_id=INSTANCE, device_owner="compute:nova")
    port(other["id"], "10.0.0.6", device_id="another-instance", device_owner="compute:nova")
    port(net["id"], "10.0.0.7", device_id="router-1", device_owner="network:router_interface")
    port(net["id"], "10.0.0.8")  # nobody's
    directory = PortDirectory(db)
    assert directory.requester([net["id"]], "10.0.0.5") == Requester(INSTANCE, "project-a")
    assert directory.requester([net["id"], other["id"]], "10.0.0.6") == Requester(
        "another-instance", "project-a"
    )
    # The same address on a network this proxy does not serve, a router's port, an unbound port, nothing.
    assert directory.requester([net["id"]], "10.0.0.6") is None
    assert directory.requester([net["id"]], "10.0.0.7") is None
    assert directory.requester([net["id"]], "10.0.0.8") is None
    assert directory.requester([net["id"]], "10.0.0.99") is None
    assert directory.requester([], "10.0.0.5") is None
    transport.close()
