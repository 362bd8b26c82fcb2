"""Block Storage microversions: `OpenStack-API-Version: volume 3.x` read, refused when unsupported, echoed.

Cinder reads only the new header; no header means 3.0 (what Terraform sends) and `latest` the maximum.
Every response below /volume/v3 carries the header and `Vary`, errors included.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overcast import errors
from overcast.api.openstack.compute import microversion as compute_microversion
from overcast.api.openstack.compute.microversion import APIVersion

SERVICE_TYPE = "volume"
HEADER = "OpenStack-API-Version"
STATE_KEY = "volume_api_version"

# Every version up to MAX is accounted for in version_history.HISTORY (a unit test holds them together).
MIN_VERSION = APIVersion(3, 0)
MAX_VERSION = APIVersion(3, 71)


def requested_version_text(headers: Headers) -> str | None:
    for value in headers.getlist(HEADER):
        # The header may name several services: "compute 2.10, volume 3.40".
        for item in value.split(","):
            parts = item.strip().split()
            if len(parts) == 2 and parts[0].lower() == SERVICE_TYPE:
                return parts[1]
    return None


def negotiate(text: str | None) -> APIVersion:
    """The version to serve (compute's rules: none is the minimum, `latest` the maximum)."""
    return compute_microversion.negotiate(text, MIN_VERSION, MAX_VERSION)


class VolumeMicroversionMiddleware:
    """Pure ASGI, scoped to /volume/v3; stores the version on request.state.volume_api_version."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    def _applies(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            version = negotiate(requested_version_text(Headers(scope=scope)))
        except errors.OvercastError as error:
            response = JSONResponse(error.to_body(), status_code=error.status, headers={"Vary": HEADER})
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_KEY] = version
        echo = {HEADER: f"{SERVICE_TYPE} {version}", "Vary": HEADER}

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in echo.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_version)
