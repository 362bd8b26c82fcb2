"""Identity API policy rules (Keystone's names): admins manage, users see and manage what is theirs.

The identity routers enforce these: only HTTP reaches the identity API. Targets carry the id the rule
compares (``user_id`` for a user's own resources, ``domain_id``, ``project_id``; for a grant, the
domain of its target and of its user or group and the role's name).

Keystone's personas: readers with a system-scoped token read everything; a domain manager (the
`manager` role on a domain-scoped token) manages the projects and users of that domain and grants
them the roles up to manager, never admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from overcast.context import RequestContext
from overcast.policy import (
    ADMIN,
    ADMIN_OR_OWNER,
    ADMIN_OR_READER,
    ANYONE,
    OWNER,
    SYSTEM_READER,
    Check,
    DocumentedRule,
    HasRole,
    Matches,
    documented,
)


@dataclass(frozen=True)
class DomainScoped(Check):
    """A token scoped to a domain (not a project, not the system)."""

    def __call__(self, context: RequestContext, target: Mapping[str, Any]) -> bool:
        return context.project_id is None and context.system_scope is None and context.domain_id is not None


@dataclass(frozen=True)
class TargetIn(Check):
    """The target's value at `key` is one of `allowed`."""

    key: str
    allowed: tuple[str, ...]

    def __call__(self, context: RequestContext, target: Mapping[str, Any]) -> bool:
        return target.get(self.key) in self.allowed


MANAGER_GRANTABLE_ROLES = ("manager", "member", "reader")
DOMAIN_MANAGER = HasRole("manager") & DomainScoped() & Matches("domain_id", "domain_id")
ADMIN_OR_SYSTEM_READER = ADMIN | SYSTEM_READER
ADMIN_OR_DOMAIN_MANAGER = ADMIN | DOMAIN_MANAGER
READ_IN_DOMAIN = ADMIN | SYSTEM_READER | DOMAIN_MANAGER
# What a domain manager may hand out, on the projects of their domain to its users and groups
# (Keystone's domain manager persona: never admin, never on the domain itself).
GRANT_IN_DOMAIN = ADMIN | (
    DOMAIN_MANAGER
    & TargetIn("target_kind", ("project",))
    & Matches("domain_id", "actor_domain_id")
    & TargetIn("role_name", MANAGER_GRANTABLE_ROLES)
)

V3 = "/identity/v3"
EP = f"{V3}/OS-EP-FILTER"
FED = f"{V3}/OS-FEDERATION"
# Where grants live: on a project or domain, inherited by the projects below one, on the system.
GRANT_PLACES = (
    (f"{V3}/{{target_type}}/{{target_id}}", ""),
    (f"{V3}/OS-INHERIT/{{target_type}}/{{target_id}}", "/inherited_to_projects"),
    (f"{V3}/system", ""),
)
GRANT_ACTORS = (("users", "user_id"), ("groups", "group_id"))
ONE_GRANT = [
    f"{place}/{actors}/{{{key}}}/roles/{{role_id}}{tail}"
    for place, tail in GRANT_PLACES
    for actors, key in GRANT_ACTORS
]
GRANT_LISTS = [
    f"{place}/{actors}/{{{key}}}/roles{tail}" for place, tail in GRANT_PLACES for actors, key in GRANT_ACTORS
]
GROUP_MEMBER = f"{V3}/groups/{{group_id}}/users/{{user_id}}"
APPLICATION_CREDENTIALS = f"{V3}/users/{{user_id}}/application_credentials"
ACCESS_RULES = f"{V3}/users/{{user_id}}/access_rules"
EC2_CREDENTIALS = f"{V3}/users/{{user_id}}/credentials/OS-EC2"

RULES: tuple[DocumentedRule, ...] = (
    documented("identity:list_domains", ADMIN_OR_SYSTEM_READER, "List domains.", ("GET", f"{V3}/domains")),
    documented(
        "identity:get_domain",
        ADMIN | SYSTEM_READER | Matches("domain_id", "domain_id"),
        "Show a domain: admins, or a user scoped to that domain.",
        ("GET", f"{V3}/domains/{{domain_id}}"),
    ),
    documented(
        "identity:manage_domain",
        ADMIN,
        "Create, update or delete a domain.",
        ("POST", f"{V3}/domains"),
        ("PATCH", f"{V3}/domains/{{domain_id}}"),
        ("DELETE", f"{V3}/domains/{{domain_id}}"),
    ),
    documented("identity:list_projects", READ_IN_DOMAIN, "List every project.", ("GET", f"{V3}/projects")),
    documented(
        "identity:get_project",
        ADMIN_OR_READER | SYSTEM_READER | DOMAIN_MANAGER,
        "Show a project: admins, its readers, system readers, its domain's managers.",
        ("GET", f"{V3}/projects/{{project_id}}"),
    ),
    documented(
        "identity:manage_project",
        ADMIN_OR_DOMAIN_MANAGER,
        "Create, update or delete a project: admins, or managers of its domain.",
        ("POST", f"{V3}/projects"),
        ("PATCH", f"{V3}/projects/{{project_id}}"),
        ("DELETE", f"{V3}/projects/{{project_id}}"),
    ),
    documented(
        "identity:get_project_tags",
        ADMIN_OR_READER | SYSTEM_READER | DOMAIN_MANAGER,
        "List a project's tags or check one.",
        ("GET", f"{V3}/projects/{{project_id}}/tags"),
        ("GET", f"{V3}/projects/{{project_id}}/tags/{{tag}}"),
        ("HEAD", f"{V3}/projects/{{project_id}}/tags/{{tag}}"),
    ),
    documented(
        "identity:manage_project_tags",
        ADMIN_OR_DOMAIN_MANAGER,
        "Add, replace or remove a project's tags: admins, or managers of its domain.",
        ("PUT", f"{V3}/projects/{{project_id}}/tags"),
        ("DELETE", f"{V3}/projects/{{project_id}}/tags"),
        ("PUT", f"{V3}/projects/{{project_id}}/tags/{{tag}}"),
        ("DELETE", f"{V3}/projects/{{project_id}}/tags/{{tag}}"),
    ),
    documented("identity:list_users", READ_IN_DOMAIN, "List users.", ("GET", f"{V3}/users")),
    documented(
        "identity:get_user",
        ADMIN_OR_OWNER | SYSTEM_READER | DOMAIN_MANAGER,
        "Show a user: admins, or the user itself.",
        ("GET", f"{V3}/users/{{user_id}}"),
    ),
    documented(
        "identity:manage_user",
        ADMIN_OR_DOMAIN_MANAGER,
        "Create, update or delete a user: admins, or managers of its domain.",
        ("POST", f"{V3}/users"),
        ("PATCH", f"{V3}/users/{{user_id}}"),
        ("DELETE", f"{V3}/users/{{user_id}}"),
    ),
    documented(
        "identity:change_password",
        OWNER,
        "Change one's own password (not even an admin changes another's).",
        ("POST", f"{V3}/users/{{user_id}}/password"),
    ),
    documented(
        "identity:list_user_projects",
        ADMIN_OR_OWNER | SYSTEM_READER | DOMAIN_MANAGER,
        "List the projects a user has roles on.",
        ("GET", f"{V3}/users/{{user_id}}/projects"),
    ),
    documented("identity:list_roles", ADMIN | HasRole("reader"), "List roles.", ("GET", f"{V3}/roles")),
    documented(
        "identity:get_role", ADMIN | HasRole("reader"), "Show a role.", ("GET", f"{V3}/roles/{{role_id}}")
    ),
    documented(
        "identity:manage_role",
        ADMIN,
        "Create, update or delete a role.",
        ("POST", f"{V3}/roles"),
        ("PATCH", f"{V3}/roles/{{role_id}}"),
        ("DELETE", f"{V3}/roles/{{role_id}}"),
    ),
    documented(
        "identity:create_implied_role",
        ADMIN,
        "Make one role imply another.",
        ("PUT", f"{V3}/roles/{{prior_role_id}}/implies/{{implied_role_id}}"),
    ),
    documented(
        "identity:delete_implied_role",
        ADMIN,
        "Stop one role implying another.",
        ("DELETE", f"{V3}/roles/{{prior_role_id}}/implies/{{implied_role_id}}"),
    ),
    documented(
        "identity:get_implied_role",
        ADMIN | HasRole("reader"),
        "Show or check that one role implies another.",
        ("GET", f"{V3}/roles/{{prior_role_id}}/implies/{{implied_role_id}}"),
        ("HEAD", f"{V3}/roles/{{prior_role_id}}/implies/{{implied_role_id}}"),
    ),
    documented(
        "identity:list_implied_roles",
        ADMIN | HasRole("reader"),
        "List the roles a role implies.",
        ("GET", f"{V3}/roles/{{prior_role_id}}/implies"),
    ),
    documented(
        "identity:list_role_inference_rules",
        ADMIN | HasRole("reader"),
        "List every implied-role rule.",
        ("GET", f"{V3}/role_inferences"),
    ),
    documented(
        "identity:list_role_assignments",
        ADMIN_OR_SYSTEM_READER,
        "List role assignments.",
        ("GET", f"{V3}/role_assignments"),
    ),
    documented("identity:list_groups", ADMIN_OR_SYSTEM_READER, "List groups.", ("GET", f"{V3}/groups")),
    documented(
        "identity:get_group",
        ADMIN_OR_SYSTEM_READER,
        "Show a group, its members, or whether a user is one.",
        ("GET", f"{V3}/groups/{{group_id}}"),
        ("GET", f"{V3}/groups/{{group_id}}/users"),
        ("GET", GROUP_MEMBER),
        ("HEAD", GROUP_MEMBER),
    ),
    documented(
        "identity:manage_group",
        ADMIN,
        "Create, update or delete a group; add or remove its members.",
        ("POST", f"{V3}/groups"),
        ("PATCH", f"{V3}/groups/{{group_id}}"),
        ("DELETE", f"{V3}/groups/{{group_id}}"),
        ("PUT", GROUP_MEMBER),
        ("DELETE", GROUP_MEMBER),
    ),
    documented(
        "identity:list_user_groups",
        ADMIN_OR_OWNER | SYSTEM_READER,
        "List the groups a user belongs to.",
        ("GET", f"{V3}/users/{{user_id}}/groups"),
    ),
    documented(
        "identity:list_regions",
        ANYONE,
        "List or show regions.",
        ("GET", f"{V3}/regions"),
        ("GET", f"{V3}/regions/{{region_id}}"),
    ),
    documented(
        "identity:manage_region",
        ADMIN,
        "Create, update or delete a region.",
        ("POST", f"{V3}/regions"),
        ("PUT", f"{V3}/regions/{{region_id}}"),
        ("PATCH", f"{V3}/regions/{{region_id}}"),
        ("DELETE", f"{V3}/regions/{{region_id}}"),
    ),
    documented(
        "identity:manage_grant",
        GRANT_IN_DOMAIN,
        "Grant or revoke a user's or a group's role on a project, a domain (or the projects below either:"
        " OS-INHERIT) or the system.",
        *[(method, path) for path in ONE_GRANT for method in ("PUT", "DELETE")],
    ),
    documented(
        "identity:check_grant",
        ADMIN | SYSTEM_READER | DOMAIN_MANAGER,
        "Check or list a user's or a group's roles on a project, a domain (OS-INHERIT too) or the system.",
        *[(method, path) for path in ONE_GRANT for method in ("GET", "HEAD")],
        *[("GET", path) for path in GRANT_LISTS],
    ),
    documented(
        "identity:validate_token",
        ADMIN_OR_OWNER,
        "Validate or check a token: admins, or its own user.",
        ("GET", f"{V3}/auth/tokens"),
        ("HEAD", f"{V3}/auth/tokens"),
    ),
    documented(
        "identity:revoke_token",
        ADMIN_OR_OWNER,
        "Revoke a token: admins, or its own user.",
        ("DELETE", f"{V3}/auth/tokens"),
    ),
    documented(
        "identity:get_catalog",
        ADMIN_OR_SYSTEM_READER,
        "List or show the catalog's services and endpoints.",
        ("GET", f"{V3}/services"),
        ("GET", f"{V3}/services/{{service_id}}"),
        ("GET", f"{V3}/endpoints"),
        ("GET", f"{V3}/endpoints/{{endpoint_id}}"),
    ),
    documented(
        "identity:manage_catalog",
        ADMIN,
        "Create, update or delete the catalog's services and endpoints.",
        ("POST", f"{V3}/services"),
        ("PATCH", f"{V3}/services/{{service_id}}"),
        ("DELETE", f"{V3}/services/{{service_id}}"),
        ("POST", f"{V3}/endpoints"),
        ("PATCH", f"{V3}/endpoints/{{endpoint_id}}"),
        ("DELETE", f"{V3}/endpoints/{{endpoint_id}}"),
    ),
    documented(
        "identity:get_endpoint_filter",
        ADMIN_OR_SYSTEM_READER,
        "Read endpoint groups and the endpoints and endpoint groups of projects (OS-EP-FILTER).",
        ("GET", f"{EP}/endpoint_groups"),
        ("GET", f"{EP}/endpoint_groups/{{endpoint_group_id}}"),
        ("HEAD", f"{EP}/endpoint_groups/{{endpoint_group_id}}"),
        ("GET", f"{EP}/endpoint_groups/{{endpoint_group_id}}/endpoints"),
        ("GET", f"{EP}/endpoint_groups/{{endpoint_group_id}}/projects"),
        ("GET", f"{EP}/endpoint_groups/{{endpoint_group_id}}/projects/{{project_id}}"),
        ("HEAD", f"{EP}/endpoint_groups/{{endpoint_group_id}}/projects/{{project_id}}"),
        ("GET", f"{EP}/projects/{{project_id}}/endpoint_groups"),
        ("GET", f"{EP}/projects/{{project_id}}/endpoints"),
        ("GET", f"{EP}/projects/{{project_id}}/endpoints/{{endpoint_id}}"),
        ("HEAD", f"{EP}/projects/{{project_id}}/endpoints/{{endpoint_id}}"),
        ("GET", f"{EP}/endpoints/{{endpoint_id}}/projects"),
    ),
    documented(
        "identity:manage_endpoint_filter",
        ADMIN,
        "Create, update or delete endpoint groups; associate endpoints and endpoint groups with projects.",
        ("POST", f"{EP}/endpoint_groups"),
        ("PATCH", f"{EP}/endpoint_groups/{{endpoint_group_id}}"),
        ("DELETE", f"{EP}/endpoint_groups/{{endpoint_group_id}}"),
        ("PUT", f"{EP}/endpoint_groups/{{endpoint_group_id}}/projects/{{project_id}}"),
        ("DELETE", f"{EP}/endpoint_groups/{{endpoint_group_id}}/projects/{{project_id}}"),
        ("PUT", f"{EP}/projects/{{project_id}}/endpoints/{{endpoint_id}}"),
        ("DELETE", f"{EP}/projects/{{project_id}}/endpoints/{{endpoint_id}}"),
    ),
    documented(
        "identity:get_registered_limits",
        ANYONE,
        "List or show registered limits (every service reads them).",
        ("GET", f"{V3}/registered_limits"),
        ("GET", f"{V3}/registered_limits/{{limit_id}}"),
    ),
    documented(
        "identity:manage_registered_limits",
        ADMIN,
        "Create, update or delete registered limits.",
        ("POST", f"{V3}/registered_limits"),
        ("PATCH", f"{V3}/registered_limits/{{limit_id}}"),
        ("DELETE", f"{V3}/registered_limits/{{limit_id}}"),
    ),
    documented(
        "identity:get_limit_model",
        ANYONE,
        "Show the limit enforcement model.",
        ("GET", f"{V3}/limits/model"),
    ),
    documented(
        "identity:get_limits",
        ANYONE,
        "List or show limits: everyone's for admins and system readers, one's own project's otherwise.",
        ("GET", f"{V3}/limits"),
        ("GET", f"{V3}/limits/{{limit_id}}"),
    ),
    documented("identity:list_every_limit", ADMIN_OR_SYSTEM_READER, "See the limits of every project."),
    documented(
        "identity:manage_limits",
        ADMIN,
        "Create, update or delete project and domain limits.",
        ("POST", f"{V3}/limits"),
        ("PATCH", f"{V3}/limits/{{limit_id}}"),
        ("DELETE", f"{V3}/limits/{{limit_id}}"),
    ),
    documented(
        "identity:get_policies",
        ADMIN_OR_SYSTEM_READER,
        "List or show stored policy documents.",
        ("GET", f"{V3}/policies"),
        ("GET", f"{V3}/policies/{{policy_id}}"),
    ),
    documented(
        "identity:manage_policies",
        ADMIN,
        "Create, update or delete stored policy documents.",
        ("POST", f"{V3}/policies"),
        ("PATCH", f"{V3}/policies/{{policy_id}}"),
        ("DELETE", f"{V3}/policies/{{policy_id}}"),
    ),
    documented(
        "identity:create_trust",
        ANYONE,
        "Create a trust (its trustor must be the caller, checked by the service).",
        ("POST", f"{V3}/OS-TRUST/trusts"),
    ),
    documented(
        "identity:list_trusts",
        ADMIN,
        "List every trust (anyone lists the trusts naming them as trustor or trustee).",
        ("GET", f"{V3}/OS-TRUST/trusts"),
    ),
    documented(
        "identity:get_trust",
        ADMIN | Matches("user_id", "trustor_user_id") | Matches("user_id", "trustee_user_id"),
        "Show a trust and its roles: admins, its trustor or trustee.",
        ("GET", f"{V3}/OS-TRUST/trusts/{{trust_id}}"),
        ("GET", f"{V3}/OS-TRUST/trusts/{{trust_id}}/roles"),
        ("GET", f"{V3}/OS-TRUST/trusts/{{trust_id}}/roles/{{role_id}}"),
        ("HEAD", f"{V3}/OS-TRUST/trusts/{{trust_id}}/roles/{{role_id}}"),
    ),
    documented(
        "identity:delete_trust",
        ADMIN | Matches("user_id", "trustor_user_id"),
        "Delete a trust: admins or its trustor.",
        ("DELETE", f"{V3}/OS-TRUST/trusts/{{trust_id}}"),
    ),
    documented(
        "identity:get_federation",
        ADMIN_OR_SYSTEM_READER,
        "List or show identity providers, their protocols, mappings and service providers.",
        ("GET", f"{FED}/identity_providers"),
        ("GET", f"{FED}/identity_providers/{{idp_id}}"),
        ("GET", f"{FED}/identity_providers/{{idp_id}}/protocols"),
        ("GET", f"{FED}/identity_providers/{{idp_id}}/protocols/{{protocol_id}}"),
        ("GET", f"{FED}/mappings"),
        ("GET", f"{FED}/mappings/{{mapping_id}}"),
        ("GET", f"{FED}/service_providers"),
        ("GET", f"{FED}/service_providers/{{sp_id}}"),
    ),
    documented(
        "identity:manage_federation",
        ADMIN,
        "Create, update or delete identity providers, their protocols, mappings and service providers.",
        *[
            (method, path)
            for path in (
                f"{FED}/identity_providers/{{idp_id}}",
                f"{FED}/identity_providers/{{idp_id}}/protocols/{{protocol_id}}",
                f"{FED}/mappings/{{mapping_id}}",
                f"{FED}/service_providers/{{sp_id}}",
            )
            for method in ("PUT", "PATCH", "DELETE")
        ],
    ),
    documented(
        "identity:get_domain_config",
        ADMIN_OR_SYSTEM_READER,
        "Show a domain's configuration (whole, a group, an option) or the defaults.",
        ("GET", f"{V3}/domains/{{domain_id}}/config"),
        ("GET", f"{V3}/domains/{{domain_id}}/config/{{group}}"),
        ("GET", f"{V3}/domains/{{domain_id}}/config/{{group}}/{{option}}"),
        ("GET", f"{V3}/domains/config/default"),
        ("GET", f"{V3}/domains/config/{{group}}/default"),
        ("GET", f"{V3}/domains/config/{{group}}/{{option}}/default"),
    ),
    documented(
        "identity:manage_domain_config",
        ADMIN,
        "Create, update or delete a domain's configuration.",
        ("PUT", f"{V3}/domains/{{domain_id}}/config"),
        ("PATCH", f"{V3}/domains/{{domain_id}}/config"),
        ("DELETE", f"{V3}/domains/{{domain_id}}/config"),
        ("PATCH", f"{V3}/domains/{{domain_id}}/config/{{group}}"),
        ("DELETE", f"{V3}/domains/{{domain_id}}/config/{{group}}"),
        ("PATCH", f"{V3}/domains/{{domain_id}}/config/{{group}}/{{option}}"),
        ("DELETE", f"{V3}/domains/{{domain_id}}/config/{{group}}/{{option}}"),
    ),
    documented(
        "identity:list_catalog", ANYONE, "The catalog of the caller's token.", ("GET", f"{V3}/auth/catalog")
    ),
    documented(
        "identity:get_auth_projects",
        ANYONE,
        "The projects the caller's user may scope a token to.",
        ("GET", f"{V3}/auth/projects"),
    ),
    documented(
        "identity:get_auth_domains",
        ANYONE,
        "The domains the caller's user may scope a token to.",
        ("GET", f"{V3}/auth/domains"),
    ),
    documented(
        "identity:get_auth_system",
        ANYONE,
        "Whether the caller's user may scope a token to the system.",
        ("GET", f"{V3}/auth/system"),
    ),
    documented(
        "identity:application_credentials",
        OWNER,
        "A user's own application credentials and their access rules (not even an admin reads another's).",
        ("POST", APPLICATION_CREDENTIALS),
        ("GET", APPLICATION_CREDENTIALS),
        ("GET", f"{APPLICATION_CREDENTIALS}/{{credential_id}}"),
        ("DELETE", f"{APPLICATION_CREDENTIALS}/{{credential_id}}"),
        ("GET", ACCESS_RULES),
        ("GET", f"{ACCESS_RULES}/{{rule_id}}"),
        ("DELETE", f"{ACCESS_RULES}/{{rule_id}}"),
    ),
    documented(
        "identity:ec2_credentials",
        ADMIN_OR_OWNER,
        "A user's EC2 credentials: admins, or the user itself.",
        ("POST", EC2_CREDENTIALS),
        ("GET", EC2_CREDENTIALS),
        ("GET", f"{EC2_CREDENTIALS}/{{access}}"),
        ("DELETE", f"{EC2_CREDENTIALS}/{{access}}"),
    ),
)
