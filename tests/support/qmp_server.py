"""An in-process QMP server on a unix socket that speaks enough of the protocol to test our client."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]
GREETING = {
    "QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""}, "capabilities": []}
}


class FakeQMPServer:
    """Answers commands with `handlers[name](arguments)` (a dict: {"return": ...} or {"error": ...})."""

    def __init__(self, path: Path, bind_path: str | None = None) -> None:
        self.path = path
        self.handlers: dict[str, Handler] = {"qmp_capabilities": lambda args: {"return": {}}}
        self.received: list[dict[str, Any]] = []
        self.negotiated = threading.Event()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(bind_path or str(path))
        self._listener.listen(1)
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def emit(self, event: str, data: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"event": event, "timestamp": {"seconds": 0, "microseconds": 0}}
        if data is not None:
            message["data"] = data
        self._send(message)

    def disconnect(self) -> None:
        """What QEMU exiting looks like to the client."""
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.disconnect()
        self._listener.close()
        self._thread.join(timeout=5)

    def _send(self, message: dict[str, Any]) -> None:
        assert self._conn is not None
        with self._send_lock:
            self._conn.sendall(json.dumps(message).encode() + b"\n")

    def _serve(self) -> None:
        try:
            self._conn, _ = self._listener.accept()
        except OSError:
            return
        try:
            with self._conn, self._conn.makefile("rb") as lines:
                self._send(GREETING)
                for line in lines:
                    self._answer(json.loads(line))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client hung up first, as one whose command timed out does before the late reply

    def _answer(self, request: dict[str, Any]) -> None:
        self.received.append(request)
        name = request["execute"]
        if name == "qmp_capabilities":
            self.negotiated.set()
        elif not self.negotiated.is_set():
            reply: dict[str, Any] = {"error": {"class": "CommandNotFound", "desc": "negotiate first"}}
            self._send({**reply, "id": request.get("id")})
            return
        handler = self.handlers.get(name)
        if handler is None:
            reply = {"error": {"class": "CommandNotFound", "desc": f"The command {name} has not been found"}}
        else:
            reply = handler(request.get("arguments", {}))
        if "id" in request:
            reply = {**reply, "id": request["id"]}
        self._send(reply)
