"""Server side of RPC: find the endpoint method for a request and check the API version."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from overcast.context import RequestContext
from overcast.errors import OvercastError, UnsupportedVersion


class NoSuchMethod(OvercastError):
    """The method does not exist on any endpoint or is private (never dispatchable)."""

    default_message = "No such RPC method."


def parse_version(version: str) -> tuple[int, int]:
    parts = version.split(".")
    try:
        major = int(parts[0])
        minor = int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise UnsupportedVersion(f"Malformed RPC API version {version!r}.") from None
    return major, minor


def version_is_compatible(served: str, requested: str) -> bool:
    """Same major version, and the requested minor is one the server already knows."""
    served_major, served_minor = parse_version(served)
    requested_major, requested_minor = parse_version(requested)
    return served_major == requested_major and requested_minor <= served_minor


class Dispatcher:
    def __init__(self, endpoints: Sequence[object]) -> None:
        self.endpoints = list(endpoints)

    def dispatch(self, ctxt: RequestContext, method: str, args: dict[str, Any], version: str) -> Any:
        if not method or method.startswith("_"):
            raise NoSuchMethod(f"RPC method {method!r} is private and cannot be called.")
        found_method = False
        for endpoint in self.endpoints:
            handler = getattr(endpoint, method, None)
            if handler is None or not callable(handler):
                continue
            found_method = True
            served = str(getattr(endpoint, "RPC_API_VERSION", "1.0"))
            if version_is_compatible(served, version):
                return handler(ctxt, **args)
        if found_method:
            served_versions = ", ".join(
                str(getattr(endpoint, "RPC_API_VERSION", "1.0")) for endpoint in self.endpoints
            )
            raise UnsupportedVersion(
                f"Endpoint does not support RPC version {version} (serves {served_versions}). "
                f"Attempted method: {method}"
            )
        raise NoSuchMethod(f"No endpoint has an RPC method named {method!r}.")
