"""A support ticket's statuses and what moves it between them: the one table both sides read.

A reply moves the ticket to the side that must answer next (a customer's to support, support's to the
customer), a closed ticket included: answering a closed ticket reopens it, as a help desk's customer
expects. Internal notes move nothing. Explicit changes (PATCH) follow TRANSITIONS; a customer may only
close.
"""

from __future__ import annotations

from enum import StrEnum

from overcast import errors


class Side(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


OPEN = "open"
WAITING_FOR_CUSTOMER = "waiting-for-customer"
WAITING_FOR_SUPPORT = "waiting-for-support"
CLOSED = "closed"
STATUSES = (OPEN, WAITING_FOR_CUSTOMER, WAITING_FOR_SUPPORT, CLOSED)

# The status a reply from each side leaves the ticket in, by the status it finds.
AFTER_REPLY: dict[tuple[str, Side], str] = {
    (OPEN, Side.CUSTOMER): WAITING_FOR_SUPPORT,
    (OPEN, Side.STAFF): WAITING_FOR_CUSTOMER,
    (WAITING_FOR_CUSTOMER, Side.CUSTOMER): WAITING_FOR_SUPPORT,
    (WAITING_FOR_CUSTOMER, Side.STAFF): WAITING_FOR_CUSTOMER,
    (WAITING_FOR_SUPPORT, Side.CUSTOMER): WAITING_FOR_SUPPORT,
    (WAITING_FOR_SUPPORT, Side.STAFF): WAITING_FOR_CUSTOMER,
    (CLOSED, Side.CUSTOMER): WAITING_FOR_SUPPORT,
    (CLOSED, Side.STAFF): WAITING_FOR_CUSTOMER,
}

# Explicit status changes: from a status, which statuses each side may set.
TRANSITIONS: dict[tuple[str, Side], frozenset[str]] = {
    (OPEN, Side.CUSTOMER): frozenset({CLOSED}),
    (OPEN, Side.STAFF): frozenset({WAITING_FOR_CUSTOMER, WAITING_FOR_SUPPORT, CLOSED}),
    (WAITING_FOR_CUSTOMER, Side.CUSTOMER): frozenset({CLOSED}),
    (WAITING_FOR_CUSTOMER, Side.STAFF): frozenset({OPEN, WAITING_FOR_SUPPORT, CLOSED}),
    (WAITING_FOR_SUPPORT, Side.CUSTOMER): frozenset({CLOSED}),
    (WAITING_FOR_SUPPORT, Side.STAFF): frozenset({OPEN, WAITING_FOR_CUSTOMER, CLOSED}),
    (CLOSED, Side.CUSTOMER): frozenset(),
    (CLOSED, Side.STAFF): frozenset({OPEN}),
}


def after_reply(status: str, side: Side) -> str:
    return AFTER_REPLY[(status, side)]


def check_change(status: str, wanted: object, side: Side) -> str:
    """The new status if `side` may move a ticket from `status` to `wanted`; a 400 or 409 otherwise."""
    if wanted not in STATUSES:
        raise errors.BadRequest(f"Invalid status {wanted!r}: one of {', '.join(STATUSES)}.")
    assert isinstance(wanted, str)
    if wanted == status:
        return status  # asking again for what is done already changes nothing
    if wanted in TRANSITIONS[(status, side)]:
        return wanted
    if side is Side.CUSTOMER and wanted != CLOSED:
        raise errors.Forbidden("A customer may only close a ticket; reply to it to reopen it.")
    raise errors.Conflict(f"A ticket that is {status} cannot be made {wanted}.")
