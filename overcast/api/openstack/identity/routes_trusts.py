"""/v3/OS-TRUST/trusts: trusts, their roles; trust-scoped tokens come from POST /v3/auth/tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict, StrictBool

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, new_router, v3_url
from overcast.context import RequestContext
from overcast.errors import Forbidden, NotFound
from overcast.identity.service import IdentityService

router = new_router()
Ctx = Depends(get_context)
Identity = Depends(get_identity)

TRUSTS = "/v3/OS-TRUST/trusts"


class TrustFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    trustor_user_id: str
    trustee_user_id: str
    impersonation: StrictBool
    project_id: str | None = None
    roles: list[dict[str, Any]] | None = None
    expires_at: datetime | None = None
    remaining_uses: int | None = None
    allow_redelegation: StrictBool = False


class TrustBody(BaseModel):
    trust: TrustFields


def _linked(request: Request, trust: dict[str, Any]) -> dict[str, Any]:
    url = v3_url(request, "OS-TRUST", "trusts", trust["id"])
    roles = [{**role, "links": {"self": v3_url(request, "roles", role["id"])}} for role in trust["roles"]]
    return {
        **trust,
        "roles": roles,
        "roles_links": {"self": f"{url}/roles", "previous": None, "next": None},
        "links": {"self": url},
    }


def _enforce_party(context: RequestContext, identity: IdentityService, rule: str, trust_id: str) -> None:
    """Admins, or the trust's parties (the trustor alone may delete it); anyone else finds no trust."""
    policy.enforce(
        context,
        rule,
        identity.trusts.parties(trust_id),
        error=lambda _: NotFound(f"Could not find trust: {trust_id}."),
    )


@router.post(TRUSTS, status_code=201)
def create_trust(
    body: TrustBody, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    policy.enforce(context, "identity:create_trust")
    # No redelegation: a trust-scoped token never makes another trust.
    identity.tokens.refuse_trust_token(context.auth_token, "trusts")
    fields = body.trust.model_dump(exclude_unset=True)
    if body.trust.expires_at is not None and body.trust.expires_at.tzinfo is None:
        fields["expires_at"] = body.trust.expires_at.replace(tzinfo=UTC)
    assert context.user_id is not None
    return {"trust": _linked(request, identity.trusts.create(context.user_id, fields))}


@router.get(TRUSTS)
def list_trusts(
    request: Request,
    trustor_user_id: str | None = None,
    trustee_user_id: str | None = None,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> dict[str, Any]:
    # A user lists the trusts they are a party to, naming themselves; admins list any.
    named_self = context.user_id in (trustor_user_id, trustee_user_id)
    if not named_self and not policy.authorize(context, "identity:list_trusts"):
        raise Forbidden("Policy doesn't allow identity:list_trusts to be performed.")
    trusts = identity.trusts.list_trusts(trustor_user_id, trustee_user_id)
    return {
        "trusts": [_linked(request, trust) for trust in trusts],
        "links": {"self": str(request.url), "previous": None, "next": None},
    }


@router.get(f"{TRUSTS}/{{trust_id}}")
def show_trust(
    trust_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _enforce_party(context, identity, "identity:get_trust", trust_id)
    return {"trust": _linked(request, identity.trusts.get(trust_id))}


@router.delete(f"{TRUSTS}/{{trust_id}}", status_code=204)
def delete_trust(
    trust_id: str, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> Response:
    _enforce_party(context, identity, "identity:delete_trust", trust_id)
    identity.trusts.delete(trust_id)
    return Response(status_code=204)


@router.get(f"{TRUSTS}/{{trust_id}}/roles")
def list_trust_roles(
    trust_id: str, request: Request, context: RequestContext = Ctx, identity: IdentityService = Identity
) -> dict[str, Any]:
    _enforce_party(context, identity, "identity:get_trust", trust_id)
    trust = _linked(request, identity.trusts.get(trust_id))
    return {"roles": trust["roles"], "links": trust["roles_links"]}


@router.head(f"{TRUSTS}/{{trust_id}}/roles/{{role_id}}", status_code=200)
@router.get(f"{TRUSTS}/{{trust_id}}/roles/{{role_id}}")
def show_trust_role(
    trust_id: str,
    role_id: str,
    request: Request,
    context: RequestContext = Ctx,
    identity: IdentityService = Identity,
) -> Any:
    _enforce_party(context, identity, "identity:get_trust", trust_id)
    role = identity.trusts.role(trust_id, role_id)
    if request.method == "HEAD":
        return Response(status_code=200)
    return {"role": {**role, "links": {"self": v3_url(request, "roles", role_id)}}}
