"""Invoices: one per billing account and period, draft -> issued -> paid | void by compare-and-swap.

A draft is re-rated whenever it is generated again; an issued invoice's lines never change. A late event
changes what metering returns for a closed period: the next invoice re-rates the issued periods of the
last `adjustment_periods`, compares each line (by its key) with everything already billed for that period,
and bills the difference as an adjustment line naming the period.
"""

from __future__ import annotations

import gc
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from overcast import errors
from overcast.billing import accounts, periods, rating
from overcast.billing.money import parse_decimal, text
from overcast.db.engine import Database
from overcast.db.models.billing import Invoice, InvoiceLine, Payment

DRAFT, ISSUED, PAID, VOID = "draft", "issued", "paid", "void"
BILLED = (ISSUED, PAID)
# Which state each transition leaves from.
TRANSITIONS = {"issue": (DRAFT,), "pay": (ISSUED,), "void": (DRAFT, ISSUED)}
DONE = {"issue": "issued", "pay": "paid", "void": "voided"}
NUMBER_PREFIX = "INV-"


class UsageSource(Protocol):
    """What billing reads of metering (overcast.metering.usage.UsageReader)."""

    def slices(
        self, start: datetime, end: datetime, project_ids: Collection[str] | None = None
    ) -> Iterable[rating.Usage]: ...


@dataclass(frozen=True)
class DatedLine:
    line: rating.Line
    period_start: datetime  # the period the line bills (an earlier one for an adjustment)


def rate_account(
    reader: UsageSource,
    terms: accounts.Terms,
    start: datetime,
    end: datetime,
    *,
    period_start: datetime | None = None,
) -> list[rating.Line]:
    """The lines of the account's usage within [start, end) (a period or a part of one)."""
    if not terms.project_ids:
        return []
    slices = reader.slices(start, end, terms.project_ids)
    return rating.rate_period(
        slices,
        terms.schedule_of,
        terms.account.currency,
        free_tiers=terms.free_tiers(period_start or start),
        discounts=terms.discounts,
    )


def _stored(row: InvoiceLine) -> rating.Line:
    return rating.Line(
        key=row.key,
        kind=row.kind,
        project_id=row.project_id,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        metric=row.metric,
        description=row.description,
        unit=row.unit,
        quantity=Decimal(row.quantity),
        unit_price=Decimal(row.unit_price),
        amount=Decimal(row.amount),
        start=row.start,
        end=row.end,
        price_list_id=row.price_list_id,
    )


def billed_lines(
    session: Session, account_id: str, period_start: datetime, *, excluding: str | None = None
) -> list[rating.Line]:
    """Every line billed so far for one period of the account: its issued invoice's and later adjustments."""
    query = (
        select(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            Invoice.account_id == account_id,
            Invoice.status.in_(BILLED),
            InvoiceLine.period_start == period_start,
        )
        .order_by(Invoice.period_start, InvoiceLine.position)
    )
    if excluding is not None:
        query = query.where(Invoice.id != excluding)
    return [_stored(row) for row in session.scalars(query)]


def adjustments(now: Sequence[rating.Line], billed: Sequence[rating.Line], label: str) -> list[rating.Line]:
    """Lines billing the difference between a period re-rated `now` and what was `billed` for it."""
    billed_by_key: dict[str, tuple[Decimal, Decimal, rating.Line]] = {}
    for line in billed:
        quantity, amount, _ = billed_by_key.get(line.key, (Decimal(0), Decimal(0), line))
        billed_by_key[line.key] = (quantity + line.quantity, amount + line.amount, line)
    result: list[rating.Line] = []
    seen: set[str] = set()
    for line in now:
        seen.add(line.key)
        quantity, amount, _ = billed_by_key.get(line.key, (Decimal(0), Decimal(0), line))
        if line.amount != amount:
            result.append(_adjustment(line, line.quantity - quantity, line.amount - amount, label))
    for key, (quantity, amount, template) in billed_by_key.items():
        if key not in seen and amount != 0:
            result.append(_adjustment(template, -quantity, -amount, label))
    return result


def _adjustment(template: rating.Line, quantity: Decimal, amount: Decimal, label: str) -> rating.Line:
    unit_price = template.unit_price if template.kind == rating.USAGE else amount
    return replace(
        template,
        kind=rating.ADJUSTMENT,
        description=f"adjustment for {label}: {template.description}",
        quantity=quantity if template.kind == rating.USAGE else Decimal(1),
        unit_price=unit_price,
        amount=amount,
    )


class CollectorPause:
    """Holds the cyclic garbage collector off while an invoice is made; overlapping holders share the pause.

    A month of 10,000 servers makes a few hundred thousand short-lived objects (slices, lines, rows), and
    every full collection they trigger walks the whole heap: ~2 s of a ~6 s invoice on the loaded machine.
    They form no cycles, so reference counting frees them all; the collector resumes (if it was on) when
    the last holder leaves.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._resume:
                gc.enable()


COLLECTOR_PAUSE = CollectorPause()


@dataclass
class Invoicer:
    """Generates and moves the invoices of one cloud's billing accounts."""

    db: Database
    reader: UsageSource
    clock: Callable[[], datetime]
    period_kind: str
    adjustment_periods: int

    def generate(self, account_id: str, period_start: datetime) -> Invoice:
        """The account's invoice of the period: made or re-rated as a draft, or the issued one untouched."""
        with COLLECTOR_PAUSE:
            return self._generate(account_id, period_start)

    def _generate(self, account_id: str, period_start: datetime) -> Invoice:
        start = periods.checked_start(self.period_kind, period_start)
        end = periods.period_end(self.period_kind, start)
        with self.db.reader() as session:
            account = accounts.get(session, account_id)
            existing = session.scalar(
                select(Invoice).where(Invoice.account_id == account_id, Invoice.period_start == start)
            )
            if existing is not None and existing.status != DRAFT:
                session.expunge(existing)
                return existing
            terms = accounts.terms(session, account)
            session.expunge_all()
            lines = [DatedLine(line, start) for line in rate_account(self.reader, terms, start, end)]
            lines.extend(self._adjustments(session, terms, start, existing.id if existing else None))
        return self.db.write(lambda session: self._store(session, account, start, end, lines))

    def _adjustments(
        self, session: Session, terms: accounts.Terms, start: datetime, current: str | None
    ) -> list[DatedLine]:
        earlier = session.scalars(
            select(Invoice)
            .where(
                Invoice.account_id == terms.account.id,
                Invoice.status.in_(BILLED),
                Invoice.period_start < start,
            )
            .order_by(Invoice.period_start.desc())
            .limit(self.adjustment_periods)
        ).all()
        result: list[DatedLine] = []
        for invoice in reversed(earlier):
            now = rate_account(self.reader, terms, invoice.period_start, invoice.period_end)
            billed = billed_lines(session, terms.account.id, invoice.period_start, excluding=current)
            label = periods.label(self.period_kind, invoice.period_start)
            result.extend(DatedLine(line, invoice.period_start) for line in adjustments(now, billed, label))
        return result

    def _store(
        self, session: Session, account: Any, start: datetime, end: datetime, lines: Sequence[DatedLine]
    ) -> Invoice:
        invoice = session.scalar(
            select(Invoice)
            .where(Invoice.account_id == account.id, Invoice.period_start == start)
            .with_for_update()
        )
        if invoice is not None and invoice.status != DRAFT:
            return invoice  # issued meanwhile: what was issued stands
        if invoice is None:
            invoice = Invoice(
                id=str(uuid.uuid4()),
                account_id=account.id,
                period_start=start,
                period_end=end,
                currency=account.currency,
                status=DRAFT,
                total="0",
            )
            session.add(invoice)
            session.flush()
        session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
        rows = [_line_row(invoice.id, position, dated) for position, dated in enumerate(lines, start=1)]
        if rows:
            _insert_lines(session.connection(), rows)
        total = sum((dated.line.amount for dated in lines), Decimal(0))
        invoice.total = text(total)
        session.flush()
        return invoice

    def move(self, invoice_id: str, action: str, *, reference: str | None = None) -> Invoice:
        """issue, pay or void by compare-and-swap on the status the action leaves from (409 otherwise)."""
        sources = TRANSITIONS.get(action)
        if sources is None:
            raise errors.BadRequest(f"Unknown invoice action {action!r}: issue, pay or void.")
        now = self.clock()

        def work(session: Session) -> Invoice:
            invoice = session.get(Invoice, invoice_id)
            if invoice is None:
                raise errors.NotFound(f"Invoice {invoice_id} could not be found.")
            if invoice.status not in sources:
                raise errors.Conflict(
                    f"Invoice {invoice_id} is {invoice.status}; it cannot be {DONE[action]}."
                )
            values: dict[str, Any] = {}
            if action == "issue":
                if invoice.period_end > now:
                    raise errors.Conflict(
                        f"Invoice {invoice_id}'s period ends at {invoice.period_end.isoformat()}; "
                        "it can be issued once the period is over."
                    )
                values = {"status": ISSUED, "issued_at": now, "number": _next_number(session)}
            elif action == "pay":
                values = {"status": PAID, "paid_at": now}
                session.add(
                    Payment(
                        id=str(uuid.uuid4()),
                        account_id=invoice.account_id,
                        amount=invoice.total,
                        currency=invoice.currency,
                        source="operator",
                        reference=reference or f"invoice:{invoice.id}",
                        invoice_id=invoice.id,
                        received_at=now,
                    )
                )
            else:
                values = {"status": VOID, "voided_at": now}
            swapped = session.execute(
                update(Invoice)
                .where(Invoice.id == invoice_id, Invoice.status == invoice.status)
                .values(**values)
            )
            if swapped.rowcount != 1:  # type: ignore[attr-defined]
                raise errors.Conflict(f"Invoice {invoice_id} changed meanwhile; read it again.")
            session.flush()
            session.refresh(invoice)
            return invoice

        return self.db.write(work)


def _line_row(invoice_id: str, position: int, dated: DatedLine) -> dict[str, Any]:
    line = dated.line
    return {
        "invoice_id": invoice_id,
        "position": position,
        "key": line.key,
        "kind": line.kind,
        "period_start": dated.period_start,
        "project_id": line.project_id,
        "resource_type": line.resource_type,
        "resource_id": line.resource_id,
        "metric": line.metric,
        "description": line.description,
        "unit": line.unit,
        "quantity": text(_stored_quantity(line.quantity)),
        "unit_price": text(line.unit_price),
        "amount": text(line.amount),
        "start": line.start,
        "end": line.end,
        "price_list_id": line.price_list_id,
    }


def _insert_lines(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany handed to the driver as it is.

    A month of 10,000 servers is ~40,000 lines, and SQLAlchemy's building of every row's parameters
    (and converting its three timestamps) cost more than the driver's insert itself. The timestamps take
    a few distinct values (the period's bounds, a price change), so each distinct value goes through its
    column type's own bind conversion once.
    """
    dialect = connection.dialect
    columns = list(rows[0])
    compiled = insert(InvoiceLine).compile(dialect=dialect, column_keys=columns)
    names = list(compiled.positiontup or ()) if compiled.positional else columns
    if sorted(names) != sorted(columns) or sorted(compiled.binds) != sorted(columns):
        connection.execute(insert(InvoiceLine), list(rows))  # bind names not the columns': the plain way
        return
    table = InvoiceLine.__table__
    converters = {
        name: _memoized(processor)
        for name in names
        if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    values = [
        {name: converters[name](row[name]) if name in converters else row[name] for name in names}
        for row in rows
    ]
    parameters: list[Any] = (
        [tuple(row[name] for name in names) for row in values] if compiled.positional else values
    )
    connection.exec_driver_sql(compiled.string, parameters)


def _memoized(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    converted: dict[Any, Any] = {}

    def once(value: Any) -> Any:
        if value not in converted:
            converted[value] = convert(value)
        return converted[value]

    return once


def _stored_quantity(quantity: Decimal) -> Decimal:
    # Quantities are shown to the micro-unit; the amount was computed from the exact one.
    return quantity.quantize(Decimal("0.000001")).normalize() if quantity else Decimal(0)


def _next_number(session: Session) -> str:
    latest = session.scalar(select(func.max(Invoice.number)))
    sequence = int(latest.removeprefix(NUMBER_PREFIX)) + 1 if latest else 1
    return f"{NUMBER_PREFIX}{sequence:06d}"


def lines_of(session: Session, invoice_id: str) -> Sequence[InvoiceLine]:
    return session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
    ).all()


def view(invoice: Invoice, lines: Sequence[InvoiceLine] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": invoice.id,
        "number": invoice.number,
        "account_id": invoice.account_id,
        "period_start": invoice.period_start.isoformat(),
        "period_end": invoice.period_end.isoformat(),
        "currency": invoice.currency,
        "status": invoice.status,
        "total": invoice.total,
        "issued_at": invoice.issued_at.isoformat() if invoice.issued_at else None,
        "paid_at": invoice.paid_at.isoformat() if invoice.paid_at else None,
        "voided_at": invoice.voided_at.isoformat() if invoice.voided_at else None,
    }
    if lines is not None:
        body["lines"] = [line_view(line) for line in lines]
    return body


def line_view(line: InvoiceLine) -> dict[str, Any]:
    return {
        "position": line.position,
        "kind": line.kind,
        "period_start": line.period_start.isoformat(),
        "project_id": line.project_id,
        "resource_type": line.resource_type,
        "resource_id": line.resource_id,
        "metric": line.metric,
        "description": line.description,
        "unit": line.unit,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "amount": line.amount,
        "start": line.start.isoformat() if line.start else None,
        "end": line.end.isoformat() if line.end else None,
    }


def parse_amount(value: object) -> Decimal:
    return parse_decimal(value, "amount")
