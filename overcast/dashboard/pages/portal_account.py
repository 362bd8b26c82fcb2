"""The signed-in customer's account: profile, password change (Keystone's own call) and the project's
members with invitations by e-mail."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError, ServiceUnavailable
from overcast.dashboard.web import Dashboard, SignedIn

INVITABLE_ROLES = ("member", "reader")


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter()

    async def account_page(
        request: Request, signed: SignedIn, status: int = 200, notice: str = "", error: str = ""
    ) -> Response:
        try:
            account: dict[str, Any] | None = await signed.api.get("portal", "/account")
        except ServiceUnavailable:
            account = None  # A cloud without the portal: only the password form.
        except APIError as refusal:
            if refusal.status != 404:
                raise
            account = None  # A user the portal did not make (an operator's): only the password form.
        return dashboard.render(
            request, "portal_account.html", status=status, account=account, notice=notice, error=error
        )

    @pages.get("/account")
    async def account(request: Request) -> Response:
        return await account_page(request, dashboard.signed_in(request))

    @pages.post("/account/profile")
    async def update_profile(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        changes = {key: form.get(key) for key in ("name", "email") if form.get(key)}
        try:
            saved = await signed.api.patch("portal", "/account/profile", changes, "application/json")
        except APIError as refusal:
            return await account_page(request, signed, refusal.status, error=refusal.message)
        notice = "Your profile is saved."
        change = (saved or {}).get("email_change")
        if change:
            notice += (
                f" We sent a link to {change['email']}: your address changes once you open it and confirm."
            )
        return await account_page(request, signed, notice=notice)

    @pages.post("/account/password")
    async def change_password(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        original, password = form.get("original_password"), form.get("password")
        if password != form.get("password_confirm"):
            return await account_page(request, signed, 400, error="The two new passwords differ.")
        login = signed.session.login
        body = {"user": {"original_password": original, "password": password}}
        try:
            # The name to sign in again with, read while the token still works: a confirmed e-mail change
            # may have renamed the login since this session began.
            user = await signed.api.get("identity", f"/users/{login.user_id}")
            await signed.api.post("identity", f"/users/{login.user_id}/password", body)
        except APIError as refusal:
            # Keystone answers a wrong current password with 401: a form error, not the session's end.
            status = 400 if refusal.status == 401 else refusal.status
            return await account_page(request, signed, status, error=refusal.message)
        # The change revoked the user's tokens: the session carries on under a new one, same project.
        address = request.client.host if request.client else None
        user_name = str(user["user"]["name"])
        fresh = await dashboard.identity.password_login(login.domain_name, user_name, password, address)
        if login.project_id and fresh.project_id != login.project_id:
            fresh = await dashboard.identity.rescope(fresh.token, login.project_id)
        dashboard.sessions.replace_login(signed.session_id, fresh)
        signed = dashboard.signed_in(request)
        return await account_page(request, signed, notice="Your password is changed.")

    async def members_page(
        request: Request,
        signed: SignedIn,
        status: int = 200,
        notice: str = "",
        error: str = "",
        email: str = "",
    ) -> Response:
        project_id = signed.session.login.project_id
        body = await signed.api.get("portal", f"/projects/{project_id}/members")
        return dashboard.render(
            request, "portal_members.html", status=status, members=body["members"],
            roles=INVITABLE_ROLES, notice=notice, error=error, email=email,
        )  # fmt: skip

    @pages.get("/account/members")
    async def members(request: Request) -> Response:
        return await members_page(request, dashboard.signed_in(request))

    @pages.post("/account/members/invite")
    async def invite(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        email, role = form.get("email"), form.get("role", "member")
        project_id = signed.session.login.project_id
        try:
            await signed.api.post(
                "portal", f"/projects/{project_id}/invitations", {"email": email, "role": role}
            )
        except APIError as refusal:
            return await members_page(request, signed, refusal.status, error=refusal.message, email=email)
        notice = f"We sent {email} an invitation to join as {role}."
        return await members_page(request, signed, notice=notice)

    return pages
