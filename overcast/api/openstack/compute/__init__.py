"""The Compute API (Nova's v2.1) under /compute: version documents, servers, flavors, key pairs."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware

from overcast.api.auth import public_path, readable_without_token
from overcast.api.openstack.compute import (
    aggregates,
    availability_zones,
    extensions,
    flavor_access,
    flavor_extra_specs,
    flavors,
    hosts,
    hypervisors,
    images,
    instance_actions,
    instance_usage_audit_log,
    interfaces,
    keypairs,
    limits,
    migrations,
    networks_proxy,
    quota_sets,
    remote_consoles,
    scheduler_explain,
    security_groups,
    server_actions,
    server_external_events,
    server_groups,
    server_metadata,
    server_password,
    server_tags,
    server_topology,
    servers,
    services,
    usage,
    versions,
    volume_attachments,
)
from overcast.api.openstack.compute.microversion import MicroversionMiddleware
from overcast.api.openstack.compute.views import Links
from overcast.compute.api import ComputeService
from overcast.compute.api.admin import AdminServices
from overcast.compute.api.consoles import SERIAL_PATH

PREFIX = "/compute/v2.1"
# The version documents, and the serial console's websocket, whose single-use console token is its check.
PUBLIC_PATHS = (
    *readable_without_token("/compute", PREFIX, "/compute/v2"),
    public_path(SERIAL_PATH),
)


def build_router() -> APIRouter:
    router = APIRouter()
    router.include_router(versions.router)
    router.include_router(servers.router, prefix=PREFIX)
    router.include_router(flavors.router, prefix=PREFIX)
    router.include_router(keypairs.router, prefix=PREFIX)
    router.include_router(flavor_extra_specs.router, prefix=PREFIX)
    router.include_router(flavor_access.router, prefix=PREFIX)
    router.include_router(scheduler_explain.router, prefix=PREFIX)
    router.include_router(limits.router, prefix=PREFIX)
    router.include_router(quota_sets.router, prefix=PREFIX)
    router.include_router(availability_zones.router, prefix=PREFIX)
    router.include_router(aggregates.router, prefix=PREFIX)
    router.include_router(hypervisors.router, prefix=PREFIX)
    router.include_router(services.router, prefix=PREFIX)
    router.include_router(usage.router, prefix=PREFIX)
    router.include_router(server_groups.router, prefix=PREFIX)
    router.include_router(server_actions.router, prefix=PREFIX)
    router.include_router(server_metadata.router, prefix=PREFIX)
    router.include_router(instance_actions.router, prefix=PREFIX)
    router.include_router(server_password.router, prefix=PREFIX)
    router.include_router(interfaces.router, prefix=PREFIX)
    router.include_router(server_topology.router, prefix=PREFIX)
    router.include_router(volume_attachments.router, prefix=PREFIX)
    router.include_router(server_tags.router, prefix=PREFIX)
    router.include_router(migrations.router, prefix=PREFIX)
    router.include_router(security_groups.router, prefix=PREFIX)
    router.include_router(images.router, prefix=PREFIX)
    router.include_router(server_external_events.router, prefix=PREFIX)
    router.include_router(networks_proxy.router, prefix=PREFIX)
    router.include_router(extensions.router, prefix=PREFIX)
    router.include_router(hosts.router, prefix=PREFIX)
    router.include_router(instance_usage_audit_log.router, prefix=PREFIX)
    router.include_router(remote_consoles.router)  # its own paths: /compute/v2.1/... and /serial
    return router


def install(app: FastAPI, service: ComputeService, admin: AdminServices) -> None:
    """Mount the Compute API and its version documents, served by `service` (and `admin`'s APIs)."""
    if app.middleware_stack is not None:
        raise RuntimeError("install() must run before the app serves its first request")
    app.state.compute = service
    app.state.compute_admin = admin
    app.state.compute_links = Links(app.state.settings)
    app.include_router(build_router())
    app.user_middleware.append(Middleware(MicroversionMiddleware, prefix=PREFIX))
