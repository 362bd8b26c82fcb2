"""Log-in, log-out and the project switcher."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from overcast.dashboard.client import APIError
from overcast.dashboard.sessions import Session
from overcast.dashboard.web import LOGIN_CSRF_COOKIE, SESSION_COOKIE, Dashboard, set_cookie

# What the log-in page says for each refusal: Keystone's 401 does not tell a wrong password from an
# unknown user (nor should we), but a locked account and a busy service are worth saying plainly.
_REFUSALS = {
    401: "The domain, user name or password is not correct.",
    429: "The account is locked after too many failed log-ins (or too many came from here). "
    "Try again in {seconds} seconds.",
    503: "The identity service is busy. Try again in {seconds} seconds.",
}
_REASONS = {
    "expired": "Your session has expired. Log in again.",
    "logged_out": "You have logged out.",
}


def _safe_next(dashboard: Dashboard, target: str) -> str:
    """Only a path of the dashboard itself: never another site (an open redirect)."""
    home = dashboard.url("/")
    if target.startswith(dashboard.url("/")) and not target.startswith("//") and "\\" not in target:
        return target
    return home


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter()

    def login_page(
        request: Request,
        status: int = 200,
        error: str = "",
        domain: str = "Default",
        user: str = "",
        next_path: str = "",
    ) -> Response:
        login_csrf = secrets.token_urlsafe(32)
        response = dashboard.render(
            request,
            "login.html",
            status=status,
            error=error,
            domain=domain,
            user=user,
            next_path=next_path or request.query_params.get("next", ""),
            csrf_token=login_csrf,
            notice=_REASONS.get(request.query_params.get("reason", ""), ""),
            signed_in=None,
        )
        set_cookie(request, response, LOGIN_CSRF_COOKIE, login_csrf)
        return response

    @pages.get("/login")
    async def login_form(request: Request) -> Response:
        return login_page(request)

    @pages.post("/login")
    async def login(request: Request) -> Response:
        form = await dashboard.form(request, None)
        domain, user, password = form.get("domain", "Default"), form.get("username"), form.get("password")
        next_path = form.get("next")
        if not user or not password:
            return login_page(request, 400, "Enter your user name and password.", domain, user, next_path)
        try:
            address = request.client.host if request.client else None
            login = await dashboard.identity.password_login(domain or "Default", user, password, address)
            projects = await dashboard.identity.projects(login.token)
        except APIError as refusal:
            message = _REFUSALS.get(refusal.status, refusal.message).format(seconds=refusal.retry_after or 1)
            return login_page(request, refusal.status, message, domain, user, next_path)
        session = Session(
            login,
            projects=tuple(
                sorted(((str(p["id"]), str(p["name"])) for p in projects), key=lambda project: project[1])
            ),
        )
        response = RedirectResponse(_safe_next(dashboard, next_path), status_code=303)
        set_cookie(request, response, SESSION_COOKIE, dashboard.sessions.create(session))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=request.scope.get("root_path") or "/")
        return response

    @pages.post("/logout")
    async def logout(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        dashboard.sessions.drop(signed.session_id)
        await dashboard.identity.revoke(signed.session.login.token)
        response = RedirectResponse(dashboard.url("/login?reason=logged_out"), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path") or "/")
        return response

    @pages.post("/switch")
    async def switch_project(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        project_id = form.get("project_id")
        if project_id not in {project for project, _ in signed.session.projects}:
            raise APIError(404, "You are not a member of that project.")
        # The old token is left to expire: revoking it would revoke the new one, made from it (one chain).
        login = await dashboard.identity.rescope(signed.session.login.token, project_id)
        dashboard.sessions.replace_login(signed.session_id, login)
        return dashboard.redirect(request, "/project/")

    return pages
