"""A small QMP client: greeting and capabilities handshake, commands, and asynchronous events.

One reader thread per connection reads every line QEMU sends: replies go to the command waiting for
them (matched by `id`), events go to a history (for `wait_event`) and to an optional callback. The
callback runs on the reader thread, so it must not block (the driver only queues a notice).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

EventCallback = Callable[[dict[str, Any]], None]
# sun_path holds 108 bytes; longer socket paths are reached through an O_PATH descriptor of their folder.
_MAX_SOCKET_PATH = 100
_EVENT_HISTORY = 256


class QMPError(Exception):
    """QEMU answered a command with an error."""

    def __init__(self, command: str, error_class: str, description: str) -> None:
        super().__init__(f"QMP {command} failed: {error_class}: {description}")
        self.error_class = error_class
        self.description = description


class QMPConnectionError(Exception):
    """No connection, the connection closed (QEMU exited), or no reply in time."""


def connect_unix(path: Path, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        if len(str(path)) <= _MAX_SOCKET_PATH:
            sock.connect(str(path))
        else:
            folder = os.open(path.parent, os.O_PATH)
            try:
                sock.connect(f"/proc/self/fd/{folder}/{path.name}")
            finally:
                os.close(folder)
    except OSError:
        sock.close()
        raise
    return sock


class QMPClient:
    def __init__(self, path: Path, *, timeout: float = 30.0, on_event: EventCallback | None = None) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.greeting: dict[str, Any] = {}
        self._on_event = on_event
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._replies: dict[str, dict[str, Any]] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=_EVENT_HISTORY)
        self._event_seq = 0
        self._closed = threading.Event()
        self._ids = itertools.count(1)
        self._reader: threading.Thread | None = None

    # --- connection -------------------------------------------------------------------------------
    def connect(self, wait: float = 0.0) -> dict[str, Any]:
        """Connect (retrying up to `wait` seconds while the socket is not there yet) and negotiate."""
        deadline = time.monotonic() + wait
        while True:
            try:
                sock = connect_unix(self.path, self.timeout)
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise QMPConnectionError(f"Cannot connect to QMP socket {self.path}: {exc}") from exc
                time.sleep(0.05)
        self._sock = sock
        reader = sock.makefile("rb")
        try:
            self.greeting = json.loads(reader.readline() or b"{}")
        except (OSError, ValueError) as exc:
            self.close()
            raise QMPConnectionError(f"No QMP greeting on {self.path}: {exc}") from exc
        if "QMP" not in self.greeting:
            self.close()
            raise QMPConnectionError(f"Unexpected QMP greeting on {self.path}: {self.greeting}")
        sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, args=(reader,), daemon=True,
                                        name=f"qmp-reader-{self.path.parent.name}")  # fmt: skip
        self._reader.start()
        self.execute("qmp_capabilities")
        return self.greeting

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._mark_closed()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def wait_closed(self, timeout: float) -> bool:
        """True once QEMU closed the connection (it exited) within `timeout` seconds."""
        return self._closed.wait(timeout)

    def __enter__(self) -> QMPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- commands ---------------------------------------------------------------------------------
    def execute(
        self, command: str, arguments: dict[str, Any] | None = None, timeout: float | None = None
    ) -> Any:
        """Run a command; returns its `return` value or raises QMPError / QMPConnectionError."""
        if self._sock is None or self.closed:
            raise QMPConnectionError(f"QMP connection {self.path} is closed")
        request_id = f"overcast-{next(self._ids)}"
        message: dict[str, Any] = {"execute": command, "id": request_id}
        if arguments:
            message["arguments"] = arguments
        data = json.dumps(message).encode() + b"\n"
        with self._send_lock:
            try:
                self._sock.sendall(data)
            except OSError as exc:
                raise QMPConnectionError(f"QMP {command}: cannot send: {exc}") from exc
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._cond:
            while request_id not in self._replies:
                remaining = deadline - time.monotonic()
                if self.closed:
                    raise QMPConnectionError(f"QMP {command}: QEMU closed the connection")
                if remaining <= 0:
                    raise QMPConnectionError(f"QMP {command}: no reply within the timeout")
                self._cond.wait(remaining)
            reply = self._replies.pop(request_id)
        if "error" in reply:
            error = reply["error"]
            raise QMPError(command, str(error.get("class", "GenericError")), str(error.get("desc", "")))
        return reply.get("return")

    # --- events -----------------------------------------------------------------------------------
    def event_mark(self) -> int:
        """A position in the event stream; `wait_event(..., after=mark)` ignores older events."""
        with self._cond:
            return self._event_seq

    def wait_event(self, name: str, timeout: float, after: int | None = None) -> dict[str, Any] | None:
        """The first event called `name` seen after `after` (default: now), or None at the timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            start = self._event_seq if after is None else after
            while True:
                skipped = self._event_seq - len(self._events)
                for seq, event in enumerate(self._events, start=skipped + 1):
                    if seq > start and event.get("event") == name:
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    return None
                self._cond.wait(remaining)

    # --- reader -----------------------------------------------------------------------------------
    def _read_loop(self, reader: Any) -> None:
        try:
            for line in reader:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if "event" in message:
                    with self._cond:
                        self._events.append(message)
                        self._event_seq += 1
                        self._cond.notify_all()
                    if self._on_event is not None:
                        self._on_event(message)
                elif "id" in message:
                    with self._cond:
                        self._replies[str(message["id"])] = message
                        self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            self._mark_closed()

    def _mark_closed(self) -> None:
        first = not self._closed.is_set()
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        if first and self._on_event is not None:
            self._on_event({"event": "CONNECTION_CLOSED"})
