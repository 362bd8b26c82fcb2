"""Shared pieces of the identity routers: dependencies, links, list envelopes, boolean query values."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from overcast.api.openstack.identity.errors import IdentityRoute
from overcast.errors import BadRequest
from overcast.identity.service import IdentityService


def new_router() -> APIRouter:
    return APIRouter(route_class=IdentityRoute)


def get_identity(request: Request) -> IdentityService:
    identity: IdentityService = request.app.state.identity
    return identity


def v3_url(request: Request, *parts: str) -> str:
    base: str = request.app.state.settings.base_url
    return "/".join([base + "/identity/v3", *parts])


def with_link(request: Request, collection: str, entity: dict[str, Any]) -> dict[str, Any]:
    return {**entity, "links": {"self": v3_url(request, collection, entity["id"])}}


def listing(request: Request, key: str, collection: str, entities: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: [with_link(request, collection, entity) for entity in entities],
        "links": {"self": str(request.url), "previous": None, "next": None},
    }


def query_bool(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("", "1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise BadRequest(f"Expected a boolean query value, got {value!r}.")
