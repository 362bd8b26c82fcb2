"""The most an image upload can do on this machine: a receiver with no HTTP framework at all.

It reads the request body from the socket straight into page-aligned 4 MiB blocks (no copy in user
space), hashes each block with md5 and sha512 on two threads (what Glance records) and writes it with
O_DIRECT, then fsyncs: the work every upload must do and nothing else. curl sends the file, as in
the API rows. bench/image.py prints its rate beside the API's, so a miss of the target can be told
apart from a limit of the machine.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import socket
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

BLOCK = 4 * 1024 * 1024
RING = 3


def _read_head(conn: socket.socket) -> tuple[int, bytes]:
    """The Content-Length of the request and the body bytes that came with its head."""
    head = b""
    while b"\r\n\r\n" not in head:
        received = conn.recv(65536)
        if not received:
            raise ConnectionError("the client closed the connection before its request head")
        head += received
    head, body = head.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value), body
    raise ValueError("the request has no Content-Length")


def _receive(conn: socket.socket, target: Path) -> None:
    length, body = _read_head(conn)
    md5, sha512 = hashlib.md5(usedforsecurity=False), hashlib.sha512()
    ring = [mmap.mmap(-1, BLOCK) for _ in range(RING)]
    hashing: list[tuple[Future[None], ...]] = [() for _ in ring]
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o600)
    try:
        with ThreadPoolExecutor(1) as md5_thread, ThreadPoolExecutor(1) as sha512_thread:
            current, filled = 0, len(body)
            ring[0][:filled] = body
            received = filled
            while received < length:
                with memoryview(ring[current])[filled:] as room:
                    count = conn.recv_into(room, min(len(room), length - received))
                if not count:
                    raise ConnectionError("the client went away mid-upload")
                filled += count
                received += count
                if filled == BLOCK or received == length:
                    block = memoryview(ring[current])[:filled]
                    hashing[current] = (md5_thread.submit(md5.update, block),
                                        sha512_thread.submit(sha512.update, block))  # fmt: skip
                    aligned = filled - filled % 4096
                    os.write(fd, block[:aligned])
                    if aligned < filled:  # the unaligned tail of the file, through the page cache
                        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
                        os.write(fd, block[aligned:])
                    current, filled = (current + 1) % RING, 0
                    for future in hashing[current]:
                        future.result()
            for futures in hashing:
                for future in futures:
                    future.result()
        os.fsync(fd)
    finally:
        os.close(fd)
    conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def upload_seconds(source: Path, work: Path) -> float:
    """Seconds for curl to upload `source` to the no-framework receiver (which stores it in `work`)."""
    target = work / "bound.img"
    errors: list[BaseException] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                with conn:
                    _receive(conn, target)
            except BaseException as exc:  # reported by the caller, after curl returns
                errors.append(exc)

        receiver = threading.Thread(target=serve, name="bound-receiver")
        receiver.start()
        started = time.perf_counter()
        curl = ["curl", "-sSf", "-T", str(source), "-H", "Expect:", f"http://127.0.0.1:{port}/upload"]
        subprocess.run(curl, check=True, stdout=subprocess.DEVNULL)
        receiver.join()
        elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    if target.stat().st_size != source.stat().st_size:
        raise AssertionError("the receiver stored the wrong number of bytes")
    target.unlink()
    return elapsed
