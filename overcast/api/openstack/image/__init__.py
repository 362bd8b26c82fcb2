"""The Image API (Glance's v2) under /image: versions, images, data, members, tasks, metadefs, schemas."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from overcast.api.auth import readable_without_token
from overcast.api.openstack.image import data, images, metadefs, schemas, tasks, versions
from overcast.image.api import ImageAPI

PUBLIC_PATHS = readable_without_token("/image", "/image/versions")


def build_router() -> APIRouter:
    router = APIRouter()
    for module in (versions, schemas, data, tasks, images, metadefs):
        router.include_router(module.router)
    return router


def install(app: FastAPI, service: ImageAPI) -> None:
    """Mount the Image API, served by `service`."""
    if app.middleware_stack is not None:
        raise RuntimeError("install() must run before the app serves its first request")
    app.state.image = service
    app.include_router(build_router())
    # This API is starting: uploads it was receiving when its process died will never finish.
    app.state.image.data.recover_interrupted_uploads()
