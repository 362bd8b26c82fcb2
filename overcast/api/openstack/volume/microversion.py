"""Block Storage microversions: `OpenStack-API-Version: volume 3.x` read, refused when unsupported, echoed.

Cinder reads only the new header; no header means 3.0 (what Terraform sends) and `latest` the maximum.
Every response below /volume/v3 carries the header and `Vary`, errors included.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from overcast.api.openstack.compute import microversion as compute_microversion
from overcast.api.openstack.compute.microversion import APIVersion, VersionedAPI

SERVICE_TYPE = "volume"
HEADER = "OpenStack-API-Version"
STATE_KEY = "volume_api_version"

# Every version up to MAX is accounted for in version_history.HISTORY (a unit test holds them together).
MIN_VERSION = APIVersion(3, 0)
MAX_VERSION = APIVersion(3, 71)


def requested_version_text(headers: Headers) -> str | None:
    return compute_microversion.service_version_text(headers, SERVICE_TYPE)


def negotiate(text: str | None) -> APIVersion:
    """The version to serve (compute's rules: none is the minimum, `latest` the maximum)."""
    return compute_microversion.negotiate(text, MIN_VERSION, MAX_VERSION)


def _volume_version(headers: Headers) -> APIVersion:
    return negotiate(requested_version_text(headers))


def _echo(version: APIVersion) -> dict[str, str]:
    return {HEADER: f"{SERVICE_TYPE} {version}", "Vary": HEADER}


# Served by compute's MicroversionMiddleware, scoped to /volume/v3; the version is on
# request.state.volume_api_version.
VOLUME = VersionedAPI(STATE_KEY, HEADER, _volume_version, _echo)
