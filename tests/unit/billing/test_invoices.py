"""Invoices on a real database: drafts re-rated, issued ones immutable, late usage billed as adjustments,
the state machine's compare-and-swap, numbering, balances, the credit limit and the payment webhook."""

from __future__ import annotations

import gc
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from overcast import errors
from overcast.billing import accounts, balances, invoices, prices
from overcast.context import RequestContext
from overcast.db import Database
from overcast.metering.usage import UsageSlice

MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
MAY = datetime(2026, 5, 1, tzinfo=UTC)
SMALL = {"flavor_name": "m1.small", "flavor_id": "1", "vcpus": "1", "memory_mb": "512"}


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class RecordedUsage:
    """An in-process usage source: slices as metering would return them, clipped to the window and now."""

    clock: Clock
    recorded: list[UsageSlice] = field(default_factory=list)

    def slices(
        self, start: datetime, end: datetime, project_ids: Collection[str] | None = None
    ) -> Iterator[UsageSlice]:
        end = min(end, self.clock())
        for usage in self.recorded:
            low, high = max(usage.start, start), min(usage.end, end)
            if low < high and (project_ids is None or usage.project_id in project_ids):
                yield UsageSlice(
                    usage.project_id, usage.resource_type, usage.resource_id, usage.metric, low, high,
                    usage.quantity, usage.attributes,
                )  # fmt: skip

    def run(self, server: str, start: datetime, hours: int, project: str = "p1") -> None:
        self.recorded.append(
            UsageSlice(
                project,
                "instance",
                server,
                "instance.running",
                start,
                start + timedelta(hours=hours),
                Decimal(1),
                SMALL,
            )
        )


@dataclass
class Billing:
    db: Database
    clock: Clock
    usage: RecordedUsage
    invoicer: invoices.Invoicer
    account_id: str


@pytest.fixture
def billing(db: Database) -> Billing:
    clock = Clock(MARCH)
    usage = RecordedUsage(clock)

    def setup(session: Session) -> str:
        prices.create(
            session, {"name": "standard", "currency": "EUR", "rates": [
                {"metric": "instance.running", "unit": "hour", "price": "0.10"}]}, MARCH - timedelta(days=30),
        )  # fmt: skip
        account = accounts.create(
            session, {"name": "acme", "currency": "EUR", "price_list": "standard", "credit_limit": "5"}, MARCH
        )
        accounts.add_project(session, account, "p1", None)
        return account.id

    account_id = db.write(setup)
    return Billing(db, clock, usage, invoices.Invoicer(db, usage, clock, "month", 3), account_id)


def lines(billing: Billing, invoice_id: str) -> list[tuple[str, str, str]]:
    with billing.db.reader() as session:
        return [(line.kind, line.quantity, line.amount) for line in invoices.lines_of(session, invoice_id)]


def test_a_draft_is_re_rated_until_issued_then_never_changes(billing: Billing) -> None:
    billing.usage.run("s1", MARCH, 10)
    billing.clock.now = MARCH + timedelta(days=2)
    draft = billing.invoicer.generate(billing.account_id, MARCH)
    assert (draft.status, draft.total, draft.number) == ("draft", "1.00", None)
    billing.usage.run("s2", MARCH + timedelta(days=3), 5)
    billing.clock.now = APRIL + timedelta(hours=1)
    again = billing.invoicer.generate(billing.account_id, MARCH)
    assert (again.id, again.total) == (draft.id, "1.50")
    issued = billing.invoicer.move(draft.id, "issue")
    assert (issued.status, issued.number) == ("issued", "INV-000001")
    billing.usage.run("s3", MARCH + timedelta(days=4), 7)  # a late event for the closed month
    assert billing.invoicer.generate(billing.account_id, MARCH).total == "1.50"
    assert lines(billing, draft.id) == [("usage", "10", "1.00"), ("usage", "5", "0.50")]


def test_stored_lines_keep_their_times_and_values_as_rated(billing: Billing) -> None:
    billing.usage.run("s1", MARCH + timedelta(hours=1, seconds=7), 10)
    billing.usage.run("s2", MARCH + timedelta(days=3), 5)
    billing.clock.now = APRIL + timedelta(hours=1)
    draft = billing.invoicer.generate(billing.account_id, MARCH)
    with billing.db.reader() as session:
        stored = [
            (line.position, line.resource_id, line.period_start, line.start, line.end, line.unit_price)
            for line in invoices.lines_of(session, draft.id)
        ]
    assert stored == [
        (
            1,
            "s1",
            MARCH,
            MARCH + timedelta(hours=1, seconds=7),
            MARCH + timedelta(hours=11, seconds=7),
            "0.10",
        ),
        (2, "s2", MARCH, MARCH + timedelta(days=3), MARCH + timedelta(days=3, hours=5), "0.10"),
    ]
    assert all(time is not None and time.tzinfo == UTC for _, _, *times, _ in stored for time in times)


def test_the_collector_pause_is_shared_by_overlapping_holders_and_restores_the_collector() -> None:
    pause = invoices.CollectorPause()
    assert gc.isenabled()
    pause.__enter__()
    pause.__enter__()
    pause.__exit__(None, None, None)
    assert not gc.isenabled()  # one holder still inside
    pause.__exit__(None, None, None)
    assert gc.isenabled()
    gc.disable()
    try:
        with pause:
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_late_usage_of_an_issued_month_is_an_adjustment_on_the_next_invoice_once(billing: Billing) -> None:
    billing.usage.run("s1", MARCH, 10)
    billing.clock.now = APRIL
    march = billing.invoicer.generate(billing.account_id, MARCH)
    billing.invoicer.move(march.id, "issue")
    billing.usage.run("s2", MARCH + timedelta(days=20), 3)  # arrives late
    billing.usage.run("s1", APRIL, 20)
    billing.clock.now = MAY
    april = billing.invoicer.generate(billing.account_id, APRIL)
    assert lines(billing, april.id) == [("usage", "20", "2.00"), ("adjustment", "3", "0.30")]
    assert april.total == "2.30"
    billing.invoicer.move(april.id, "issue")
    # Billed once: May's invoice finds nothing more to adjust.
    may = billing.invoicer.generate(billing.account_id, MAY)
    assert lines(billing, may.id) == []
    assert billing.invoicer.generate(billing.account_id, MARCH).total == "1.00"


def test_issue_waits_for_the_end_of_the_period_and_each_transition_is_a_compare_and_swap(
    billing: Billing,
) -> None:
    billing.clock.now = MARCH + timedelta(days=1)
    draft = billing.invoicer.generate(billing.account_id, MARCH)
    with pytest.raises(errors.Conflict, match="once the period is over"):
        billing.invoicer.move(draft.id, "issue")
    with pytest.raises(errors.Conflict, match="is draft; it cannot be paid"):
        billing.invoicer.move(draft.id, "pay")
    billing.clock.now = APRIL
    billing.invoicer.move(draft.id, "issue")
    with pytest.raises(errors.Conflict, match="is issued; it cannot be issued"):
        billing.invoicer.move(draft.id, "issue")
    assert billing.invoicer.move(draft.id, "pay").status == "paid"
    with pytest.raises(errors.Conflict, match="is paid; it cannot be voided"):
        billing.invoicer.move(draft.id, "void")
    with pytest.raises(errors.BadRequest):
        billing.invoicer.move(draft.id, "refund")


def test_numbers_follow_issue_order_without_gaps(billing: Billing) -> None:
    billing.clock.now = MAY
    april = billing.invoicer.generate(billing.account_id, APRIL)
    march = billing.invoicer.generate(billing.account_id, MARCH)
    assert billing.invoicer.move(april.id, "issue").number == "INV-000001"
    assert billing.invoicer.move(march.id, "issue").number == "INV-000002"


def test_a_period_must_start_where_a_period_starts(billing: Billing) -> None:
    with pytest.raises(errors.BadRequest, match="does not begin a billing period"):
        billing.invoicer.generate(billing.account_id, MARCH + timedelta(days=3))


def test_position_counts_payments_invoices_and_the_open_usage_and_the_admission_refuses_past_the_limit(
    billing: Billing,
) -> None:
    admission = balances.BillingAdmission(billing.db, billing.usage, billing.clock, "month")
    member = RequestContext(user_id="u", project_id="p1", roles=("member",))
    billing.usage.run("s1", MARCH, 40)  # 4.00 EUR: within the 5 EUR credit limit
    billing.clock.now = MARCH + timedelta(days=2)
    admission(member, "server")
    billing.usage.run("s2", MARCH, 20)  # 6.00 EUR in all
    with pytest.raises(errors.PaymentRequired, match=r"Billing account acme \(.*\) is past its credit limit"):
        admission(member, "server")
    admission(RequestContext(user_id="u", project_id="p2", roles=("member",)), "server")  # no account: free
    payment, new = balances.record_payment(
        billing.db, billing.account_id, Decimal("2"), "EUR", "operator", "r1", MARCH
    )
    assert new
    admission(member, "server")
    again, new = balances.record_payment(
        billing.db, billing.account_id, Decimal("2"), "EUR", "operator", "r1", MARCH
    )
    assert (again.id, new) == (payment.id, False)
    with billing.db.reader() as session:
        account = accounts.get(session, billing.account_id)
        state = balances.position(session, billing.usage, account, "month", billing.clock())
    assert (state.paid, state.invoiced, state.accrued, state.available) == (
        2,
        0,
        Decimal("6.00"),
        Decimal("-4.00"),
    )


def test_the_webhook_accepts_a_fresh_signature_only() -> None:
    body = json.dumps({"account_id": "a", "amount": "10.00", "currency": "EUR", "reference": "tx-1"}).encode()
    now = datetime(2026, 3, 1, tzinfo=UTC)
    header = balances.sign("s3cret", int(now.timestamp()), body)
    assert balances.webhook_payment(balances.verify_webhook("s3cret", header, body, now, 300)) == (
        "a", Decimal("10.00"), "EUR", "tx-1"
    )  # fmt: skip
    with pytest.raises(errors.Unauthorized, match="does not match"):
        balances.verify_webhook("other", header, body, now, 300)
    with pytest.raises(errors.Unauthorized, match="does not match"):
        balances.verify_webhook("s3cret", header, body.replace(b"10.00", b"99.00"), now, 300)
    with pytest.raises(errors.Unauthorized, match="replay refused"):
        balances.verify_webhook("s3cret", header, body, now + timedelta(minutes=6), 300)
    with pytest.raises(errors.Unauthorized, match="malformed"):
        balances.verify_webhook("s3cret", "v1=abc", body, now, 300)
