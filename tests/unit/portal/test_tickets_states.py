"""The ticket state table: every status answers both sides, replies hand the ticket to the other side, and
a customer may only close."""

from __future__ import annotations

import pytest

from overcast import errors
from overcast.portal.tickets_states import (
    AFTER_REPLY,
    CLOSED,
    OPEN,
    STATUSES,
    TRANSITIONS,
    WAITING_FOR_CUSTOMER,
    WAITING_FOR_SUPPORT,
    Side,
    after_reply,
    check_change,
)


def test_every_status_and_side_has_an_entry_in_both_tables() -> None:
    pairs = {(status, side) for status in STATUSES for side in Side}
    assert set(AFTER_REPLY) == pairs
    assert set(TRANSITIONS) == pairs
    assert all(target in STATUSES for targets in TRANSITIONS.values() for target in targets)


@pytest.mark.parametrize("status", STATUSES)
def test_a_reply_hands_the_ticket_to_the_other_side(status: str) -> None:
    assert after_reply(status, Side.CUSTOMER) == WAITING_FOR_SUPPORT
    assert after_reply(status, Side.STAFF) == WAITING_FOR_CUSTOMER


@pytest.mark.parametrize("status", [OPEN, WAITING_FOR_CUSTOMER, WAITING_FOR_SUPPORT])
def test_a_customer_may_close_and_nothing_else(status: str) -> None:
    assert check_change(status, CLOSED, Side.CUSTOMER) == CLOSED
    for other in set(STATUSES) - {CLOSED, status}:
        with pytest.raises(errors.Forbidden, match="only close"):
            check_change(status, other, Side.CUSTOMER)


def test_a_closed_ticket_is_reopened_by_staff_or_by_a_reply_not_by_a_customers_patch() -> None:
    assert check_change(CLOSED, OPEN, Side.STAFF) == OPEN
    with pytest.raises(errors.Conflict):
        check_change(CLOSED, WAITING_FOR_SUPPORT, Side.STAFF)
    with pytest.raises(errors.Forbidden):
        check_change(CLOSED, OPEN, Side.CUSTOMER)


def test_asking_for_the_current_status_changes_nothing() -> None:
    assert check_change(CLOSED, CLOSED, Side.CUSTOMER) == CLOSED
    assert check_change(OPEN, OPEN, Side.STAFF) == OPEN


@pytest.mark.parametrize("wanted", ["resolved", None, 3, "Closed"])
def test_an_unknown_status_is_a_400(wanted: object) -> None:
    with pytest.raises(errors.BadRequest, match="Invalid status"):
        check_change(OPEN, wanted, Side.STAFF)
