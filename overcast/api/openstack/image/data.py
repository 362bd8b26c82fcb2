"""Image data over HTTP: PUT/GET /file, PUT /stage, POST /import.

Uploads go to a worker thread that hashes and stores them while the event loop still receives
(`api/streaming.py`), so an image never sits whole in memory.
"""

from __future__ import annotations

import logging
import threading

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from overcast import errors
from overcast.api.deps import get_context
from overcast.api.openstack.image.errors import GlanceRoute
from overcast.api.openstack.image.images import json_body, service
from overcast.api.streaming import consume_in_thread
from overcast.context import RequestContext

LOG = logging.getLogger(__name__)
router = APIRouter(route_class=GlanceRoute)


def declared_size(request: Request) -> int | None:
    for header in ("x-openstack-image-size", "content-length"):
        value = request.headers.get(header)
        if value is not None and value.isdigit():
            return int(value)
    return None


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
