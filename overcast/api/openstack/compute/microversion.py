"""Compute API microversions: read the requested version, refuse unsupported ones, echo it back.

Clients send ``OpenStack-API-Version: compute X.Y`` (the newer header, which wins) or
``X-OpenStack-Nova-API-Version: X.Y``; no header means the minimum and ``latest`` the maximum. Every
response below /compute/v2.1 carries both headers and ``Vary`` naming them, errors included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overcast import errors

SERVICE_TYPE = "compute"
NEW_HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
VARY = f"{NEW_HEADER}, {LEGACY_HEADER}"
STATE_KEY = "compute_api_version"

_VERSION_PATTERN = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@dataclass(frozen=True, order=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = _VERSION_PATTERN.match(text.strip())
        if match is None:
            raise errors.BadRequest(
                f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


# Every version up to MAX is accounted for in version_history.HISTORY (a unit test holds them together).
MIN_VERSION = APIVersion(2, 1)
MAX_VERSION = APIVersion(2, 100)


def service_version_text(headers: Headers, service_type: str) -> str | None:
    """The version `OpenStack-API-Version` asks of one service, or None when it names no such service."""
    for value in headers.getlist(NEW_HEADER):
        # The header may name several services: "compute 2.10, volume 3.40".
        for item in value.split(","):
            parts = item.strip().split()
            if len(parts) == 2 and parts[0].lower() == service_type:
                return parts[1]
    return None


def requested_version_text(headers: Headers) -> str | None:
    """The version string the client asked for, or None when it sent no compute version header."""
    new = service_version_text(headers, SERVICE_TYPE)
    if new is not None:
        return new
    legacy = headers.get(LEGACY_HEADER)
    return legacy.strip() if legacy else None


def negotiate(
    text: str | None, minimum: APIVersion = MIN_VERSION, maximum: APIVersion = MAX_VERSION
) -> APIVersion:
    """The version to serve: BadRequest if malformed, NotAcceptable if outside [minimum, maximum]."""
    if text is None:
        return minimum
    if text.strip().lower() == "latest":
        return maximum
    version = APIVersion.parse(text)
    if not minimum <= version <= maximum:
        raise errors.NotAcceptable(
            f"Version {version} is not supported by the API. Minimum is {minimum} and maximum is {maximum}."
        )
    return version


def version_headers(version: APIVersion) -> dict[str, str]:
    return {NEW_HEADER: f"{SERVICE_TYPE} {version}", LEGACY_HEADER: str(version), "Vary": VARY}


@dataclass(frozen=True)
class VersionedAPI:
    """What differs between the APIs that take microversions (compute here, block storage too)."""

    state_key: str
    vary: str
    version_of: Callable[[Headers], APIVersion]  # BadRequest/NotAcceptable for a version it cannot serve
    headers_for: Callable[[APIVersion], dict[str, str]]


def _compute_version(headers: Headers) -> APIVersion:
    return negotiate(requested_version_text(headers))


COMPUTE = VersionedAPI(STATE_KEY, VARY, _compute_version, version_headers)


class MicroversionMiddleware:
    """Pure ASGI, scoped to one path prefix; stores the version on request.state under the API's key."""

    def __init__(self, app: ASGIApp, prefix: str, api: VersionedAPI = COMPUTE) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")
        self.api = api

    def _applies(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            version = self.api.version_of(Headers(scope=scope))
        except errors.OvercastError as error:
            # The negotiated version is unknown here, so answer with the range's bounds only.
            response = JSONResponse(
                error.to_body(), status_code=error.status, headers={"Vary": self.api.vary}
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[self.api.state_key] = version
        echo = self.api.headers_for(version)

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in echo.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_version)
