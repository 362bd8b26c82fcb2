"""The Networking v2.0 API (Neutron's) under /networking: versions, extensions, networks, subnets, ports,
security groups and their rules, routers, floating IPs, address scopes, subnet pools, quotas, standard
tags, get-me-a-network, availability zones and service providers."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from overcast.api.auth import readable_without_token
from overcast.api.openstack.network import (
    address_scopes,
    auto_topology,
    deployment,
    networks,
    ports,
    quotas,
    routers,
    security_groups,
    subnet_pools,
    subnets,
    tags,
    versions,
)
from overcast.network.api.service import NetworkAPI

PUBLIC_PATHS = readable_without_token(versions.ROOT, versions.ROOT + "/v2.0")


def build_router() -> APIRouter:
    router = APIRouter()
    modules = (
        versions,
        networks,
        subnets,
        address_scopes,
        subnet_pools,
        ports,
        security_groups,
        routers,
        quotas,
        tags,
        auto_topology,
        deployment,
    )
    for module in modules:
        router.include_router(module.router)
    return router


def install(app: FastAPI, service: NetworkAPI) -> None:
    """Mount the Networking API, served by `service`."""
    if app.middleware_stack is not None:
        raise RuntimeError("install() must run before the app serves its first request")
    app.state.network = service
    app.include_router(build_router())
