"""The queue's metrics: tickets per status, and how long the oldest ticket waiting on support has waited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest

from overcast.db import Database
from overcast.db.models.billing import BillingAccount
from overcast.db.models.portal_tickets import Ticket
from overcast.portal.tickets_metrics import TicketsCollector

NOW = datetime(2031, 3, 1, 12, tzinfo=UTC)


def _ticket(number: int, status: str, last_message_at: datetime) -> Ticket:
    return Ticket(id=f"t{number}", account_id="a1", project_id="p1", opener_user_id="u", opener_name="u",
                  subject="s", category="other", status=status, last_message_at=last_message_at,
                  created_at=last_message_at, updated_at=last_message_at)  # fmt: skip


def _scrape(db: Database) -> str:
    registry = CollectorRegistry()
    registry.register(TicketsCollector(db, lambda: NOW))
    return generate_latest(registry).decode()


def test_an_empty_queue_reports_zeros(db: Database) -> None:
    scraped = _scrape(db)
    assert 'overcast_portal_tickets{status="open"} 0.0' in scraped
    assert "overcast_portal_ticket_oldest_wait_seconds 0.0" in scraped


def test_counts_by_status_and_the_oldest_wait_on_support(db: Database) -> None:
    with db.writer() as session:
        session.add(BillingAccount(id="a1", name="a", currency="EUR", price_list="p", mode="postpaid",
                                   opened_at=NOW))  # fmt: skip
        session.flush()
        session.add_all([
            _ticket(1, "open", NOW - timedelta(minutes=5)),
            _ticket(2, "waiting-for-support", NOW - timedelta(hours=2)),
            _ticket(3, "waiting-for-customer", NOW - timedelta(days=3)),  # waits on the customer: not counted
            _ticket(4, "closed", NOW - timedelta(days=9)),
        ])  # fmt: skip
    scraped = _scrape(db)
    for status, count in (
        ("open", 1),
        ("waiting-for-support", 1),
        ("waiting-for-customer", 1),
        ("closed", 1),
    ):
        assert f'overcast_portal_tickets{{status="{status}"}} {count}.0' in scraped
    assert "overcast_portal_ticket_oldest_wait_seconds 7200.0" in scraped
