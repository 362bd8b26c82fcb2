"""Application credentials and their access rules, EC2 credentials, and the stored catalog
(/v3/services, /v3/endpoints)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import Depends, Request, Response

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, new_router, with_link
from overcast.api.openstack.identity.schemas import ApplicationCredentialBody, Ec2CredentialBody
from overcast.context import RequestContext
from overcast.errors import Unauthorized
from overcast.identity.service import IdentityService
from overcast.identity.tokens import TokenPayload

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)

APP_CREDENTIALS = "/v3/users/{user_id}/application_credentials"
ACCESS_RULES = "/v3/users/{user_id}/access_rules"
EC2 = "/v3/users/{user_id}/credentials/OS-EC2"


def _caller(context: RequestContext, identity: IdentityService) -> TokenPayload:
    """The request's own token: what it may delegate depends on its roles and application credential."""
    if context.auth_token is None:
        raise Unauthorized()
    return identity.tokens.verify(context.auth_token)


def _app_link(request: Request, user_id: str, entity: dict[str, Any]) -> dict[str, Any]:
    return with_link(request, f"users/{user_id}/application_credentials", entity)


@router.post(APP_CREDENTIALS, status_code=201)
def create_application_credential(
    user_id: str,
    body: ApplicationCredentialBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:application_credentials", {"user_id": user_id})
    identity.tokens.refuse_trust_token(context.auth_token, "application credentials")
    fields = body.application_credential.model_dump()
    if fields["expires_at"] is not None and fields["expires_at"].tzinfo is None:
        fields["expires_at"] = fields["expires_at"].replace(tzinfo=UTC)
    fields["roles"] = [role for role in fields["roles"] or []]
    caller = _caller(context, identity)
    created = identity.credentials.create_application_credential(caller, user_id, fields)
    return {"application_credential": _app_link(request, user_id, created)}


@router.get(APP_CREDENTIALS)
def list_application_credentials(
    user_id: str,
    request: Request,
    name: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:application_credentials", {"user_id": user_id})
    credentials = identity.credentials.list_application_credentials(user_id, name)
    return {
        "application_credentials": [_app_link(request, user_id, c) for c in credentials],
        "links": {"self": str(request.url), "previous": None, "next": None},
    }


@router.get(APP_CREDENTIALS + "/{credential_id}")
def show_application_credential(
    user_id: str,
    credential_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:application_credentials", {"user_id": user_id})
    credential = identity.credentials.get_application_credential(user_id, credential_id)
    return {"application_credential": _app_link(request, user_id, credential)}


@router.delete(APP_CREDENTIALS + "/{credential_id}", status_code=204)
def delete_application_credential(
    user_id: str, credential_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:application_credentials", {"user_id": user_id})
    identity.credentials.delete_application_credential(_caller(context, identity), user_id, credential_id)
    return Response(status_code=204)


def _rule_link(request: Request, user_id: str, entity: dict[str, Any]) -> dict[str, Any]:
    return with_link(request, f"users/{user_id}/access_rules", entity)


@router.get(ACCESS_RULES)
def list_access_rules(
    user_id: str,
    request: Request,
    service: str | None = None,
    method: str | None = None,
    path: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:application_credentials", {"user_id": user_id})
    rules = identity.credentials.list_access_rules(user_id, service, method, path)
    return {
        "access_rules": [_rule_link(request, user_id, rule) for rule in rules],
        "links": {"self": str(request.url), "previous": None, "next": None},
    }


@router.get(ACCESS_RULES + "/{rule_id}")
def show_access_rule(
    user_id: str,
    rule_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:application_credentials", {"user_id": user_id})
    rule = identity.credentials.get_access_rule(user_id, rule_id)
    return {"access_rule": _rule_link(request, user_id, rule)}


@router.delete(ACCESS_RULES + "/{rule_id}", status_code=204)
def delete_access_rule(
    user_id: str, rule_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:application_credentials", {"user_id": user_id})
    identity.credentials.delete_access_rule(user_id, rule_id)
    return Response(status_code=204)


def _ec2_link(request: Request, entity: dict[str, Any]) -> dict[str, Any]:
    path = f"users/{entity['user_id']}/credentials/OS-EC2/{entity['access']}"
    return {**entity, "links": {"self": request.app.state.settings.base_url + "/identity/v3/" + path}}


@router.post(EC2, status_code=201)
def create_ec2_credential(
    user_id: str,
    body: Ec2CredentialBody,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:ec2_credentials", {"user_id": user_id})
    created = identity.credentials.create_ec2_credential(_caller(context, identity), user_id, body.tenant_id)
    return {"credential": _ec2_link(request, created)}


@router.get(EC2)
def list_ec2_credentials(
    user_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:ec2_credentials", {"user_id": user_id})
    credentials = identity.credentials.list_ec2_credentials(user_id)
    return {
        "credentials": [_ec2_link(request, c) for c in credentials],
        "links": {"self": str(request.url), "previous": None, "next": None},
    }


@router.get(EC2 + "/{access}")
def show_ec2_credential(
    user_id: str,
    access: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    policy.enforce(context, "identity:ec2_credentials", {"user_id": user_id})
    return {"credential": _ec2_link(request, identity.credentials.get_ec2_credential(user_id, access))}


@router.delete(EC2 + "/{access}", status_code=204)
def delete_ec2_credential(
    user_id: str, access: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    policy.enforce(context, "identity:ec2_credentials", {"user_id": user_id})
    identity.credentials.delete_ec2_credential(user_id, access)
    return Response(status_code=204)
