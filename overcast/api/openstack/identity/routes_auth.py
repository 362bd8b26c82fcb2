"""Version documents and /v3/auth/*: issue, validate, revoke tokens; the token's catalog and projects."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from overcast import policy
from overcast.api.deps import get_context
from overcast.api.openstack.identity.common import get_identity, listing, new_router, v3_url
from overcast.api.versions import STABLE, link, media_type, version_doc
from overcast.context import RequestContext
from overcast.errors import NotFound
from overcast.identity.auth_schema import AuthRequest
from overcast.identity.service import IdentityService

router = new_router()

IDENTITY_VERSION = "v3.14"
MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"


def _v3_document(request: Request) -> dict[str, Any]:
    return version_doc(
        IDENTITY_VERSION,
        STABLE,
        links=[link(v3_url(request) + "/")],
        media_types=[media_type(MEDIA_TYPE)],
        updated="2020-04-07T00:00:00Z",
    )


@router.get("")
@router.get("/")
def list_versions(request: Request) -> JSONResponse:
    # Keystone answers its root with 300 Multiple Choices; keystoneauth reads the body either way.
    return JSONResponse({"versions": {"values": [_v3_document(request)]}}, status_code=300)


@router.get("/v3")
@router.get("/v3/")
def show_v3(request: Request) -> dict[str, Any]:
    return {"version": _v3_document(request)}


def _nocatalog(request: Request) -> bool:
    return "nocatalog" in request.query_params


@router.post("/v3/auth/tokens", status_code=201)
async def issue_token(body: AuthRequest, request: Request) -> JSONResponse:
    # On the event loop: admission never blocks, and a login refused there (429, 503) costs no worker
    # thread, so a flood of them cannot starve the threads every other request needs.
    identity = get_identity(request)
    client_address = request.client.host if request.client else None
    with identity.tokens.admit(body.auth, client_address) as login:
        token, rendered = await run_in_threadpool(login.issue, not _nocatalog(request))
    return JSONResponse(rendered, status_code=201, headers={"X-Subject-Token": token})


def _subject(request: Request, context: RequestContext, identity: IdentityService, rule: str) -> str:
    subject = request.headers.get("x-subject-token")
    if not subject:
        raise NotFound("Could not find token: no X-Subject-Token header.")
    policy.enforce(context, rule, {"user_id": identity.tokens.subject_owner(subject)})
    return subject


@router.get("/v3/auth/tokens")
def validate_token(
    request: Request,
    context: RequestContext = Depends(get_context),
    identity: IdentityService = Depends(get_identity),
) -> JSONResponse:
    subject = _subject(request, context, identity, "identity:validate_token")
    rendered = identity.tokens.validate_subject(subject, include_catalog=not _nocatalog(request))
    return JSONResponse(rendered, headers={"X-Subject-Token": subject})


@router.head("/v3/auth/tokens")
def check_token(
    request: Request,
    context: RequestContext = Depends(get_context),
    identity: IdentityService = Depends(get_identity),
) -> Response:
    subject = _subject(request, context, identity, "identity:validate_token")
    identity.tokens.validate_subject(subject, include_catalog=False)
    return Response(status_code=200, headers={"X-Subject-Token": subject})


@router.delete("/v3/auth/tokens", status_code=204)
def revoke_token(
    request: Request,
    context: RequestContext = Depends(get_context),
    identity: IdentityService = Depends(get_identity),
) -> Response:
    identity.tokens.revoke(_subject(request, context, identity, "identity:revoke_token"))
    return Response(status_code=204)


@router.get("/v3/auth/catalog")
def token_catalog(
    request: Request,
    context: RequestContext = Depends(get_context),
    identity: IdentityService = Depends(get_identity),
) -> dict[str, Any]:
    policy.enforce(context, "identity:list_catalog")
    catalog = identity.api.catalog(context.project_id)
    return {"catalog": catalog, "links": {"self": str(request.url), "previous": None, "next": None}}


@router.get("/v3/auth/projects")
def token_projects(
    request: Request,
    context: RequestContext = Depends(get_context),
    identity: IdentityService = Depends(get_identity),
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_auth_projects")
    assert context.user_id is not None
    return listing(request, "projects", "projects", identity.api.list_token_projects(context.user_id))


@router.get("/v3/auth/domains")
def token_domains(
    request: Request,
    context: RequestContext = Depends(get_context),
    identity: IdentityService = Depends(get_identity),
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_auth_domains")
    assert context.user_id is not None
    return listing(request, "domains", "domains", identity.api.list_token_domains(context.user_id))


@router.get("/v3/auth/system")
def token_system(
    request: Request,
    context: RequestContext = Depends(get_context),
    identity: IdentityService = Depends(get_identity),
) -> dict[str, Any]:
    policy.enforce(context, "identity:get_auth_system")
    assert context.user_id is not None
    system = [{"all": True}] if identity.api.has_system_roles(context.user_id) else []
    return {"system": system, "links": {"self": str(request.url), "previous": None, "next": None}}
