"""The dashboard's HTTP side for functional tests: a form-posting client (no browser, no JavaScript)."""

from __future__ import annotations

import re

import httpx

from tests.support.cloud import InProcessCloud


class FormClient:
    """The dashboard as a browser without JavaScript sees it: a cookie-keeping HTTP client that posts forms
    with the CSRF token of the last page it read."""

    def __init__(self, cloud: InProcessCloud) -> None:
        self.http = httpx.Client(base_url=cloud.base_url + "/dashboard", timeout=30)
        self.page = ""

    def get(self, path: str, **params: str) -> httpx.Response:
        response = self.http.get(path, params=params)
        self.page = response.text
        return response

    def csrf(self) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.page)
        assert found, "the page has no form with a CSRF token"
        return found.group(1)

    def post(
        self, path: str, data: dict[str, str | list[str]] | None = None, csrf: bool = True
    ) -> httpx.Response:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf()
        response = self.http.post(path, data=form)
        self.page = response.text
        return response

    def log_in(self, user: str, password: str, domain: str = "Default") -> httpx.Response:
        self.get("/login")
        return self.post("/login", {"domain": domain, "username": user, "password": password, "next": ""})

    def close(self) -> None:
        self.http.close()
