"""Balances, payments and the credit limit.

An account's balance is what it paid minus what it was invoiced (issued and paid invoices); its position
also counts the usage not invoiced yet (the open period, and closed periods still in draft), so a
prepaid account spends exactly what it paid. Past the credit limit (position below -credit_limit), new
servers, volumes and floating IPs are refused with a 402 naming the account.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast import errors
from overcast.billing import accounts, invoices, periods, rating
from overcast.billing.money import parse_decimal, text
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.billing import BillingAccount, Invoice, Payment

SIGNATURE_HEADER = "X-Billing-Signature"


@dataclass(frozen=True)
class Position:
    account: BillingAccount
    paid: Decimal
    invoiced: Decimal
    accrued: Decimal  # usage not on an issued invoice yet, up to now

    @property
    def balance(self) -> Decimal:
        return self.paid - self.invoiced

    @property
    def available(self) -> Decimal:
        return self.balance - self.accrued

    @property
    def credit_limit(self) -> Decimal | None:
        return None if self.account.credit_limit is None else Decimal(self.account.credit_limit)

    @property
    def over_limit(self) -> bool:
        limit = self.credit_limit
        return limit is not None and self.available < -limit

    def view(self) -> dict[str, Any]:
        return {
            "account_id": self.account.id,
            "account_name": self.account.name,
            "currency": self.account.currency,
            "mode": self.account.mode,
            "paid": text(self.paid),
            "invoiced": text(self.invoiced),
            "balance": text(self.balance),
            "accrued": text(self.accrued),
            "available": text(self.available),
            "credit_limit": self.account.credit_limit,
            "over_limit": self.over_limit,
        }


def position(
    session: Session, reader: invoices.UsageSource, account: BillingAccount, kind: str, now: datetime
) -> Position:
    paid = _sum(session.scalars(select(Payment.amount).where(Payment.account_id == account.id)))
    billed = session.execute(
        select(Invoice.total, Invoice.period_end).where(
            Invoice.account_id == account.id, Invoice.status.in_(invoices.BILLED)
        )
    ).all()
    invoiced = _sum(total for total, _ in billed)
    since = max((end for _, end in billed), default=account.opened_at)
    terms = accounts.terms(session, account)
    accrued = Decimal(0)
    for start, end in periods.between(kind, since, now):
        period = periods.period_start(kind, start)
        accrued += rating.total(invoices.rate_account(reader, terms, start, end, period_start=period))
    return Position(account, paid, invoiced, accrued)


def _sum(amounts: Any) -> Decimal:
    return sum((Decimal(amount) for amount in amounts), Decimal(0))


def record_payment(
    db: Database, account_id: str, amount: Decimal, currency: str, source: str, reference: str, now: datetime
) -> tuple[Payment, bool]:
    """The payment, and whether it is new: the same reference from the same source records nothing twice."""

    def work(session: Session) -> Payment:
        account = accounts.get(session, account_id)
        if currency != account.currency:
            raise errors.BadRequest(
                f"Account {account.name} is billed in {account.currency}, not {currency}."
            )
        payment = Payment(
            id=str(uuid.uuid4()),
            account_id=account_id,
            amount=text(amount),
            currency=currency,
            source=source,
            reference=reference,
            received_at=now,
        )
        session.add(payment)
        session.flush()
        return payment

    try:
        return db.write(work), True
    except IntegrityError:
        with db.reader() as session:
            existing = session.scalar(
                select(Payment).where(Payment.source == source, Payment.reference == reference)
            )
            if existing is None:
                raise
            if existing.account_id != account_id or Decimal(existing.amount) != amount:
                raise errors.Conflict(
                    f"Payment reference {reference!r} was already used for another payment."
                ) from None
            session.expunge(existing)
            return existing, False


def payment_view(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "account_id": payment.account_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "source": payment.source,
        "reference": payment.reference,
        "invoice_id": payment.invoice_id,
        "received_at": payment.received_at.isoformat(),
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The webhook's signature header value: t=<unix time>,v1=<hex HMAC-SHA256 of "t." + body>."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_webhook(
    secret: str, header: str | None, body: bytes, now: datetime, tolerance: int
) -> Mapping[str, Any]:
    """The webhook's JSON body if its signature is valid and recent, else a 401 saying why."""
    if not secret:
        raise errors.NotFound("The payment webhook is not enabled (no webhook secret is set).")
    fields = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
        signature = fields["v1"]
    except (KeyError, ValueError):
        raise errors.Unauthorized(
            f"Missing or malformed {SIGNATURE_HEADER} header (t=<unix time>,v1=<hex>)."
        ) from None
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, signature):
        raise errors.Unauthorized("The payment webhook's signature does not match.")
    if abs(now.timestamp() - timestamp) > tolerance:
        raise errors.Unauthorized(
            "The payment webhook's signature is too old or from the future (replay refused)."
        )
    try:
        data = json.loads(body)
    except ValueError:
        raise errors.BadRequest("The payment webhook's body is not JSON.") from None
    if not isinstance(data, dict):
        raise errors.BadRequest("The payment webhook's body is a JSON object.")
    return data


def webhook_payment(data: Mapping[str, Any]) -> tuple[str, Decimal, str, str]:
    """account_id, amount, currency and reference of a webhook body."""
    account_id, reference, currency = data.get("account_id"), data.get("reference"), data.get("currency")
    if (
        not isinstance(account_id, str)
        or not isinstance(reference, str)
        or not reference
        or len(reference) > 255
    ):
        raise errors.BadRequest("A payment names account_id and a unique reference (at most 255 characters).")
    if not isinstance(currency, str):
        raise errors.BadRequest("A payment names its currency.")
    amount = parse_decimal(data.get("amount"), "amount")
    if amount <= 0:
        raise errors.BadRequest("A payment's amount is positive.")
    return account_id, amount, currency, reference


@dataclass
class BillingAdmission:
    """The hook the compute, volume and network APIs call before creating a billable resource."""

    db: Database
    reader: invoices.UsageSource
    clock: Callable[[], datetime]
    period_kind: str

    def __call__(self, context: RequestContext, kind: str) -> None:
        if context.project_id is None:
            return
        with self.db.reader() as session:
            account = accounts.of_project(session, context.project_id)
            if account is None or account.credit_limit is None:
                return
            state = position(session, self.reader, account, self.period_kind, self.clock())
        if state.over_limit:
            raise errors.PaymentRequired(
                f"Billing account {account.name} ({account.id}) is past its credit limit: available "
                f"{text(state.available)} {account.currency}, credit limit {account.credit_limit} "
                f"{account.currency}. No new {kind} can be created until a payment is recorded."
            )
