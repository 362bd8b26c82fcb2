"""Application-credential access rules: which requests a token from such a credential may make.

A rule is (service type, HTTP method, path pattern), the path relative to where the service is mounted
(``/v2.1/servers`` for compute, as the service itself sees it behind keystonemiddleware). In a pattern
``*`` (or a ``{name}`` placeholder) stands for one non-empty path segment and ``**`` for anything,
slashes included. A token limited by rules may make a request only if some rule matches it; anything
else is refused with keystonemiddleware's answer, 401 "requires authentication". The identity API is no
exception, except that a token may always validate itself (GET /v3/auth/tokens), as keystonemiddleware
allows.
"""

from __future__ import annotations

import re
from functools import lru_cache

from overcast.errors import Unauthorized
from overcast.identity.catalog import DEFAULT_SERVICES

AccessRuleTriple = tuple[str, str, str]

_SEGMENT = r"[^/]+"
_PATTERN_TOKENS = re.compile(r"\{[^}]*\}|\*\*|\*|[^{*]+|.")


def _service_types_by_mount() -> dict[str, frozenset[str]]:
    """The catalog's service types by the first segment of their path (/compute for /compute/v2.1)."""
    mounts: dict[str, set[str]] = {}
    for entry in DEFAULT_SERVICES:
        mount = "/" + entry.path.strip("/").split("/")[0]
        mounts.setdefault(mount, set()).add(entry.type)
    return {mount: frozenset(types) for mount, types in mounts.items()}


_MOUNTS = _service_types_by_mount()


def service_of(path: str) -> tuple[frozenset[str], str]:
    """(service types, path below the service's mount point) of a request path; no types if unknown."""
    for mount, types in _MOUNTS.items():
        if path == mount or path.startswith(mount + "/"):
            return types, path[len(mount) :] or "/"
    return frozenset(), path


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    for token in _PATTERN_TOKENS.findall(pattern):
        if token == "**":
            parts.append(".*")
        elif token == "*" or (token.startswith("{") and token.endswith("}")):
            parts.append(_SEGMENT)
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts))


def path_matches(pattern: str, path: str) -> bool:
    return _compiled(pattern).fullmatch(path) is not None


def allows(rules: tuple[AccessRuleTriple, ...], method: str, path: str) -> bool:
    """Whether any rule lets `method` reach the absolute request `path`."""
    types, relative = service_of(path)
    if "identity" in types and method in ("GET", "HEAD") and relative == "/v3/auth/tokens":
        return True
    return any(
        service in types and method == rule_method and path_matches(pattern, relative)
        for service, rule_method, pattern in rules
    )


def enforce(rules: tuple[AccessRuleTriple, ...] | None, method: str | None, path: str | None) -> None:
    """Refuse a request that the token's access rules (if it has any) do not allow; fail closed."""
    if rules is None:
        return
    if method is None or path is None or not allows(rules, method.upper(), path):
        raise Unauthorized("The request you have made requires authentication.")
