"""One rule table consulted by every API handler (the shape of oslo.policy's defaults).

Rules are small composable checks: ``ADMIN | PROJECT_MEMBER``. A rule is evaluated against the request
context and a *target* (the attributes of the resource acted on, e.g. ``{"project_id": ...}``).
Each service lists its rules in its own ``policies.py`` (name, check, description, the operations it
guards), loaded on first use; :func:`list_rules` returns them all; :func:`enforce` raises Forbidden.
Project isolation is the default: :func:`ensure_visible` answers 404, never the data, when a non-admin
reaches for another project's resource.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from overcast.context import RequestContext
from overcast.errors import Forbidden, NotFound

Target = Mapping[str, Any]


class Check:
    def __call__(self, context: RequestContext, target: Target) -> bool:
        raise NotImplementedError

    def __or__(self, other: Check) -> Check:
        return AnyOf((self, other))

    def __and__(self, other: Check) -> Check:
        return AllOf((self, other))


@dataclass(frozen=True)
class AnyOf(Check):
    checks: tuple[Check, ...]

    def __call__(self, context: RequestContext, target: Target) -> bool:
        return any(check(context, target) for check in self.checks)


@dataclass(frozen=True)
class AllOf(Check):
    checks: tuple[Check, ...]

    def __call__(self, context: RequestContext, target: Target) -> bool:
        return all(check(context, target) for check in self.checks)


@dataclass(frozen=True)
class HasRole(Check):
    role: str

    def __call__(self, context: RequestContext, target: Target) -> bool:
        return self.role in context.roles


@dataclass(frozen=True)
class Matches(Check):
    """The context attribute equals the target's attribute (e.g. project_id:%(project_id)s)."""

    context_attribute: str
    target_key: str

    def __call__(self, context: RequestContext, target: Target) -> bool:
        mine = getattr(context, self.context_attribute)
        return mine is not None and mine == target.get(self.target_key)


@dataclass(frozen=True)
class Always(Check):
    allowed: bool

    def __call__(self, context: RequestContext, target: Target) -> bool:
        return self.allowed


@dataclass(frozen=True)
class SystemScoped(Check):
    """The token is scoped to the whole system (Keystone's system_scope:all)."""

    def __call__(self, context: RequestContext, target: Target) -> bool:
        return context.system_scope == "all"


ADMIN = HasRole("admin")
OWN_PROJECT = Matches("project_id", "project_id")
OWNER = Matches("user_id", "user_id")
PROJECT_MEMBER = HasRole("member") & OWN_PROJECT
PROJECT_READER = HasRole("reader") & OWN_PROJECT
ADMIN_OR_MEMBER = ADMIN | PROJECT_MEMBER
ADMIN_OR_READER = ADMIN | PROJECT_READER
ADMIN_OR_OWNER = ADMIN | OWNER
ANYONE = Always(True)
# Keystone's default personas beyond admin/member/reader: a reader of the whole system, a project's
# manager (manager implies member), and the services' own users (the `service` role).
SYSTEM_READER = HasRole("reader") & SystemScoped()
PROJECT_MANAGER = HasRole("manager") & OWN_PROJECT
ADMIN_OR_PROJECT_MANAGER = ADMIN | PROJECT_MANAGER
SERVICE = HasRole("service")
ADMIN_OR_SERVICE = ADMIN | SERVICE


class PolicyNotRegistered(KeyError):
    pass


@dataclass(frozen=True)
class Operation:
    """An HTTP operation a rule guards: the method and the path as the app routes it."""

    method: str
    path: str


@dataclass(frozen=True)
class DocumentedRule:
    """A rule with what it allows and the operations it guards (Nova's DocumentedRuleDefault)."""

    name: str
    check: Check
    description: str
    operations: tuple[Operation, ...] = ()


def documented(name: str, check: Check, description: str, *operations: tuple[str, str]) -> DocumentedRule:
    return DocumentedRule(
        name, check, description, tuple(Operation(method, path) for method, path in operations)
    )


# Each service lists its rules in its policies.py and never registers them itself: the table loads the
# lists on first use (as oslo.policy finds services' rules by entry point), so a rule exists whether or
# not the router that enforces it was imported, and the services' rule modules import nothing but this.
SERVICE_RULE_MODULES = (
    "overcast.identity.policies", "overcast.compute.policies", "overcast.image.policies",
    "overcast.network.policies", "overcast.volume.policies", "overcast.billing.policies",
    "overcast.portal.policies", "overcast.portal.tickets_policies",
)  # fmt: skip

# Building blocks a deployment or a test may name; the services' own rules are in their policies.py.
BASE_RULES: tuple[DocumentedRule, ...] = (
    documented("admin", ADMIN, "Holds the admin role."),
    documented("project_member", PROJECT_MEMBER, "A member of the target's project."),
    documented("project_reader", PROJECT_READER, "A reader of the target's project."),
    documented("owner", OWNER, "The user the target belongs to."),
    documented("admin_or_member", ADMIN_OR_MEMBER, "An admin, or a member of the target's project."),
    documented("admin_or_reader", ADMIN_OR_READER, "An admin, or a reader of the target's project."),
    documented("admin_or_owner", ADMIN_OR_OWNER, "An admin, or the user the target belongs to."),
    documented("system_reader", SYSTEM_READER, "A reader with a system-scoped token."),
    documented("project_manager", PROJECT_MANAGER, "A manager of the target's project."),
    documented(
        "admin_or_project_manager",
        ADMIN_OR_PROJECT_MANAGER,
        "An admin, or a manager of the target's project.",
    ),
    documented("service", SERVICE, "Holds the service role (the services' own users)."),
    documented("admin_or_service", ADMIN_OR_SERVICE, "An admin, or a holder of the service role."),
)

_RULES: dict[str, DocumentedRule] = {}
_loaded_services = False
_loading = threading.Lock()


def _table() -> dict[str, DocumentedRule]:
    global _loaded_services
    if not _loaded_services:
        with _loading:
            if not _loaded_services:
                _add(BASE_RULES, replace=False)
                for module in SERVICE_RULE_MODULES:
                    _add(importlib.import_module(module).RULES, replace=False)
                _loaded_services = True
    return _RULES


def _add(rules: Iterable[DocumentedRule], *, replace: bool) -> None:
    for documented_rule in rules:
        existing = _RULES.get(documented_rule.name)
        if existing is not None and existing.check == documented_rule.check:
            continue  # the same rule again keeps its documentation
        if existing is not None and not replace:
            raise ValueError(f"policy rule {documented_rule.name!r} is already registered differently")
        _RULES[documented_rule.name] = documented_rule


def register(rules: Mapping[str, Check] | Iterable[DocumentedRule], *, replace: bool = False) -> None:
    """Add rules to the table; re-registering a name differently is a programming error."""
    _table()
    if isinstance(rules, Mapping):
        rules = [DocumentedRule(name, check, "") for name, check in rules.items()]
    with _loading:
        _add(rules, replace=replace)


def rule(name: str) -> Check:
    try:
        return _table()[name].check
    except KeyError:
        raise PolicyNotRegistered(name) from None


def list_rules() -> tuple[DocumentedRule, ...]:
    """Every rule with its description and operations: what a policy reference is generated from."""
    return tuple(_table().values())


def authorize(context: RequestContext, name: str, target: Target | None = None) -> bool:
    return rule(name)(context, target or {})


def enforce(
    context: RequestContext,
    name: str,
    target: Target | None = None,
    *,
    error: Callable[[str], Exception] | None = None,
) -> None:
    """Raise Forbidden (or the given error) unless the rule allows the action."""
    if not authorize(context, name, target):
        message = f"Policy doesn't allow {name} to be performed."
        raise error(message) if error else Forbidden(message)


def ensure_visible(context: RequestContext, project_id: str | None, what: str = "resource") -> None:
    """Project isolation: another project's resource does not exist for a non-admin caller."""
    if not context.is_admin and (project_id is None or project_id != context.project_id):
        raise NotFound(f"The {what} could not be found.")


def project_filter(context: RequestContext) -> str | None:
    """The project id list queries must be restricted to (None: an admin sees every project)."""
    return None if context.is_admin else context.project_id
