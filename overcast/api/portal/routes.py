"""/portal/v1 routes (accounts, plans, sign-up): thin, each reads its request and calls PortalAPI
(overcast.portal.service). Tickets are tickets.py's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from overcast.api.deps import get_context
from overcast.api.json_body import load_json
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.portal.service import PortalAPI

ROOT = "/portal"
V1 = f"{ROOT}/v1"
SIGNUPS = f"{V1}/signups"
RESETS = f"{V1}/password-resets"
SETTINGS = f"{V1}/settings"
# The calls a visitor makes before having an account (their credential is the mail's link, or none).
PUBLIC_POSTS = (
    SIGNUPS, f"{SIGNUPS}/resend", f"{SIGNUPS}/verify",
    RESETS, f"{RESETS}/confirm", f"{V1}/invitations/accept", f"{V1}/account/email/confirm",
)  # fmt: skip

router = APIRouter()


def service(request: Request) -> PortalAPI:
    api: PortalAPI = request.app.state.portal
    return api


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise BadRequest("This operation needs a JSON request body.")
    return load_json(raw)


def wrapped(body: Any, key: str) -> Mapping[str, Any]:
    """The object under `key` of a request body ({"plan": {...}}), or a 400 saying so."""
    if not isinstance(body, Mapping) or set(body) != {key} or not isinstance(body[key], Mapping):
        raise BadRequest(f"The request body is one object under {key!r}: {{{key!r}: {{...}}}}.")
    return body[key]


def client(request: Request) -> str:
    peer = request.client.host if request.client else ""
    return service(request).client(peer, request.headers.getlist("x-forwarded-for"))


def _version(request: Request) -> dict[str, Any]:
    base = request.app.state.settings.base_url.rstrip("/")
    return {
        "id": "v1",
        "status": "CURRENT",
        "links": [
            {"rel": "self", "href": f"{base}{V1}"},
            {"rel": "describedby", "href": f"{base}{V1}/openapi.json"},
        ],
    }


@router.get(ROOT)
def versions(request: Request) -> dict[str, Any]:
    return {"versions": [_version(request)]}


@router.get(V1)
def version(request: Request) -> dict[str, Any]:
    return {"version": _version(request)}


# -- public ----------------------------------------------------------------------------------------


@router.post(SIGNUPS, status_code=202)
def sign_up(
    request: Request, body: Any = Depends(json_body), api: PortalAPI = Depends(service)
) -> dict[str, Any]:
    return {"signup": api.sign_up(body, client(request))}


@router.post(f"{SIGNUPS}/resend", status_code=202)
def resend(
    request: Request, body: Any = Depends(json_body), api: PortalAPI = Depends(service)
) -> dict[str, Any]:
    return {"signup": api.resend(body, client(request))}


@router.post(f"{SIGNUPS}/verify", status_code=201)
def verify(body: Any = Depends(json_body), api: PortalAPI = Depends(service)) -> dict[str, Any]:
    return {"account": api.verify(body)}


@router.post(RESETS, status_code=202)
def request_password_reset(
    request: Request, body: Any = Depends(json_body), api: PortalAPI = Depends(service)
) -> Response:
    api.request_password_reset(body, client(request))
    return JSONResponse({"password_reset": {"status": "sent if the address has a user"}}, status_code=202)


@router.post(f"{RESETS}/confirm", status_code=204)
def confirm_password_reset(body: Any = Depends(json_body), api: PortalAPI = Depends(service)) -> Response:
    api.confirm_password_reset(body)
    return Response(status_code=204)


@router.post(f"{V1}/invitations/accept", status_code=201)
def accept_invitation(body: Any = Depends(json_body), api: PortalAPI = Depends(service)) -> dict[str, Any]:
    return {"invitation": api.accept_invitation(body)}


@router.get(SETTINGS)
def show_settings(api: PortalAPI = Depends(service)) -> dict[str, Any]:
    return api.get_settings()


# -- the customer's account ------------------------------------------------------------------------


@router.get(f"{V1}/account")
def show_account(
    ctxt: RequestContext = Depends(get_context), api: PortalAPI = Depends(service)
) -> dict[str, Any]:
    return api.my_account(ctxt)


@router.patch(f"{V1}/account/profile")
def update_profile(
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: PortalAPI = Depends(service),
) -> dict[str, Any]:
    return api.update_profile(ctxt, body)


@router.post(f"{V1}/account/email/confirm")
def confirm_email_change(body: Any = Depends(json_body), api: PortalAPI = Depends(service)) -> dict[str, Any]:
    """Public: the credential is the link mailed to the new address (its owner may not be logged in)."""
    return {"user": api.confirm_email_change(body)}


@router.get(f"{V1}/projects/{{project_id}}/members")
def list_members(
    project_id: str, ctxt: RequestContext = Depends(get_context), api: PortalAPI = Depends(service)
) -> dict[str, Any]:
    return {"members": api.members(ctxt, project_id)}


@router.post(f"{V1}/projects/{{project_id}}/invitations", status_code=202)
def invite(
    project_id: str,
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: PortalAPI = Depends(service),
) -> Response:
    api.invite(ctxt, project_id, body)
    return JSONResponse({"invitation": {"status": "sent"}}, status_code=202)


# -- operators -------------------------------------------------------------------------------------


@router.get(f"{V1}/plans")
def list_plans(
    ctxt: RequestContext = Depends(get_context), api: PortalAPI = Depends(service)
) -> dict[str, Any]:
    return {"plans": api.list_plans(ctxt)}


@router.post(f"{V1}/plans", status_code=201)
def create_plan(
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: PortalAPI = Depends(service),
) -> dict[str, Any]:
    return {"plan": api.create_plan(ctxt, wrapped(body, "plan"))}


@router.get(f"{V1}/plans/{{name}}")
def show_plan(
    name: str, ctxt: RequestContext = Depends(get_context), api: PortalAPI = Depends(service)
) -> dict[str, Any]:
    return {"plan": api.get_plan(ctxt, name)}


@router.patch(f"{V1}/plans/{{name}}")
def update_plan(
    name: str,
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: PortalAPI = Depends(service),
) -> dict[str, Any]:
    return {"plan": api.update_plan(ctxt, name, wrapped(body, "plan"))}


@router.delete(f"{V1}/plans/{{name}}", status_code=204)
def delete_plan(
    name: str, ctxt: RequestContext = Depends(get_context), api: PortalAPI = Depends(service)
) -> Response:
    api.delete_plan(ctxt, name)
    return Response(status_code=204)


@router.put(SETTINGS)
def update_settings(
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: PortalAPI = Depends(service),
) -> dict[str, Any]:
    return api.put_settings(ctxt, body)


@router.post(f"{V1}/invitation-codes", status_code=201)
def create_invitation_codes(
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: PortalAPI = Depends(service),
) -> dict[str, Any]:
    return api.create_invitation_codes(ctxt, body)


@router.get(f"{V1}/accounts")
def list_accounts(
    status: str | None = None, ctxt: RequestContext = Depends(get_context), api: PortalAPI = Depends(service)
) -> dict[str, Any]:
    return {"accounts": api.list_accounts(ctxt, status)}


@router.get(f"{V1}/accounts/{{account_id}}")
def show_account_of(
    account_id: str, ctxt: RequestContext = Depends(get_context), api: PortalAPI = Depends(service)
) -> dict[str, Any]:
    return {"account": api.get_account(ctxt, account_id)}


@router.post(f"{V1}/accounts/{{account_id}}/action")
def account_action(
    account_id: str,
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: PortalAPI = Depends(service),
) -> dict[str, Any]:
    return {"account": api.account_action(ctxt, account_id, body)}
