"""Support ticket rules, enforced by TicketsAPI (overcast.portal.tickets); overcast.portal.policies lists
them with the portal's own.

Customers act through a project-scoped token: the target's project_id is the caller's project when that
project is billed to the ticket's account (another account's ticket is a 404 before any rule). Support
staff hold the admin role or the `support` role, and see every account's tickets.
"""

from __future__ import annotations

from overcast.policy import ADMIN, PROJECT_MEMBER, PROJECT_READER, DocumentedRule, HasRole, documented

V1 = "/portal/v1"
TICKETS = f"{V1}/tickets"
TICKET = f"{TICKETS}/{{ticket_id}}"
ATTACHMENTS = f"{TICKET}/messages/{{message_id}}/attachments"
SUPPORT_STAFF = f"{V1}/support-staff"

SUPPORT_ROLE = "support"
STAFF = ADMIN | HasRole(SUPPORT_ROLE)

TICKET_STAFF = "portal:tickets:staff"
TICKET_READ = "portal:tickets:read"
TICKET_CREATE = "portal:tickets:create"
TICKET_REPLY = "portal:tickets:reply"
TICKET_UPDATE = "portal:tickets:update"

RULES: tuple[DocumentedRule, ...] = (
    documented(
        TICKET_STAFF,
        STAFF,
        "Support staff: see every account's tickets and internal notes, write internal notes, assign "
        "tickets and set any status, list the support staff.",
        ("GET", SUPPORT_STAFF),
    ),
    documented(
        TICKET_READ,
        STAFF | PROJECT_READER,
        "List and show the tickets of the caller's billing account (staff: every account's), and download "
        "their attachments.",
        ("GET", TICKETS),
        ("GET", TICKET),
        ("GET", f"{ATTACHMENTS}/{{attachment_id}}"),
    ),
    documented(
        TICKET_CREATE,
        STAFF | PROJECT_MEMBER,
        "Open a ticket for the caller's billing account.",
        ("POST", TICKETS),
    ),
    documented(
        TICKET_REPLY,
        STAFF | PROJECT_MEMBER,
        "Reply to a ticket and attach files to one's replies.",
        ("POST", f"{TICKET}/messages"),
        ("POST", ATTACHMENTS),
    ),
    documented(
        TICKET_UPDATE,
        STAFF | PROJECT_MEMBER,
        "Change a ticket's status or assignee (a customer may only close it).",
        ("PATCH", TICKET),
    ),
)
