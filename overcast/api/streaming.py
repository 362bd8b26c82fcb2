"""Feeding a request body to a worker thread in batches, for routes that stream uploads into a store.

Uploads never sit whole in memory: the event loop gathers the request body's pieces into ~4 MiB
batches (a list, not joined: joining would copy every byte once more) and hands them through a small
bounded queue to a worker thread, so receiving and the thread's work overlap while memory stays at a
few batches. A hand-off between the loop and the thread costs a few wake-ups, so one per piece (256 KiB
off the socket) would cost more than one per batch.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.from_thread
from starlette.requests import ClientDisconnect, Request

from overcast import errors
from overcast.image.stores import CHUNK_SIZE

T = TypeVar("T")
# Batches waiting between the event loop and the worker thread (the memory bound of one upload).
QUEUE_DEPTH = 3
BATCH_SIZE = 4 * CHUNK_SIZE
_END = object()


class UploadCutOff(errors.BadRequest):
    default_message = "The client closed the connection before the upload completed."


async def consume_in_thread(request: Request, work: Callable[[Iterator[bytes]], T]) -> T:
    """Run `work(chunks)` in a worker thread while this coroutine feeds it the request body."""
    queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_DEPTH)
    stop = threading.Event()

    async def produce() -> None:
        pending: list[bytes] = []
        size = 0
        try:
            async for piece in request.stream():
                if stop.is_set():
                    return
                pending.append(piece)
                size += len(piece)
                if size >= BATCH_SIZE:
                    await queue.put(pending)
                    pending, size = [], 0
            if pending:
                await queue.put(pending)
            await queue.put(_END)
        except ClientDisconnect:
            await queue.put(UploadCutOff())
        except Exception as exc:
            await queue.put(exc)

    def chunks() -> Iterator[bytes]:
        while True:
            item = anyio.from_thread.run(queue.get)
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield from item

    def run() -> T:
        try:
            return work(chunks())
        finally:
            stop.set()

    producer = asyncio.ensure_future(produce())
    try:
        return await anyio.to_thread.run_sync(run)
    finally:
        if not producer.done():
            # The worker stopped early (an error); drain so the producer is not stuck on a full queue.
            while not producer.done():
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    await asyncio.sleep(0.001)
        await producer
