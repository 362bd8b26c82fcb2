"""The support queue at scale: pages of 100 tickets out of 10,000 (100 accounts), as the operators' queue
and a customer's list read them through TicketsAPI, each against a bare SELECT of the same 100 rows.

    .venv/bin/python bench/tickets.py [--tickets 10000] [--rounds 50]

The floor is the query alone (newest 100 from the index, ORM rows, no views); a page also finds the
accounts' names and renders each ticket as the API answers it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.billing import BillingAccount, BillingAccountProject
from overcast.db.models.portal_tickets import Ticket, TicketMessage
from overcast.mail import MailFolder
from overcast.portal.outbox import Outbox
from overcast.portal.tickets import TicketsAPI
from overcast.portal.tickets_states import STATUSES

ACCOUNTS = 100
START = datetime(2031, 1, 1, tzinfo=UTC)
STAFF = RequestContext(user_id="staff", user_name="staff", project_id="ops", roles=("support",))
CUSTOMER = RequestContext(user_id="c", user_name="c", project_id="project-7", roles=("member", "reader"))


def seed(db: Database, tickets: int) -> None:
    with db.writer() as session:
        for number in range(ACCOUNTS):
            session.add(BillingAccount(id=f"account-{number}", name=f"customer {number}", currency="EUR",
                                       price_list="standard", mode="postpaid", opened_at=START))  # fmt: skip
        session.flush()
        for number in range(ACCOUNTS):
            session.add(BillingAccountProject(project_id=f"project-{number}", account_id=f"account-{number}"))
        for number in range(tickets):
            at = START + timedelta(seconds=number)
            ticket = Ticket(
                id=str(uuid.uuid4()), account_id=f"account-{number % ACCOUNTS}",
                project_id=f"project-{number % ACCOUNTS}",
                opener_user_id="c", opener_name="c", subject=f"ticket {number}", category="technical",
                status=STATUSES[number % len(STATUSES)], last_message_at=at, created_at=at, updated_at=at,
            )  # fmt: skip
            session.add(ticket)
            session.add(TicketMessage(id=str(uuid.uuid4()), ticket_id=ticket.id, author_user_id="c",
                                      author_name="c", staff=False, internal=False, body="x" * 200,
                                      created_at=at, position=1))  # fmt: skip


def milliseconds(work: Callable[[], object], rounds: int) -> float:
    work()
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(f"sqlite:///{scratch}/bench.db")
        db.upgrade()
        seed(db, args.tickets)
        clock = lambda: datetime.now(UTC)  # noqa: E731
        api = TicketsAPI(
            db, Outbox(db, MailFolder(Path(scratch) / "mail"), clock), clock, "http://x/dashboard"
        )

        def floor() -> None:
            with db.reader() as session:
                list(session.scalars(select(Ticket).order_by(Ticket.created_at.desc()).limit(100)))

        second_page = api.list_tickets(STAFF, limit="100")[-1]["id"]
        rows = [
            ("queue, newest 100", lambda: api.list_tickets(STAFF, limit="100")),
            (
                "queue, status=waiting-for-support",
                lambda: api.list_tickets(STAFF, status="waiting-for-support"),
            ),
            ("queue, second page (marker)", lambda: api.list_tickets(STAFF, limit="100", marker=second_page)),
            ("a customer's list (its 100)", lambda: api.list_tickets(CUSTOMER)),
        ]
        base = milliseconds(floor, args.rounds)
        print(f"{args.tickets} tickets in {ACCOUNTS} accounts, median of {args.rounds} rounds")
        print(f"{'page':40} {'ms':>8} {'x floor':>8}")
        print(f"{'floor: SELECT newest 100 (ORM rows)':40} {base:8.2f} {1.0:8.2f}")
        for label, work in rows:
            took = milliseconds(work, args.rounds)
            print(f"{label:40} {took:8.2f} {took / base:8.2f}")
        db.dispose()


if __name__ == "__main__":
    main()
