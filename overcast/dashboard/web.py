"""What every dashboard page shares: the templates, the session of the request, forms and CSRF checks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from overcast.dashboard.client import Identity, LoginTransport, ProjectAPI
from overcast.dashboard.sessions import Session, SessionStore

PACKAGE_DIR = Path(__file__).parent
SESSION_COOKIE = "overcast_dashboard"
LOGIN_CSRF_COOKIE = "overcast_dashboard_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class LoginRequired(Exception):
    """The request has no live session: the page sends the browser to the log-in form."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class CSRFRefused(Exception):
    """A form came without the session's CSRF token (or with another one)."""


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    session: Session
    api: ProjectAPI


@dataclass(frozen=True)
class Form:
    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def all(self, name: str) -> list[str]:
        return [value for value in self.fields.get(name, []) if value]


class Dashboard:
    """The dashboard's state, one per app: templates, sessions and the HTTP client of the APIs."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth_url: str,
        sessions: SessionStore,
        prefix: str,
        login_transport: LoginTransport | None = None,
    ) -> None:
        self.http = http
        self.identity = Identity(http, auth_url, login_transport)
        self.sessions = sessions
        self.prefix = prefix
        self.templates = Environment(
            loader=FileSystemLoader(PACKAGE_DIR / "templates"),
            autoescape=select_autoescape(("html",)),
            trim_blocks=True,
            lstrip_blocks=True,
            # The templates ship with the package: no stat of every template file on every page.
            auto_reload=False,
        )

    def url(self, path: str) -> str:
        return self.prefix + path

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("signed_in", getattr(request.state, "signed_in", None))
        html = self.templates.get_template(template).render(
            url=self.url, request=request, htmx=is_htmx(request), **context
        )
        return HTMLResponse(html, status_code=status)

    def redirect(self, request: Request, path: str) -> Response:
        """A redirect after a form: htmx follows HX-Redirect, a plain form the 303."""
        target = self.url(path)
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    def login_redirect(self, request: Request, reason: str = "") -> Response:
        query = f"?next={quote(request.url.path)}" if request.method == "GET" else ""
        if reason:
            query += ("&" if query else "?") + f"reason={quote(reason)}"
        target = self.url("/login" + query)
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    def signed_in(self, request: Request) -> SignedIn:
        session_id = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.get(session_id)
        if session_id is None or session is None:
            raise LoginRequired("expired" if session_id else "")
        signed = SignedIn(session_id, session, ProjectAPI(self.http, session.login))
        request.state.signed_in = signed
        return signed

    def check_csrf_header(self, request: Request, signed: SignedIn) -> None:
        """For a request whose body is data, not a form (an image upload): the token comes as a header."""
        if not signed.session.csrf_matches(request.headers.get(CSRF_HEADER)):
            raise CSRFRefused()

    async def form(self, request: Request, signed: SignedIn | None) -> Form:
        """The posted form, once its CSRF token matched the session's (or the log-in cookie's)."""
        body = (await request.body()).decode("utf-8", errors="replace")
        form = Form(parse_qs(body, keep_blank_values=True))
        offered = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD) or None
        if signed is not None:
            if not signed.session.csrf_matches(offered):
                raise CSRFRefused()
        else:
            expected = request.cookies.get(LOGIN_CSRF_COOKIE)
            if not expected or not offered or not secrets.compare_digest(expected, offered):
                raise CSRFRefused()
        return form


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None = None
) -> None:
    """HttpOnly and SameSite always, Secure when the browser came over HTTPS (directly or through a proxy
    uvicorn trusts), and only for the dashboard's own paths."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=request.scope.get("root_path") or "/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
