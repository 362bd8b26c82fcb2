"""The metadata proxy: http://169.254.169.254 inside a router or DHCP namespace, forwarded to the API.

The network agent runs one `MetadataProxy` per namespace it serves metadata in, naming the networks
whose guests reach it there (a DHCP namespace serves its network, a router namespace the networks of its
interfaces). A guest's request is identified by where it came from: its source address must be a fixed
IP of a compute port on one of those networks (anti-spoofing keeps a VM to its own addresses); the
proxy then signs that port's instance id (`overcast.metadata.signing`), names the port's project, and
streams the API's answer back. Any other source gets a 404 and nothing reaches the API.

The listening socket is made inside the namespace by a short-lived thread that enters it (`setns`), so
the agent's own process, in the host's namespace, serves it and reaches the API on the host's network:
no route from the namespace to the API is needed, and none from the host to the namespace.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import posixpath
import socket
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import Receive, Scope, Send

from overcast.cloud import Cloud
from overcast.db import Database
from overcast.db.models.network import IPAllocation, Port
from overcast.metadata import signing

LOG = logging.getLogger(__name__)

METADATA_ADDRESS = "169.254.169.254"
METADATA_PORT = 80
NETNS_DIR = "/run/netns"
API_PATH = "/metadata"
# What a guest may do: read, and post its password.
METHODS = ("GET", "HEAD", "POST")
MAX_BODY_BYTES = 4096
_CLONE_NEWNET = 0x40000000
_IP_FREEBIND = 15
# Hop-by-hop headers are the connection's, not the answer's (RFC 9110 7.6.1).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                         "proxy-authenticate", "proxy-authorization"})  # fmt: skip


@dataclass(frozen=True)
class Requester:
    instance_id: str
    project_id: str


class PortDirectory:
    """Which instance holds a fixed IP on some networks, from the ports table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def requester(self, network_ids: Collection[str], address: str) -> Requester | None:
        if not network_ids:
            return None
        with self.db.reader() as session:
            row = session.execute(
                select(Port.device_id, Port.project_id)
                .join(IPAllocation, IPAllocation.port_id == Port.id)
                .where(
                    IPAllocation.network_id.in_(list(network_ids)),
                    IPAllocation.ip_address == address,
                    Port.device_owner.startswith("compute:"),
                    Port.device_id != "",
                )
            ).first()
        return Requester(row.device_id, row.project_id) if row else None


def api_path(guest_path: str) -> str:
    """The API path a guest's path is forwarded to. Dot segments are resolved here, so no path a guest
    sends leaves the API's metadata routes; a trailing slash (a listing) is kept."""
    normalized = posixpath.normpath("/" + guest_path.lstrip("/")).lstrip("/")
    if not normalized:
        return API_PATH + "/"
    return f"{API_PATH}/{quote(normalized)}" + ("/" if guest_path.endswith("/") else "")


async def _body(receive: Receive) -> bytes | None:
    """A guest's POST body (its password: Nova takes 256 bytes), or None past MAX_BODY_BYTES."""
    body = b""
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b""
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            return None
        more = message.get("more_body", False)
    return body


def _plain(status: int, text: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = f"{text}\n".encode()
    headers = [(b"content-type", b"text/plain; charset=UTF-8"), (b"content-length", str(len(body)).encode())]
    return status, headers, body


class MetadataProxyApp:
    """The ASGI app a proxy serves: identify, sign, forward, stream back."""

    def __init__(
        self, directory: PortDirectory, network_ids: Collection[str], api_url: str, secret: str
    ) -> None:
        self.directory = directory
        self.network_ids = tuple(network_ids)
        self.api_url = api_url.rstrip("/")
        self.secret = secret
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] not in METHODS:
            await self._send(send, *_plain(405, "405 Method Not Allowed"))
            return
        source = (scope.get("client") or ("", 0))[0]
        try:
            requester = await asyncio.to_thread(self.directory.requester, self.network_ids, source)
        except SQLAlchemyError:
            LOG.exception("the ports table could not be read for a metadata request from %s", source)
            await self._send(send, *_plain(503, "503 Service Unavailable"))
            return
        if requester is None:
            LOG.info("metadata request from %s, which is no instance's address here", source)
            await self._send(send, *_plain(404, "404 Not Found"))
            return
        body = await _body(receive) if scope["method"] == "POST" else b""
        if body is None:
            await self._send(send, *_plain(413, "413 Request Entity Too Large"))
            return
        await self._forward(scope, send, source, requester, body)

    async def _forward(
        self, scope: Scope, send: Send, source: str, requester: Requester, body: bytes
    ) -> None:
        url = self.api_url + api_path(scope["path"])
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = {**signing.signed_headers(self.secret, requester.instance_id, requester.project_id),
                   "X-Forwarded-For": source, "Accept-Encoding": "identity"}  # fmt: skip
        client = self._client or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
        self._client = client
        started = False
        try:
            async with client.stream(scope["method"], url, headers=headers, content=body or None) as answer:
                await send({"type": "http.response.start", "status": answer.status_code,
                            "headers": [(name.encode("latin-1"), value.encode("latin-1"))
                                        for name, value in answer.headers.items()
                                        if name.lower() not in _HOP_BY_HOP]})  # fmt: skip
                started = True
                async for chunk in answer.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError as error:
            LOG.warning("metadata API at %s did not answer: %s", self.api_url, error)
            if not started:
                await self._send(send, *_plain(502, "502 Bad Gateway"))
            # Cut off mid-answer: the guest sees a short body on a closed connection, never a spliced one.

    @staticmethod
    async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _enter_namespace(namespace: str) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fd = os.open(os.path.join(NETNS_DIR, namespace), os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns into {namespace}: {os.strerror(error)}")
    finally:
        os.close(fd)


def listening_socket(namespace: str | None, address: str, port: int) -> socket.socket:
    """A TCP socket listening on address:port inside `namespace` (None: this process's namespace).

    Only the thread that made it ever enters the namespace, and it ends at once. IP_FREEBIND lets the
    proxy start before the agent has put the metadata address on the namespace's interface.
    """
    made: dict[str, Any] = {}

    def make() -> None:
        try:
            if namespace:
                _enter_namespace(namespace)
            # Named TCP, so asyncio turns Nagle off on its connections (it checks the protocol number):
            # otherwise a keep-alive answer's second write waits for the guest's delayed ACK (~40 ms).
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
            sock.bind((address, port))
            sock.listen(128)
            made["socket"] = sock
        except OSError as error:
            made["error"] = error

    worker = threading.Thread(target=make, name=f"metadata-bind-{namespace}")
    worker.start()
    worker.join()
    if "error" in made:
        raise made["error"]
    sock: socket.socket = made["socket"]
    return sock


class MetadataProxy:
    """One namespace's metadata proxy: `start()` binds and serves on a thread, `stop()` ends it."""

    def __init__(
        self,
        app: MetadataProxyApp,
        namespace: str | None,
        *,
        address: str = METADATA_ADDRESS,
        port: int = METADATA_PORT,
    ) -> None:
        self.app = app
        self.namespace = namespace
        self.address = address
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_cloud(
        cls, cloud: Cloud, network_ids: Collection[str], namespace: str | None, **bind: Any
    ) -> MetadataProxy:
        """A proxy forwarding to this cloud's API (`base_url`) with its shared secret."""
        app = MetadataProxyApp(PortDirectory(cloud.db), network_ids, cloud.settings.base_url,
                               signing.shared_secret(cloud.settings))  # fmt: skip
        return cls(app, namespace, **bind)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def bound_port(self) -> int:
        """The port it listens on (the kernel's choice when started with port 0)."""
        return self.port

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        sock = listening_socket(self.namespace, self.address, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, lifespan="off", log_level="warning", access_log=False,
                                server_header=False, date_header=False)  # fmt: skip
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=self._serve, args=(server, sock), daemon=True,
                                        name=f"metadata-proxy-{self.namespace}")  # fmt: skip
        self._thread.start()
        if not _wait(lambda: server.started or not self.running, timeout) or not server.started:
            # A serving thread that died (or a start that hung) leaves nothing behind.
            self.stop()
            raise RuntimeError(f"the metadata proxy in {self.namespace} did not start")

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        async def serve() -> None:
            try:
                await server.serve(sockets=[sock])
            finally:
                await self.app.close()

        try:
            asyncio.run(serve())
        finally:
            sock.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
