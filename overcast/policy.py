"""One rule table consulted by every API handler (the shape of oslo.policy's defaults).

Rules are small composable checks: ``ADMIN | PROJECT_MEMBER``. A rule is evaluated against the request
context and a *target* (the attributes of the resource acted on, e.g. ``{"project_id": ...}``).
Services register their rules once at import time with :func:`register`; :func:`enforce` raises
Forbidden. Project isolation is the default: :func:`ensure_visible` answers 404, never the data, when a
non-admin reaches for another project's resource.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


ADMIN = HasRole("admin")
OWN_PROJECT = Matches("project_id", "project_id")
OWNER = Matches("user_id", "user_id")
PROJECT_ADMIN = HasRole("admin") & OWN_PROJECT
PROJECT_MEMBER = HasRole("member") & OWN_PROJECT
PROJECT_READER = HasRole("reader") & OWN_PROJECT
ADMIN_OR_MEMBER = ADMIN | PROJECT_MEMBER
ADMIN_OR_READER = ADMIN | PROJECT_READER
ADMIN_OR_OWNER = ADMIN | OWNER
ANYONE = Always(True)
NOBODY = Always(False)


class PolicyNotRegistered(KeyError):
    pass


_RULES: dict[str, Check] = {
    "admin": ADMIN,
    "project_member": PROJECT_MEMBER,
    "project_reader": PROJECT_READER,
    "owner": OWNER,
    "admin_or_member": ADMIN_OR_MEMBER,
    "admin_or_reader": ADMIN_OR_READER,
    "admin_or_owner": ADMIN_OR_OWNER,
    # Identity.
    "identity:list_domains": ADMIN,
    "identity:get_domain": ADMIN | Matches("domain_id", "domain_id"),
    "identity:manage_domain": ADMIN,
    "identity:list_projects": ADMIN,
    "identity:get_project": ADMIN_OR_READER,
    "identity:manage_project": ADMIN,
    "identity:list_users": ADMIN,
    "identity:get_user": ADMIN_OR_OWNER,
    "identity:manage_user": ADMIN,
    "identity:change_password": OWNER,
    "identity:list_user_projects": ADMIN_OR_OWNER,
    "identity:list_roles": ADMIN | HasRole("reader"),
    "identity:get_role": ADMIN | HasRole("reader"),
    "identity:manage_role": ADMIN,
    "identity:list_role_assignments": ADMIN,
    "identity:list_groups": ADMIN,
    "identity:get_group": ADMIN,
    "identity:manage_group": ADMIN,
    "identity:list_user_groups": ADMIN_OR_OWNER,
    "identity:list_regions": ANYONE,
    "identity:manage_region": ADMIN,
    "identity:manage_grant": ADMIN,
    "identity:check_grant": ADMIN,
    "identity:validate_token": ADMIN_OR_OWNER,
    "identity:revoke_token": ADMIN_OR_OWNER,
    "identity:manage_catalog": ADMIN,
    "identity:list_catalog": ANYONE,
    "identity:application_credentials": OWNER,
    "identity:ec2_credentials": ADMIN_OR_OWNER,
    # Quotas (os-quota-sets): anyone in the project may read its own, only admins change them.
    "quota:show": ADMIN_OR_READER,
    "quota:update": ADMIN,
    "quota:delete": ADMIN,
    "quota:defaults": ANYONE,
}


def register(rules: Mapping[str, Check], *, replace: bool = False) -> None:
    """Add a service's rules to the table; re-registering a name differently is a programming error."""
    for name, check in rules.items():
        existing = _RULES.get(name)
        if existing is not None and existing != check and not replace:
            raise ValueError(f"policy rule {name!r} is already registered differently")
        _RULES[name] = check


def rule(name: str) -> Check:
    try:
        return _RULES[name]
    except KeyError:
        raise PolicyNotRegistered(name) from None


def registered_rules() -> dict[str, Check]:
    return dict(_RULES)


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
