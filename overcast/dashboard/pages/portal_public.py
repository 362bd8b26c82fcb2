"""The portal's pages for visitors without a session: sign-up, e-mail verification, password reset,
accepting an invitation and confirming a changed e-mail address. Each calls the portal's public endpoints
(no token) and shows their refusals as the API wrote them; their forms carry the log-in page's
cookie-bound CSRF token."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError, LoginTransport, checked
from overcast.dashboard.web import LOGIN_CSRF_COOKIE, Dashboard, Form, set_cookie

# What a visitor is told after asking for an e-mail: the same whether or not the address is known.
SENT = {
    "signup": "We sent a link to {email}. Open it within a day to activate your account.",
    "resend": "If a sign-up for {email} is waiting, we sent it a new link.",
    "reset": "If {email} belongs to an account, we sent it a link to choose a new password.",
}


def portal_url(auth_url: str) -> str:
    """The portal API beside the cloud's Identity API (both under the cloud's base URL)."""
    base = auth_url.rstrip("/").removesuffix("/v3").removesuffix("/identity")
    return base + "/portal/v1"


class PublicPortal:
    """The portal's calls a visitor makes: no token, and (in the API process) from the browser's address,
    so the portal's per-address limits count each visitor on their own."""

    def __init__(self, http: httpx.AsyncClient, url: str, transport: LoginTransport | None) -> None:
        self.http = http
        self.url = url.rstrip("/")
        self.transport = transport

    async def get(self, path: str) -> Any:
        return checked(await self.http.get(self.url + path, headers={"Accept": "application/json"})).json()

    async def post(self, path: str, body: dict[str, Any], client_address: str | None) -> Any:
        headers = {"Accept": "application/json"}
        if self.transport is not None and client_address:
            async with httpx.AsyncClient(transport=self.transport(client_address)) as http:
                response = await http.post(self.url + path, json=body, headers=headers)
        else:
            response = await self.http.post(self.url + path, json=body, headers=headers)
        return checked(response).json() if response.content else None


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _refusal_text(refusal: APIError) -> str:
    if refusal.status == 429 and refusal.retry_after:
        return f"{refusal.message} Try again in {refusal.retry_after} seconds."
    return refusal.message


def _passwords(form: Form) -> tuple[str, str]:
    """The new password, or an error when its confirmation differs."""
    password = form.get("password")
    if password != form.get("password_confirm"):
        return password, "The two passwords differ."
    return password, ""


def router(dashboard: Dashboard, portal: PublicPortal) -> APIRouter:
    pages = APIRouter()

    def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        """A public page; its forms get a fresh CSRF token, bound to the browser by a cookie."""
        csrf_token = secrets.token_urlsafe(32)
        response = dashboard.render(
            request, template, status=status, csrf_token=csrf_token, signed_in=None, **context
        )
        set_cookie(request, response, LOGIN_CSRF_COOKIE, csrf_token)
        return response

    async def signup_state() -> dict[str, bool]:
        try:
            settings = await portal.get("/settings")
        except APIError:
            # Unknown (the portal would not say): the form is offered, and its answer tells.
            return {"enabled": True, "invitation_only": False}
        signup = settings.get("signup", {})
        return {
            "enabled": bool(signup.get("enabled", True)),
            "invitation_only": bool(signup.get("invitation_only", False)),
        }

    def signup_page(request: Request, state: dict[str, bool], status: int = 200, **fields: str) -> Response:
        values = {"name": "", "email": "", "invitation_code": "", "plan": "", "error": ""}
        values.update(fields)
        return page(request, "portal_signup.html", status=status, state=state, **values)

    @pages.get("/signup")
    async def signup_form(request: Request) -> Response:
        state = await signup_state()
        params = request.query_params
        return signup_page(
            request, state, invitation_code=params.get("code", ""), plan=params.get("plan", "")
        )

    @pages.post("/signup")
    async def signup(request: Request) -> Response:
        form = await dashboard.form(request, None)
        fields = {key: form.get(key) for key in ("name", "email", "invitation_code", "plan")}
        password, mismatch = _passwords(form)
        state = await signup_state()
        if mismatch:
            return signup_page(request, state, 400, error=mismatch, **fields)
        body: dict[str, Any] = {"name": fields["name"], "email": fields["email"], "password": password}
        for optional in ("invitation_code", "plan"):
            if fields[optional]:
                body[optional] = fields[optional]
        try:
            await portal.post("/signups", body, _address(request))
        except APIError as refusal:
            return signup_page(request, state, refusal.status, error=_refusal_text(refusal), **fields)
        return page(request, "portal_sent.html", email=fields["email"], message=SENT["signup"], resend=True)

    @pages.post("/signup/resend")
    async def resend(request: Request) -> Response:
        form = await dashboard.form(request, None)
        email = form.get("email")
        try:
            await portal.post("/signups/resend", {"email": email}, _address(request))
        except APIError as refusal:
            return page(
                request, "portal_sent.html", status=refusal.status, email=email,
                message="", error=_refusal_text(refusal), resend=True,
            )  # fmt: skip
        return page(request, "portal_sent.html", email=email, message=SENT["resend"], resend=True)

    @pages.get("/signup/verify")
    async def verify_form(request: Request) -> Response:
        # A button, not the link itself, verifies: mail scanners that fetch every link in a message
        # would otherwise use up the single-use token before its owner clicks.
        return page(request, "portal_verify.html", token=request.query_params.get("token", ""), error="")

    @pages.post("/signup/verify")
    async def verify(request: Request) -> Response:
        form = await dashboard.form(request, None)
        token = form.get("token")
        try:
            made = await portal.post("/signups/verify", {"token": token}, _address(request))
        except APIError as refusal:
            return page(
                request, "portal_verify.html", status=refusal.status, token="", error=_refusal_text(refusal)
            )
        return page(request, "portal_verified.html", account=made["account"])

    @pages.get("/account/email/confirm")
    async def email_confirm_form(request: Request) -> Response:
        # Public, like the sign-up link: it is opened from the new address's mailbox, perhaps in another
        # browser; and a button again, so a mail scanner fetching the link does not use it up.
        token = request.query_params.get("token", "")
        return page(request, "portal_email_confirm.html", token=token, error="")

    @pages.post("/account/email/confirm")
    async def email_confirm(request: Request) -> Response:
        form = await dashboard.form(request, None)
        try:
            confirmed = await portal.post(
                "/account/email/confirm", {"token": form.get("token")}, _address(request)
            )
        except APIError as refusal:
            return page(
                request,
                "portal_email_confirm.html",
                status=refusal.status,
                token="",
                error=_refusal_text(refusal),
            )
        return page(request, "portal_email_confirmed.html", user=confirmed["user"])

    @pages.get("/password/forgot")
    async def forgot_form(request: Request) -> Response:
        return page(request, "portal_password_forgot.html", email="", error="")

    @pages.post("/password/forgot")
    async def forgot(request: Request) -> Response:
        form = await dashboard.form(request, None)
        email = form.get("email")
        try:
            await portal.post("/password-resets", {"email": email}, _address(request))
        except APIError as refusal:
            return page(
                request, "portal_password_forgot.html", status=refusal.status,
                email=email, error=_refusal_text(refusal),
            )  # fmt: skip
        return page(request, "portal_sent.html", email=email, message=SENT["reset"], resend=False)

    @pages.get("/password/reset")
    async def reset_form(request: Request) -> Response:
        token = request.query_params.get("token", "")
        return page(request, "portal_password_reset.html", token=token, error="")

    @pages.post("/password/reset")
    async def reset(request: Request) -> Response:
        form = await dashboard.form(request, None)
        token = form.get("token")
        password, mismatch = _passwords(form)
        if mismatch:
            return page(request, "portal_password_reset.html", status=400, token=token, error=mismatch)
        try:
            await portal.post(
                "/password-resets/confirm", {"token": token, "password": password}, _address(request)
            )
        except APIError as refusal:
            return page(
                request, "portal_password_reset.html", status=refusal.status,
                token=token, error=_refusal_text(refusal),
            )  # fmt: skip
        return page(
            request, "portal_done.html", title="Password changed", message="Your password is changed."
        )

    @pages.get("/invitation")
    async def invitation_form(request: Request) -> Response:
        token = request.query_params.get("token", "")
        return page(request, "portal_invitation.html", token=token, name="", error="")

    @pages.post("/invitation")
    async def accept(request: Request) -> Response:
        form = await dashboard.form(request, None)
        token, name = form.get("token"), form.get("name")
        password, mismatch = _passwords(form)
        if mismatch:
            return page(request, "portal_invitation.html", status=400, token=token, name=name, error=mismatch)
        body: dict[str, Any] = {"token": token}
        if name:
            body["name"] = name
        if password:
            body["password"] = password
        try:
            accepted = await portal.post("/invitations/accept", body, _address(request))
        except APIError as refusal:
            return page(
                request, "portal_invitation.html", status=refusal.status,
                token=token, name=name, error=_refusal_text(refusal),
            )  # fmt: skip
        invitation = accepted["invitation"]
        message = (
            f"You are now a {invitation['role']} of the project. "
            f"Log in as {invitation['user_name']} to use it."
        )
        return page(request, "portal_done.html", title="Invitation accepted", message=message)

    return pages
