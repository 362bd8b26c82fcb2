"""CloudKitty's v2 reports (`RatingReports.summary`, `.dataframes`) over `bench/rating.py`'s month of 10,000
instances (50 projects, a price change on the 15th), beside their floor: metering's `UsageReader.slices`
for the month plus `rating.rate_usage` of it, what any report of rated usage has to do.

    .venv/bin/python bench/cloudkitty.py [--instances 10000] [--rounds 3]

Rows: an admin's summary of every project grouped by type; one project's member's summary (a fiftieth of
the usage); an admin's first page (100 points) of dataframes, which sorts every point of the month. A
second table: an admin's summary over --accounts billing accounts of one project and 4 instances each (as
the portal's sign-ups make them), beside the same floor for their usage.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rating as rating_bench  # bench/rating.py: this script's directory is on sys.path

from overcast.billing import accounts, prices, rating
from overcast.billing.cloudkitty import RatingReports
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.metering import events
from overcast.metering.usage import UsageReader

MONTH = [("begin", rating_bench.MARCH.isoformat()), ("end", rating_bench.APRIL.isoformat())]


def many_accounts(directory: Path, count: int) -> Database:
    """`count` accounts, each paying for one project of 4 instances living bench/rating.py's month."""
    db = Database(f"sqlite:///{directory}/accounts.db")
    db.upgrade()
    rating_bench.PROJECTS = count  # life() spreads the servers over this many projects
    with db.writer() as session:
        batch: list[events.NewUsageEvent] = []
        for server in range(count * 4):
            batch.extend(rating_bench.life(server))
        events.record(session, batch, rating_bench.MARCH)
        rates = [{"metric": "instance.running", "unit": "hour", "price": "0.0125"}]
        standard = {"name": "standard", "currency": "EUR", "rates": rates}
        prices.create(session, standard, rating_bench.MARCH - timedelta(days=31))
        for project in range(count):
            account = accounts.create(
                session, {"name": f"customer-{project}", "currency": "EUR", "price_list": "standard"},
                rating_bench.MARCH,
            )  # fmt: skip
            accounts.add_project(session, account, f"project-{project}", None)
    return db


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cloudkitty-") as directory:
        db, account_id = rating_bench.cloud_with_a_month(Path(directory), args.instances)
        clock = lambda: rating_bench.APRIL + timedelta(hours=1)  # noqa: E731
        reader = UsageReader(db, clock)
        reports = RatingReports(db, reader, clock, "month")
        with db.reader() as session:
            terms = accounts.terms(session, accounts.get(session, account_id))
        projects = list(terms.project_ids)
        admin = RequestContext.admin()
        member = RequestContext(user_id="bench", project_id=projects[0], roles=("member",))
        floor_s, lines = rating_bench.timed(
            args.rounds,
            lambda: rating.rate_usage(
                reader.slices(rating_bench.MARCH, rating_bench.APRIL, projects), terms.schedule_of, "EUR"
            ),
        )
        rows = [
            (
                "admin: summary -g type, every project",
                lambda: reports.summary(admin, [*MONTH, ("groupby", "type")]),
            ),
            ("member: summary, its own project", lambda: reports.summary(member, MONTH)),
            (
                "admin: dataframes, first 100 points",
                lambda: reports.dataframes(admin, [*MONTH, ("limit", "100")]),
            ),
        ]
        print(
            f"a month of {args.instances:,} instances: {len(lines):,} rated lines (median of {args.rounds})"
        )
        print(f"{'report':<44} {'seconds':>8} {'vs floor':>9}")
        print(f"{'floor: UsageReader.slices + rate_usage':<44} {floor_s:>8.2f} {1:>8.1f}x")
        for label, run in rows:
            seconds, _ = rating_bench.timed(args.rounds, run)
            print(f"{label:<44} {seconds:>8.2f} {seconds / floor_s:>8.1f}x")
        db.dispose()
        db = many_accounts(Path(directory), args.accounts)
        reader = UsageReader(db, clock)
        reports = RatingReports(db, reader, clock, "month")
        with db.reader() as session:
            schedule = prices.schedule(session, "standard")
        floor_s, lines = rating_bench.timed(
            args.rounds,
            lambda: rating.rate_usage(
                reader.slices(rating_bench.MARCH, rating_bench.APRIL), lambda project: schedule, "EUR"
            ),
        )
        seconds, _ = rating_bench.timed(
            args.rounds, lambda: reports.summary(admin, [*MONTH, ("groupby", "type")])
        )
        print(f"{args.accounts:,} billing accounts of one project: {len(lines):,} rated lines")
        print(f"{'floor: UsageReader.slices + rate_usage':<44} {floor_s:>8.2f} {1:>8.1f}x")
        label = "admin: summary -g type, every account"
        print(f"{label:<44} {seconds:>8.2f} {seconds / floor_s:>8.1f}x")
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
