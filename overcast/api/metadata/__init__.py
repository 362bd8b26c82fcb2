"""The metadata API (Nova's metadata service) under /metadata, for the metadata proxies.

A guest asks http://169.254.169.254/<path>; the proxy in its router or DHCP namespace forwards that as
/metadata/<path> with the instance id it signed. These routes take no Keystone token: the signature is
their trust check (`overcast.metadata.api.MetadataAPI.instance_for`), so they are public paths.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from overcast.api.auth import public_path
from overcast.api.metadata import routes
from overcast.metadata.api import MetadataAPI

PUBLIC_PATHS = (public_path(routes.PREFIX, prefix=True, methods=routes.METHODS),)


def build_router() -> APIRouter:
    return routes.router


def install(app: FastAPI, service: MetadataAPI) -> None:
    """Mount the metadata API, served by `service`."""
    if app.middleware_stack is not None:
        raise RuntimeError("install() must run before the app serves its first request")
    app.state.metadata = service
    app.include_router(build_router())
