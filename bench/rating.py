"""Rating: a month of 10,000 instances, from usage events to an invoice (issue #17 wants under 5 s).

    .venv/bin/python bench/rating.py [--instances 10000] [--rounds 3]

(`bench/metering.py` prints these rows too, beside the ingest rows.)

Each instance of one billing account (50 projects) runs, stops, starts again and is resized during
March, so metering returns four slices of it, and a price change on the 15th cuts two of them: about
50,000 lines' worth of usage. The rows time each stage of the real path: metering's `UsageReader.slices`
reading the month from the events table, `rating.rate_period` pricing them (exact Decimals, the price
change, a free tier, a discount), and `Invoicer.generate` doing both and storing the draft's lines. The
floor is the least any rating can do: one Decimal multiplication per slice, no grouping, no rounding.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overcast.billing import accounts, invoices, prices, rating
from overcast.db.engine import Database
from overcast.metering import events
from overcast.metering.usage import INSTANCE_RUNNING, INSTANCE_STOPPED, UsageReader

TARGET_SECONDS = 5.0
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)
PROJECTS = 50
TINY = {"flavor_id": "1", "flavor_name": "m1.tiny", "vcpus": "1", "memory_mb": "512"}
SMALL = {"flavor_id": "2", "flavor_name": "m1.small", "vcpus": "1", "memory_mb": "2048"}


def life(server: int) -> list[events.NewUsageEvent]:
    """Running on the 1st, stopped on the 5th, started on the 9th, resized on the 20th (minutes vary)."""
    resource = f"00000000-0000-4000-8000-{server:012d}"
    project = f"project-{server % PROJECTS}"
    offset = timedelta(minutes=server % 1440)
    steps = [
        (timedelta(days=0), INSTANCE_RUNNING, TINY), (timedelta(days=4), INSTANCE_STOPPED, TINY),
        (timedelta(days=8), INSTANCE_RUNNING, TINY), (timedelta(days=19), INSTANCE_RUNNING, SMALL),
    ]  # fmt: skip
    return [
        events.NewUsageEvent(
            message_id=f"{resource}-{index}",
            event_type=f"step-{index}",
            occurred_at=MARCH + at + offset,
            project_id=project,
            resource_type="instance",
            resource_id=resource,
            metric=metric,
            quantity=Decimal(1),
            attributes=attributes,
        )
        for index, (at, metric, attributes) in enumerate(steps)
    ]


def cloud_with_a_month(directory: Path, instances: int) -> tuple[Database, str]:
    db = Database(f"sqlite:///{directory}/bench.db")
    db.upgrade()
    with db.writer() as session:
        batch: list[events.NewUsageEvent] = []
        for server in range(instances):
            batch.extend(life(server))
        events.record(session, batch, MARCH)
        standard: dict[str, Any] = {"name": "standard", "currency": "EUR", "rates": [
            {"metric": INSTANCE_RUNNING, "unit": "hour", "price": "0.0125", "match": "m1.tiny"},
            {"metric": INSTANCE_RUNNING, "unit": "hour", "price": "0.05", "match": "m1.small"},
            {"metric": INSTANCE_STOPPED, "unit": "hour", "price": "0.002"},
        ], "free_tiers": [{"metric": INSTANCE_RUNNING, "quantity": "750", "match": "m1.tiny"}]}  # fmt: skip
        prices.create(session, standard, MARCH - timedelta(days=31))
        dearer = {
            **standard,
            "rates": [{**rate, "price": str(Decimal(rate["price"]) * 2)} for rate in standard["rates"]],
        }
        prices.create(session, dearer, MARCH + timedelta(days=14, hours=12))
        account = accounts.create(
            session, {"name": "bench", "currency": "EUR", "price_list": "standard",
                      "discounts": [{"kind": "percent", "value": "5"}]}, MARCH,
        )  # fmt: skip
        for project in range(PROJECTS):
            accounts.add_project(session, account, f"project-{project}", None)
        return db, account.id


def timed(rounds: int, run: Callable[[], Any]) -> tuple[float, Any]:
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = run()
        results.append((time.perf_counter() - started, result))
    return statistics.median(seconds for seconds, _ in results), results[-1][1]


@dataclass(frozen=True)
class Rated:
    """The seconds (medians) of each stage of rating a month, and what the month came to."""

    instances: int
    slices: int
    lines: int
    total: str
    floor_s: float
    rate_s: float
    read_s: float
    invoice_s: float

    def rows(self) -> list[tuple[str, float]]:
        return [
            ("floor: one Decimal product per slice", self.floor_s),
            ("rating: rate_period (splits, tiers, discounts)", self.rate_s),
            ("metering: UsageReader.slices for the month", self.read_s),
            ("invoice: Invoicer.generate (read, rate, store)", self.invoice_s),
        ]

    def verdict(self) -> str:
        within = "within" if self.invoice_s < TARGET_SECONDS else "OVER"
        return (
            f"rate a month of {self.instances:,} instances: {self.invoice_s:.2f} s "
            f"({within} the {TARGET_SECONDS:.0f} s target)"
        )


def measure(instances: int, rounds: int) -> Rated:
    with tempfile.TemporaryDirectory(prefix="bench-rating-") as directory:
        db, account_id = cloud_with_a_month(Path(directory), instances)
        clock = lambda: APRIL + timedelta(hours=1)  # noqa: E731
        reader = UsageReader(db, clock)
        with db.reader() as session:
            terms = accounts.terms(session, accounts.get(session, account_id))
        projects = list(terms.project_ids)
        read_s, slices = timed(rounds, lambda: list(reader.slices(MARCH, APRIL, projects)))
        floor_s, _ = timed(
            rounds, lambda: [usage.quantity * Decimal("0.0125") * usage.seconds for usage in slices]
        )
        rate_s, lines = timed(
            rounds,
            lambda: rating.rate_period(
                slices,
                terms.schedule_of,
                "EUR",
                free_tiers=terms.free_tiers(MARCH),
                discounts=terms.discounts,
            ),
        )
        invoicer = invoices.Invoicer(db, reader, clock, "month", 3)
        invoice_s, invoice = timed(rounds, lambda: invoicer.generate(account_id, MARCH))
        db.dispose()
    return Rated(instances, len(slices), len(lines), invoice.total, floor_s, rate_s, read_s, invoice_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rated = measure(args.instances, args.rounds)
    print(
        f"a month of {rated.instances:,} instances: {rated.slices:,} usage slices, {rated.lines:,} invoice "
        f"lines, total {rated.total} EUR (median of {args.rounds})"
    )
    print(f"{'stage':<52} {'seconds':>8} {'vs floor':>9}")
    for label, seconds in rated.rows():
        print(f"{label:<52} {seconds:>8.2f} {seconds / rated.floor_s:>8.1f}x")
    print(rated.verdict())
    return 0 if rated.invoice_s < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
