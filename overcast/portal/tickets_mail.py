"""The e-mails a ticket sends: to support when a customer writes, to the customer when support answers
or closes it.

Each names the ticket in its subject and an `X-Overcast-Ticket` header (so mail clients thread them and a
relay can route them) and links to the ticket's page for its reader's side of the dashboard. Bodies are
plain text: whatever the ticket's text holds arrives as text, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from overcast.mail import Mail

TICKET_HEADER = "X-Overcast-Ticket"


@dataclass(frozen=True)
class TicketFacts:
    """What every mail about a ticket shows."""

    ticket_id: str
    subject: str
    category: str
    account_name: str
    reference: str | None


def _subject(facts: TicketFacts) -> str:
    # One line, whatever the customer typed: a header cannot carry a line break.
    subject = " ".join(facts.subject.split())
    return f"[Ticket {facts.ticket_id[:8]}] {subject}"


def _mail(facts: TicketFacts, to: str, subject: str, body: str, reply_to: str | None = None) -> Mail:
    headers = {TICKET_HEADER: facts.ticket_id}
    return Mail(to=(to,), subject=subject, body=body, reply_to=reply_to, headers=headers)


def to_support(
    facts: TicketFacts, to: str, author: str, body: str, link: str, *, opened: bool, reply_to: str | None
) -> Mail:
    what = "opened a ticket" if opened else "replied to a ticket"
    about = f"About: {facts.reference}\n" if facts.reference else ""
    text = (
        f"{author} ({facts.account_name}) {what}.\n\n"
        f"Category: {facts.category}\n{about}\n"
        f"{body}\n\n"
        f"Answer it at {link}\n"
    )
    return _mail(facts, to, _subject(facts), text, reply_to)


def to_customer(facts: TicketFacts, to: str, author: str, body: str, link: str, reply_to: str | None) -> Mail:
    text = (
        f"{author} of the support team answered your ticket.\n\n"
        f"{body}\n\n"
        f"Read the whole conversation and reply at {link}\n"
    )
    return _mail(facts, to, _subject(facts), text, reply_to)


def closed_to_customer(facts: TicketFacts, to: str, author: str, link: str) -> Mail:
    text = (
        f"{author} of the support team closed your ticket.\n\n"
        f"If something is still wrong, reply to it at {link} and it opens again.\n"
    )
    return _mail(facts, to, f"{_subject(facts)} (closed)", text)
