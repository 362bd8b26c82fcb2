"""The dashboard's only way into the cloud: the public HTTP APIs, called with the user's own token.

Everything the dashboard shows or changes goes through the same endpoints, policies and quotas as the CLI:
the service URLs come from the token's catalog, never from the database or the settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

# The compute microversion the pages are written against: embedded flavors (2.47), instance-action
# events and their details (2.51, 2.84), server tags and hostnames (2.26, 2.90).
COMPUTE_VERSION = "compute 2.96"
# The block storage microversion: extending an attached volume (3.42), attachments' own records (3.27).
VOLUME_VERSION = "volume 3.60"
# Catalog types in the order the dashboard looks for each service.
SERVICE_TYPES: Mapping[str, tuple[str, ...]] = {
    "identity": ("identity",),
    "compute": ("compute",),
    "image": ("image",),
    "network": ("network",),
    "volume": ("block-storage", "volumev3"),
    "ec2": ("ec2",),
    "billing": ("billing",),
    "portal": ("portal",),
}
# Path each service's versioned API has below its catalog URL (clients append it, as openstacksdk does).
_VERSION_SUFFIX = {"identity": "/v3", "image": "/v2", "network": "/v2.0"}


class APIError(Exception):
    """An API's refusal, carrying the message the API itself wrote."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class ServiceUnavailable(APIError):
    """The token's catalog has no endpoint of a service the page needs."""


def error_message(response: httpx.Response) -> str:
    """The message of any OpenStack error body: Nova's and Cinder's {"itemNotFound": {"message"}},
    Keystone's {"error": {...}}, Neutron's {"NeutronError": {...}}, Glance's flat {"message", "title"}."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return text[:500] or response.reason_phrase
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return str(body["message"])
        for value in body.values():
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])
        if isinstance(body.get("title"), str):
            return str(body["title"])
    return response.reason_phrase


def _checked(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        retry_after = response.headers.get("Retry-After", "")
        raise APIError(
            response.status_code, error_message(response), int(retry_after) if retry_after.isdigit() else None
        )
    return response


# For pages calling an API outside ProjectAPI (the portal's public calls, made without a token).
checked = _checked


@dataclass(frozen=True)
class Login:
    """What a project-scoped (or, for a user without projects, unscoped) token says about its holder."""

    token: str
    expires_at: datetime
    user_id: str
    user_name: str
    domain_name: str
    project_id: str | None
    project_name: str | None
    roles: tuple[str, ...]
    catalog: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def _login_from(response: httpx.Response) -> Login:
    token = response.json()["token"]
    project = token.get("project") or {}
    return Login(
        token=response.headers["X-Subject-Token"],
        expires_at=datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00")),
        user_id=token["user"]["id"],
        user_name=token["user"]["name"],
        domain_name=token["user"].get("domain", {}).get("name", ""),
        project_id=project.get("id"),
        project_name=project.get("name"),
        roles=tuple(role["name"] for role in token.get("roles", [])),
        catalog=tuple(token.get("catalog", [])),
    )


# The transport a log-in goes through, given the browser's address (None: the dashboard's own client).
LoginTransport = Callable[[str], httpx.AsyncBaseTransport]


class Identity:
    """Keystone's token calls, made on the user's behalf."""

    def __init__(
        self, http: httpx.AsyncClient, auth_url: str, login_transport: LoginTransport | None = None
    ) -> None:
        self.http = http
        # In the API process a log-in reaches Keystone as coming from the browser's address, so its
        # per-address rate limit holds each browser to its own bucket rather than all to the dashboard's.
        self.login_transport = login_transport
        self.tokens_url = auth_url.rstrip("/") + "/v3/auth/tokens"
        self.projects_url = auth_url.rstrip("/") + "/v3/auth/projects"

    async def password_login(
        self, domain: str, user: str, password: str, client_address: str | None = None
    ) -> Login:
        """A token for the user's default project, else their first project by name, else unscoped.

        The unscoped token is not revoked after the re-scope: Keystone revokes a token's whole chain, so
        revoking it would end the scoped one too. The log-out's revocation ends them all."""
        identity = {
            "methods": ["password"],
            "password": {"user": {"name": user, "domain": {"name": domain}, "password": password}},
        }
        body = {"auth": {"identity": identity}}
        if self.login_transport is not None and client_address:
            async with httpx.AsyncClient(transport=self.login_transport(client_address)) as http:
                login = _login_from(_checked(await http.post(self.tokens_url, json=body)))
        else:
            login = _login_from(_checked(await self.http.post(self.tokens_url, json=body)))
        if login.project_id is not None:
            return login
        projects = await self.projects(login.token)
        if not projects:
            return login
        first = min(projects, key=lambda project: str(project["name"]))
        return await self.rescope(login.token, str(first["id"]))

    async def rescope(self, token: str, project_id: str) -> Login:
        body = {
            "auth": {
                "identity": {"methods": ["token"], "token": {"id": token}},
                "scope": {"project": {"id": project_id}},
            }
        }
        return _login_from(_checked(await self.http.post(self.tokens_url, json=body)))

    async def projects(self, token: str) -> list[dict[str, Any]]:
        response = _checked(await self.http.get(self.projects_url, headers={"X-Auth-Token": token}))
        return [project for project in response.json()["projects"] if project.get("enabled", True)]

    async def revoke(self, token: str) -> None:
        """Revokes the token; one already expired or revoked is as good as revoked."""
        headers = {"X-Auth-Token": token, "X-Subject-Token": token}
        response = await self.http.delete(self.tokens_url, headers=headers)
        if response.is_error and response.status_code not in (401, 404):
            raise APIError(response.status_code, error_message(response))


def endpoint(catalog: tuple[dict[str, Any], ...], service: str, interface: str = "public") -> str | None:
    for service_type in SERVICE_TYPES[service]:
        for entry in catalog:
            if entry.get("type") != service_type:
                continue
            for candidate in entry.get("endpoints", []):
                if candidate.get("interface") == interface:
                    return str(candidate["url"]).rstrip("/") + _VERSION_SUFFIX.get(service, "")
    return None


class ProjectAPI:
    """The public APIs as one project-scoped token reaches them."""

    def __init__(self, http: httpx.AsyncClient, login: Login) -> None:
        self.http = http
        self.login = login

    def url(self, service: str, path: str) -> str:
        base = endpoint(self.login.catalog, service)
        if base is None:
            raise ServiceUnavailable(503, f"This cloud offers no {service} service to your project.")
        return base + path

    def _headers(self, service: str, version: str | None = None) -> dict[str, str]:
        headers = {"X-Auth-Token": self.login.token, "Accept": "application/json"}
        if service == "compute":
            headers["OpenStack-API-Version"] = version or COMPUTE_VERSION
        elif service == "volume":
            headers["OpenStack-API-Version"] = VOLUME_VERSION
        return headers

    async def get(
        self, service: str, path: str, params: Mapping[str, Any] | None = None, version: str | None = None
    ) -> Any:
        query = {key: value for key, value in (params or {}).items() if value not in (None, "")}
        headers = self._headers(service, version)
        response = await self.http.get(self.url(service, path), params=query, headers=headers)
        return _checked(response).json()

    async def post(self, service: str, path: str, body: Any, version: str | None = None) -> Any:
        """`version`: a compute microversion other than the pages' own, for a call that needs it."""
        response = _checked(
            await self.http.post(self.url(service, path), json=body, headers=self._headers(service, version))
        )
        return response.json() if response.content else None

    async def put(self, service: str, path: str, body: Any) -> Any:
        response = _checked(
            await self.http.put(self.url(service, path), json=body, headers=self._headers(service))
        )
        return response.json() if response.content else None

    async def patch(self, service: str, path: str, body: Any, content_type: str) -> Any:
        headers = {**self._headers(service), "Content-Type": content_type}
        response = _checked(await self.http.patch(self.url(service, path), json=body, headers=headers))
        return response.json() if response.content else None

    async def upload(self, service: str, path: str, data: AsyncIterator[bytes], content_type: str) -> None:
        """Streams `data` to the API as it arrives: an image's bytes never sit whole in the dashboard."""
        headers = {**self._headers(service), "Content-Type": content_type}
        _checked(await self.http.put(self.url(service, path), content=data, headers=headers, timeout=None))

    async def download(self, service: str, path: str) -> httpx.Response:
        """The raw response (a PDF, a CSV): its bytes and headers, not JSON."""
        headers = {**self._headers(service), "Accept": "*/*"}
        return _checked(await self.http.get(self.url(service, path), headers=headers))

    async def delete(self, service: str, path: str) -> None:
        _checked(await self.http.delete(self.url(service, path), headers=self._headers(service)))
