"""Ticket events on the bus (`portal.ticket.create`, `portal.ticket.reply`, `portal.ticket.status`), for
metering, monitoring or an operator's chat bridge. They are sent after the change committed, never waited
on, and are the cloud's other notifications' shape: ids and `tenant_id` (the ticket's project) at the top of
the payload, times as ISO text. A reply's event says whether it was an internal note (`internal`) and
carries no message text: listeners count and route, the conversation stays in the portal.
"""

from __future__ import annotations

from typing import Any

from overcast.bus.notify import Notifier
from overcast.context import RequestContext
from overcast.db.models.portal_tickets import Ticket, TicketMessage

CREATE = "portal.ticket.create"
REPLY = "portal.ticket.reply"
STATUS = "portal.ticket.status"


def ticket_payload(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id, "tenant_id": ticket.project_id, "account_id": ticket.account_id,
        "user_id": ticket.opener_user_id, "category": ticket.category, "status": ticket.status,
        "assignee_user_id": ticket.assignee_user_id, "reference_type": ticket.reference_type,
        "reference_id": ticket.reference_id, "created_at": ticket.created_at,
        "updated_at": ticket.updated_at, "closed_at": ticket.closed_at,
    }  # fmt: skip


class TicketEvents:
    """Builds each event's payload while the transaction's rows are at hand, sends it once committed."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    @staticmethod
    def created(ticket: Ticket) -> tuple[str, dict[str, Any]]:
        return CREATE, ticket_payload(ticket)

    @staticmethod
    def replied(ticket: Ticket, message: TicketMessage) -> tuple[str, dict[str, Any]]:
        return REPLY, {
            **ticket_payload(ticket),
            "message_id": message.id,
            "author_user_id": message.author_user_id,
            "staff": message.staff,
            "internal": message.internal,
        }

    @staticmethod
    def status_changed(
        ticket: Ticket, old_status: str, actor_user_id: str | None
    ) -> tuple[str, dict[str, Any]]:
        return STATUS, {**ticket_payload(ticket), "old_status": old_status, "changed_by": actor_user_id}

    def send(self, ctxt: RequestContext, events: list[tuple[str, dict[str, Any]]]) -> None:
        for event_type, payload in events:
            self.notifier.info(ctxt, event_type, payload)
