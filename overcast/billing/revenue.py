"""`overcast_billing_rated_revenue{metric,currency}`: what issued and paid invoices billed per metric,
read from the database at scrape time (every API process reports the same, whichever issued them)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from prometheus_client.core import CounterMetricFamily, Metric
from sqlalchemy import select

from overcast.billing import invoices
from overcast.db.engine import Database
from overcast.db.models.billing import Invoice, InvoiceLine


def by_metric(db: Database) -> dict[tuple[str, str], Decimal]:
    """Billed amounts by (metric, currency); discounts and credits on the whole invoice count as ""."""
    totals: dict[tuple[str, str], Decimal] = {}
    with db.reader() as session:
        rows = session.execute(
            select(InvoiceLine.metric, Invoice.currency, InvoiceLine.amount)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.status.in_(invoices.BILLED))
        )
        for metric, currency, amount in rows:
            totals[(metric, currency)] = totals.get((metric, currency), Decimal(0)) + Decimal(amount)
    return totals


class RevenueCollector:
    def __init__(self, db: Database) -> None:
        self._db = db

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for (metric, currency), amount in sorted(by_metric(self._db).items()):
            family.add_metric([metric or "invoice", currency], float(amount))
        yield family

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "overcast_billing_rated_revenue",
            "Amounts billed on issued and paid invoices, by metric and currency "
            "(net of free tiers and discounts).",
            labels=["metric", "currency"],
        )
