"""Image data over HTTP: PUT/GET /file, PUT /stage, POST /import.

Uploads never sit whole in memory: the event loop gathers the request body's pieces into ~4 MiB
batches (a list, not joined: joining would copy every byte once more) and hands them through a small
bounded queue to a worker thread that hashes and stores them, so receiving, hashing and writing
overlap while memory stays at a few batches. A hand-off between the loop and the thread costs a few
wake-ups, so one per piece (256 KiB off the socket) would cost more than one per batch.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.from_thread
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from overcast import errors
from overcast.api.deps import get_context
from overcast.api.openstack.image.errors import GlanceRoute
from overcast.api.openstack.image.images import json_body, service
from overcast.context import RequestContext
from overcast.image.stores import CHUNK_SIZE

LOG = logging.getLogger(__name__)
router = APIRouter(route_class=GlanceRoute)
T = TypeVar("T")
# Batches waiting between the event loop and the worker thread (the memory bound of one upload).
QUEUE_DEPTH = 3
BATCH_SIZE = 4 * CHUNK_SIZE
_END = object()


class UploadCutOff(errors.BadRequest):
    default_message = "The client closed the connection before the upload completed."


def declared_size(request: Request) -> int | None:
    for header in ("x-openstack-image-size", "content-length"):
        value = request.headers.get(header)
        if value is not None and value.isdigit():
            return int(value)
    return None


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


@router.put("/image/v2/images/{image_id}/file", status_code=204)
async def upload(image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Response:
    image_api = service(request)
    store_id = request.headers.get("x-image-meta-store")
    size = declared_size(request)
    await consume_in_thread(
        request,
        lambda chunks: image_api.data.upload(ctxt, image_id, chunks, store_id=store_id, declared_size=size),
    )
    return Response(status_code=204)


@router.put("/image/v2/images/{image_id}/stage", status_code=204)
async def stage(image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Response:
    image_api = service(request)
    size = declared_size(request)
    await consume_in_thread(
        request, lambda chunks: image_api.data.stage(ctxt, image_id, chunks, declared_size=size)
    )
    return Response(status_code=204)


@router.post("/image/v2/images/{image_id}/import", status_code=202)
async def import_image(
    image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Response:
    body = await json_body(request)
    method = body.get("method") if isinstance(body, dict) else None
    if not isinstance(method, dict) or not isinstance(method.get("name"), str):
        raise errors.BadRequest('The request body must name a method: {"method": {"name": "glance-direct"}}.')
    stores = body.get("stores")
    header_store = request.headers.get("x-image-meta-store")
    if stores is None and header_store:
        stores = [header_store]
    if stores is not None and not (isinstance(stores, list) and all(isinstance(s, str) for s in stores)):
        raise errors.BadRequest("stores must be a list of store ids.")
    image_api = service(request)
    work = await run_in_threadpool(
        image_api.data.begin_import, ctxt, image_id, method["name"], stores,
        bool(body.get("all_stores", False)), bool(body.get("all_stores_must_succeed", True)),
    )  # fmt: skip
    # Glance imports asynchronously: 202 now, the image turns active (or back to queued) later.
    threading.Thread(target=work, name=f"image-import-{image_id}", daemon=True).start()
    return Response(status_code=202)


@router.get("/image/v2/images/{image_id}/file")
async def download(image_id: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Response:
    image_api = service(request)
    result = await run_in_threadpool(image_api.data.download, ctxt, image_id, request.headers.get("range"))
    if result is None:
        return Response(status_code=204)
    headers = {"Content-Length": str(result.length), "Accept-Ranges": "bytes"}
    if result.partial:
        headers["Content-Range"] = (
            f"bytes {result.start}-{result.start + result.length - 1}/{result.total_size}"
        )
    elif result.record.image.checksum:
        headers["Content-MD5"] = result.record.image.checksum
    return StreamingResponse(
        result.chunks, status_code=206 if result.partial else 200, media_type="application/octet-stream",
        headers=headers,
    )  # fmt: skip
