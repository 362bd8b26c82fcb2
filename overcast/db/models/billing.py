"""Billing: price-list versions, billing accounts and their projects, invoices and their lines, payments,
budget alerts sent.

Money and quantities are stored as decimal strings (`Decimal` in, `Decimal` out in overcast.billing.records):
SQLite has no exact decimal type, and a float would lose cents. Price-list versions and issued invoices'
lines are never updated; a state change of an invoice is a compare-and-swap on its status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from overcast.db.base import Base, TimestampMixin
from overcast.db.types import UTCDateTime

AMOUNT = 40  # characters of a decimal string


class PriceListVersion(Base, TimestampMixin):
    """One version of a named price list, in force from `effective_from` until the next version's."""

    __tablename__ = "billing_price_lists"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # [{"metric", "unit", "price", "match"}], prices as decimal strings.
    rates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    # [{"metric", "quantity", "match"}]
    free_tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)


class BillingAccount(Base, TimestampMixin):
    """A customer: the projects it pays for, its price list, prepaid or post-paid, its credit limit."""

    __tablename__ = "billing_accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    price_list: Mapped[str] = mapped_column(String(255), nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)  # prepaid | postpaid
    # From when the account pays for its projects' usage (its open usage is counted from here until the
    # first issued invoice): the billing clock's time at creation, so an injected clock governs it too.
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # How far below zero the balance may go (net of the open period's usage); None: no limit.
    credit_limit: Mapped[str | None] = mapped_column(String(AMOUNT), nullable=True)
    # [{"kind", "value", "metric", "description"}]
    discounts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    # Budget per period and the percentages of it that send an alert.
    budget: Mapped[str | None] = mapped_column(String(AMOUNT), nullable=True)
    alert_percentages: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # When the account was first seen past its credit limit (cleared when back within it).
    over_limit_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class BillingAccountProject(Base):
    """A project billed to an account (one account per project), with its own price list if it has one."""

    __tablename__ = "billing_account_projects"

    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("billing_accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    price_list: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Invoice(Base, TimestampMixin):
    __tablename__ = "billing_invoices"
    __table_args__ = (UniqueConstraint("account_id", "period_start"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("billing_accounts.id"), nullable=False, index=True)
    # Given when the invoice is issued: INV-000001, INV-000002, ... without gaps.
    number: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # draft -> issued -> paid | void; draft -> void. Changed by compare-and-swap only.
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    total: Mapped[str] = mapped_column(String(AMOUNT), nullable=False)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class InvoiceLine(Base):
    __tablename__ = "billing_invoice_lines"

    invoice_id: Mapped[str] = mapped_column(
        ForeignKey("billing_invoices.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The line's identity across re-ratings of its period (what an adjustment compares).
    key: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # The period the line bills: the invoice's own, or an earlier one for an adjustment.
    period_start: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    project_id: Mapped[str] = mapped_column(String(64), nullable=False)
    resource_type: Mapped[str] = mapped_column(String(32), nullable=False)
    resource_id: Mapped[str] = mapped_column(String(64), nullable=False)
    metric: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    unit: Mapped[str] = mapped_column(String(16), nullable=False)
    quantity: Mapped[str] = mapped_column(String(80), nullable=False)
    unit_price: Mapped[str] = mapped_column(String(AMOUNT), nullable=False)
    amount: Mapped[str] = mapped_column(String(AMOUNT), nullable=False)
    start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    price_list_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class Payment(Base, TimestampMixin):
    __tablename__ = "billing_payments"
    __table_args__ = (UniqueConstraint("source", "reference"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("billing_accounts.id"), nullable=False, index=True)
    amount: Mapped[str] = mapped_column(String(AMOUNT), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # operator | webhook; the reference is unique per source, so a replayed webhook records nothing.
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    reference: Mapped[str] = mapped_column(String(255), nullable=False)
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("billing_invoices.id"), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class BudgetAlert(Base):
    """A budget alert sent: one per account, period and percentage."""

    __tablename__ = "billing_budget_alerts"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("billing_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    percentage: Mapped[int] = mapped_column(Integer, primary_key=True)
    spent: Mapped[str] = mapped_column(String(AMOUNT), nullable=False)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
