"""Portal policy rules, enforced by PortalAPI (overcast.portal.service); the ticket rules are
tickets_policies.py's (the policy table loads both modules).

Customers act through a project-scoped token (targets carry the project); operators hold the admin
role. The public calls (sign-up, verification, password reset, accepting an invitation) have no rule:
their token is the link's."""

from __future__ import annotations

from overcast.policy import ADMIN, ADMIN_OR_READER, OWNER, PROJECT_MEMBER, DocumentedRule, documented

V1 = "/portal/v1"
PLANS = f"{V1}/plans"
PLAN = f"{PLANS}/{{name}}"
ACCOUNTS = f"{V1}/accounts"

PLANS_READ = "portal:plans:read"
PLANS_MANAGE = "portal:plans:manage"
ACCOUNTS_READ = "portal:accounts:read"
ACCOUNTS_MANAGE = "portal:accounts:manage"
SETTINGS_UPDATE = "portal:settings:update"
CODES_CREATE = "portal:invitation_codes:create"
ACCOUNT_SHOW = "portal:account:show"
PROFILE_UPDATE = "portal:profile:update"
ACCOUNT_RENAME = "portal:account:rename"
MEMBERS_LIST = "portal:members:list"
INVITATIONS_CREATE = "portal:invitations:create"

RULES: tuple[DocumentedRule, ...] = (
    documented(PLANS_READ, ADMIN, "List and show plans.", ("GET", PLANS), ("GET", PLAN)),
    documented(
        PLANS_MANAGE,
        ADMIN,
        "Create, change and delete plans.",
        ("POST", PLANS),
        ("PATCH", PLAN),
        ("DELETE", PLAN),
    ),
    documented(
        ACCOUNTS_READ,
        ADMIN,
        "List customer accounts and their portal status.",
        ("GET", ACCOUNTS),
        ("GET", f"{ACCOUNTS}/{{account_id}}"),
    ),
    documented(
        ACCOUNTS_MANAGE,
        ADMIN,
        "Suspend and resume customer accounts.",
        ("POST", f"{ACCOUNTS}/{{account_id}}/action"),
    ),
    documented(
        SETTINGS_UPDATE, ADMIN, "Switch sign-up on or off, or to invitations only.", ("PUT", f"{V1}/settings")
    ),
    documented(CODES_CREATE, ADMIN, "Make single-use invitation codes.", ("POST", f"{V1}/invitation-codes")),
    documented(
        ACCOUNT_SHOW,
        ADMIN_OR_READER | PROJECT_MEMBER,
        "Show the billing account of the token's project, the user and their projects in it.",
        ("GET", f"{V1}/account"),
    ),
    documented(
        PROFILE_UPDATE,
        OWNER,
        "Ask to change one's own e-mail address (confirmed by a link mailed to it) and, as a member, "
        "rename the account.",
        ("PATCH", f"{V1}/account/profile"),
    ),
    documented(
        ACCOUNT_RENAME,
        ADMIN | PROJECT_MEMBER,
        "Rename the billing account of the token's project (the profile's name).",
    ),
    documented(
        MEMBERS_LIST,
        ADMIN_OR_READER | PROJECT_MEMBER,
        "List a project's members and their roles.",
        ("GET", f"{V1}/projects/{{project_id}}/members"),
    ),
    documented(
        INVITATIONS_CREATE,
        ADMIN | PROJECT_MEMBER,
        "Invite someone by e-mail to a project, as member or reader.",
        ("POST", f"{V1}/projects/{{project_id}}/invitations"),
    ),
)
