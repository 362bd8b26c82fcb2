"""The Block Storage v3 API (Cinder's) under /volume: versions, volumes and their actions, attachments,
types, per-project default types, generic volume groups with their types and snapshots, QoS specs,
quotas, limits, services, availability zones, extensions and resource filters. Every route is served
both below /volume/v3/{project_id} and below /volume/v3 (Cinder accepts both forms at every
microversion)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from starlette.middleware import Middleware

from overcast.api.auth import readable_without_token
from overcast.api.openstack.compute.microversion import MicroversionMiddleware
from overcast.api.openstack.volume import (
    actions,
    attachments,
    backups,
    default_types,
    discovery,
    group_snapshots,
    group_types,
    groups,
    qos,
    quotas,
    services,
    snapshots,
    transfers,
    types,
    versions,
    volumes,
)
from overcast.api.openstack.volume.common import PROJECT_PREFIX, ROOT, V3, project_in_path
from overcast.api.openstack.volume.microversion import VOLUME
from overcast.volume.api.service import VolumeAPI

PUBLIC_PATHS = readable_without_token(ROOT, V3)
# Each module's routes, written relative to the version root (snapshots, backups and transfers join
# this list with their modules).
ROUTE_MODULES: list[APIRouter] = [
    volumes.routes, actions.routes, attachments.routes, types.routes, qos.routes, quotas.routes,
    services.routes, snapshots.routes, backups.routes, transfers.routes, discovery.routes,
    default_types.routes, group_types.routes, groups.routes, group_snapshots.routes,
]  # fmt: skip


def build_router() -> APIRouter:
    router = APIRouter()
    router.include_router(versions.router)
    for routes in ROUTE_MODULES:
        router.include_router(routes, prefix=PROJECT_PREFIX, dependencies=[Depends(project_in_path)])
    for routes in ROUTE_MODULES:
        router.include_router(routes, prefix=V3, include_in_schema=False)
    return router


def install(app: FastAPI, service: VolumeAPI) -> None:
    """Mount the Block Storage API, served by `service`."""
    if app.middleware_stack is not None:
        raise RuntimeError("install() must run before the app serves its first request")
    app.state.volume = service
    app.include_router(build_router())
    app.user_middleware.append(Middleware(MicroversionMiddleware, prefix=V3, api=VOLUME))
