"""/v3/domains/{domain_id}/config: domain-specific configuration, whole, by group or by option, and
the defaults at /v3/domains/config/default."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, new_router
from overcast.context import RequestContext
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)

CONFIG = "/v3/domains/{domain_id}/config"
GROUP = f"{CONFIG}/{{group}}"
OPTION = f"{GROUP}/{{option}}"


class ConfigBody(BaseModel):
    config: dict[str, Any]


def _read(context: RequestContext) -> None:
    policy.enforce(context, "identity:get_domain_config")


def _write(context: RequestContext) -> None:
    policy.enforce(context, "identity:manage_domain_config")


# The defaults first: /v3/domains/config/default would otherwise read as the config of domain "config".
@router.get("/v3/domains/config/default")
def show_default_config(
    context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return {"config": identity.domain_configs.defaults()}


@router.get("/v3/domains/config/{group}/default")
def show_default_group(
    group: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return {"config": identity.domain_configs.defaults(group)}


@router.get("/v3/domains/config/{group}/{option}/default")
def show_default_option(
    group: str, option: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return {"config": identity.domain_configs.defaults(group, option)}


@router.put(CONFIG, status_code=201)
def create_domain_config(
    domain_id: str, body: ConfigBody, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> JSONResponse:
    _write(context)
    config, created = identity.domain_configs.put(domain_id, body.config)
    return JSONResponse({"config": config}, status_code=201 if created else 200)


@router.get(CONFIG)
def show_domain_config(
    domain_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return {"config": identity.domain_configs.get(domain_id)}


@router.patch(CONFIG)
def update_domain_config(
    domain_id: str, body: ConfigBody, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _write(context)
    return {"config": identity.domain_configs.update(domain_id, body.config)}


@router.delete(CONFIG, status_code=204)
def delete_domain_config(
    domain_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context)
    identity.domain_configs.delete(domain_id)
    return Response(status_code=204)


@router.get(GROUP)
def show_domain_config_group(
    domain_id: str, group: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _read(context)
    return {"config": identity.domain_configs.get(domain_id, group)}


@router.patch(GROUP)
def update_domain_config_group(
    domain_id: str,
    group: str,
    body: ConfigBody,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _write(context)
    return {"config": identity.domain_configs.update(domain_id, body.config, group)}


@router.delete(GROUP, status_code=204)
def delete_domain_config_group(
    domain_id: str, group: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _write(context)
    identity.domain_configs.delete(domain_id, group)
    return Response(status_code=204)


@router.get(OPTION)
def show_domain_config_option(
    domain_id: str,
    group: str,
    option: str,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _read(context)
    return {"config": identity.domain_configs.get(domain_id, group, option)}


@router.patch(OPTION)
def update_domain_config_option(
    domain_id: str,
    group: str,
    option: str,
    body: ConfigBody,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    _write(context)
    return {"config": identity.domain_configs.update(domain_id, body.config, group, option)}


@router.delete(OPTION, status_code=204)
def delete_domain_config_option(
    domain_id: str,
    group: str,
    option: str,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Response:
    _write(context)
    identity.domain_configs.delete(domain_id, group, option)
    return Response(status_code=204)
