"""CloudKitty's v2 reports (GET /v2/summary and /v2/dataframes) over the usage billing rates.

CloudKitty stores rated "data points" (one resource's quantity and price over a collect period); Overcast
rates its metered usage when asked. Here a point is one usage line of `rating.rate_usage` for one billing
period (settings.period) clipped to the query's [begin, end): each billing period is rated on its own, as
its invoice rates it, so a whole period's points add up to its invoice's usage lines (before free tiers,
discounts and credits, which CloudKitty does not know either), and a range inside one period to what
/billing/v1/usage answers for it.

Names as CloudKitty's default metrics.yml gives them:
    type (the metric): instance.running -> instance, instance.stopped -> instance.stopped,
        instance.shelved -> instance.shelved, volume.gb -> volume.size, snapshot.gb -> volume.snapshot.size,
        backup.gb -> volume.backup.size, image.gb -> image.size, floating_ip -> ip.floating
    groupby keys: id (the resource's id), project_id, type;
    metadata: flavor_name (instances), volume_type (volumes, snapshots, backups), disk_format (images).
A point's unit is the unit its rate prices (hour, GiB-month, vCPU-hour, GiB-RAM-hour) and its qty the
quantity of that unit; its price the line's amount, exact to the account's minor unit.
Amounts travel as JSON numbers, as CloudKitty's do: a price has its currency's few decimals and a qty at
most six, so fewer than 16 significant digits, which a double renders back digit for digit.

As CloudKitty's default policy has it, a project member (or reader) sees only its own project's points,
whatever it filters on; an admin sees every billed project's unless it filters on project_id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import select

from overcast import errors, policy
from overcast.billing import accounts, invoices, periods, policies, rating
from overcast.billing.api import parse_time
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.billing import BillingAccount

TYPES = {
    "instance.running": "instance",
    "instance.stopped": "instance.stopped",
    "instance.shelved": "instance.shelved",
    "volume.gb": "volume.size",
    "snapshot.gb": "volume.snapshot.size",
    "backup.gb": "volume.backup.size",
    "image.gb": "image.size",
    "floating_ip": "ip.floating",
}
UNITS = {
    rating.HOUR: "hour",
    rating.GB_MONTH: "GiB-month",
    rating.VCPU_HOUR: "vCPU-hour",
    rating.RAM_GB_HOUR: "GiB-RAM-hour",
}
# The attribute a metric's rate matched, as CloudKitty's metadata names it.
SUBJECTS = {
    **{metric: "flavor_name" for metric in rating.INSTANCE_METRICS},
    "volume.gb": "volume_type",
    "snapshot.gb": "volume_type",
    "backup.gb": "volume_type",
    "image.gb": "disk_format",
}
GROUPBY_KEYS = ("id", "project_id", "type")
FILTER_KEYS = (*GROUPBY_KEYS, "flavor_name", "volume_type", "disk_format")
# CloudKitty's time groupings: Overcast rates whole billing periods, not days or hours of them.
TIME_GROUPINGS = ("time", "time-d", "time-w", "time-m", "time-y", "day_of_the_year", "week_of_the_year",
                  "month", "year")  # fmt: skip
DEFAULT_LIMIT = 100
QTY_PLACES = Decimal("0.000001")
# custom_fields are InfluxDB expressions: CloudKitty ignores them on its other storage backends, as here.
SUMMARY_PARAMETERS = ("begin", "end", "groupby", "filters", "offset", "limit", "response_format",
                      "custom_fields")  # fmt: skip
DATAFRAMES_PARAMETERS = ("begin", "end", "filters", "offset", "limit")
RESPONSE_FORMATS = ("table", "object")


class Point(NamedTuple):
    begin: datetime
    end: datetime
    type: str
    project_id: str
    resource_id: str
    unit: str
    qty: Decimal
    price: Decimal
    metadata: tuple[tuple[str, str], ...]

    def value(self, key: str) -> str:
        if key == "id":
            return self.resource_id
        if key in ("project_id", "type"):
            return str(getattr(self, key))
        return dict(self.metadata).get(key, "")


@dataclass(frozen=True)
class _Piece:
    """The part of a usage slice within one billing period."""

    usage: rating.Usage
    start: datetime
    end: datetime

    @property
    def project_id(self) -> str:
        return self.usage.project_id

    @property
    def resource_type(self) -> str:
        return self.usage.resource_type

    @property
    def resource_id(self) -> str:
        return self.usage.resource_id

    @property
    def metric(self) -> str:
        return self.usage.metric

    @property
    def quantity(self) -> Decimal:
        return self.usage.quantity

    @property
    def attributes(self) -> Mapping[str, str]:
        return self.usage.attributes


@dataclass(frozen=True)
class Query:
    begin: datetime
    end: datetime
    filters: dict[str, str]
    groupby: tuple[str, ...]
    offset: int
    limit: int
    response_format: str


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def number(amount: Decimal) -> int | float:
    """A JSON number with `amount`'s digits (it has fewer than 16 significant ones)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _time(name: str, values: Sequence[str]) -> datetime:
    return parse_time(_single(name, values), name)


def _single(name: str, values: Sequence[str]) -> str:
    if len(values) != 1:
        raise errors.BadRequest(f"Give {name} once (got it {len(values)} times).")
    return values[0]


def _count(name: str, values: Sequence[str], least: int) -> int:
    value = _single(name, values)
    try:
        parsed = int(value)
    except ValueError:
        raise errors.BadRequest(f"Invalid {name} {value!r}: an integer.") from None
    if parsed < least:
        raise errors.BadRequest(f"Invalid {name} {parsed}: at least {least}.")
    return parsed


def _filters(values: Sequence[str]) -> dict[str, str]:
    """filters=key:value[,key:value...], repeatable, each key once (CloudKitty's form)."""
    parsed: dict[str, str] = {}
    for token in (token for value in values for token in value.split(",")):
        key, colon, value = token.partition(":")
        if not colon or ":" in value or not key:
            raise errors.BadRequest(f"Invalid filter {token!r}: key:value, such as type:instance.")
        if key not in FILTER_KEYS:
            raise errors.BadRequest(f"Unknown filter {key!r}: one of {', '.join(FILTER_KEYS)}.")
        if key in parsed:
            raise errors.BadRequest(f"Filter {key!r} given twice.")
        parsed[key] = value
    return parsed


def _groupby(values: Sequence[str]) -> tuple[str, ...]:
    keys = [key for value in values for key in value.split(",") if key]
    for key in keys:
        if key in TIME_GROUPINGS:
            raise errors.BadRequest(
                f"Grouping by {key!r} is not supported: Overcast rates whole billing periods."
            )
        if key not in GROUPBY_KEYS:
            raise errors.BadRequest(f"Unknown groupby {key!r}: one of {', '.join(GROUPBY_KEYS)}.")
    return tuple(dict.fromkeys(keys))


def parse_query(items: Iterable[tuple[str, str]], allowed: Sequence[str], now: datetime) -> Query:
    """The query string's (name, value) pairs, checked as CloudKitty checks them; begin and end default to
    the current month's start and the next month's."""
    given: dict[str, list[str]] = {}
    for name, value in items:
        given.setdefault(name, []).append(value)
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise errors.BadRequest(
            f"Unknown query parameter(s): {', '.join(unknown)}; one of {', '.join(allowed)}."
        )
    month = periods.period_start("month", now)
    begin = _time("begin", given["begin"]) if "begin" in given else month
    end = _time("end", given["end"]) if "end" in given else periods.period_end("month", month)
    if end <= begin:
        raise errors.BadRequest("end must be after begin.")
    response_format = (
        _single("response_format", given["response_format"]) if "response_format" in given else "table"
    )
    if response_format not in RESPONSE_FORMATS:
        raise errors.BadRequest(
            f"Invalid response_format {response_format!r}: one of {', '.join(RESPONSE_FORMATS)}."
        )
    return Query(
        begin=begin,
        end=end,
        filters=_filters(given.get("filters", [])),
        groupby=_groupby(given.get("groupby", [])),
        offset=_count("offset", given["offset"], 0) if "offset" in given else 0,
        limit=_count("limit", given["limit"], 1) if "limit" in given else DEFAULT_LIMIT,
        response_format=response_format,
    )


def points_of(lines: Iterable[rating.Line], begin: datetime, end: datetime) -> list[Point]:
    points = []
    for line in lines:
        subject = SUBJECTS.get(line.metric)
        points.append(
            Point(
                begin=begin,
                end=end,
                type=TYPES.get(line.metric, line.metric),
                project_id=line.project_id,
                resource_id=line.resource_id,
                unit=UNITS.get(line.unit, line.unit),
                qty=line.quantity.quantize(QTY_PLACES).normalize(),
                price=line.amount,
                metadata=((subject, line.subject),) if subject and line.subject else (),
            )
        )
    return points


def _order(point: Point) -> tuple[datetime, str, str, str, str]:
    return (point.begin, point.type, point.project_id, point.resource_id, point.unit)


class RatingReports:
    """What the /rating/v2 routes call: CloudKitty's summary and dataframes of the cloud's rated usage."""

    def __init__(
        self, db: Database, usage: invoices.UsageSource, clock: Callable[[], datetime], period: str
    ) -> None:
        self.db = db
        self.usage = usage
        self.clock = clock
        self.period = period

    def _by_period(
        self, slices: Iterable[rating.Usage], query: Query
    ) -> dict[tuple[datetime, datetime], list[rating.Usage]]:
        """The slices by the billing period (clipped to the query) they fall in, cut where one ends."""
        by_period: dict[tuple[datetime, datetime], list[rating.Usage]] = {}
        period: tuple[datetime, datetime] | None = None  # the last slice's, whole
        current: list[rating.Usage] = []
        for usage in slices:
            if period is not None and period[0] <= usage.start and usage.end <= period[1]:
                current.append(usage)  # most slices: no period to look up
                continue
            for low, high in periods.between(self.period, usage.start, usage.end):
                begins = periods.period_start(self.period, low)
                period = (begins, periods.period_end(self.period, begins))
                current = by_period.setdefault((max(begins, query.begin), min(period[1], query.end)), [])
                whole = low == usage.start and high == usage.end
                current.append(usage if whole else _Piece(usage, low, high))
        return by_period

    def _points(self, ctxt: RequestContext, query: Query) -> list[Point]:
        filters = dict(query.filters)
        if not ctxt.is_admin:
            # CloudKitty's rule: whatever a member asks for, its own project's points only.
            filters["project_id"] = ctxt.project_id or ""
        with self.db.reader() as session:
            if "project_id" in filters:
                account = accounts.of_project(session, filters["project_id"])
                billed = [account] if account is not None else []
            else:
                billed = list(session.scalars(select(BillingAccount).order_by(BillingAccount.name)))
            terms = [accounts.terms(session, account) for account in billed]
        terms_of = {
            project: account_terms
            for account_terms in terms
            for project in account_terms.project_ids
            if filters.get("project_id", project) == project
        }
        if not terms_of:
            return []
        # One read of the whole range for every account (an admin's reads every project's), cut in memory
        # by account and billing period: many accounts, or many (empty) periods, cost no query each.
        by_account: dict[str, list[rating.Usage]] = {}
        scope = list(terms_of) if "project_id" in filters else None
        for usage in self.usage.slices(query.begin, query.end, scope):
            billed_to = terms_of.get(usage.project_id)
            if billed_to is not None:  # a project no account pays for is rated by nobody
                by_account.setdefault(billed_to.account.id, []).append(usage)
        points: list[Point] = []
        for account_terms in terms:
            slices = by_account.get(account_terms.account.id, [])
            for (begins, ends), pieces in self._by_period(slices, query).items():
                lines = rating.rate_usage(pieces, account_terms.schedule_of, account_terms.account.currency)
                points.extend(points_of(lines, begins, ends))
        if not filters:
            return sorted(points, key=_order)
        matching = [
            point for point in points if all(point.value(key) == value for key, value in filters.items())
        ]
        return sorted(matching, key=_order)

    def summary(self, ctxt: RequestContext, items: Iterable[tuple[str, str]]) -> dict[str, Any]:
        policy.enforce(ctxt, policies.RATING_SUMMARY, {"project_id": ctxt.project_id})
        query = parse_query(items, SUMMARY_PARAMETERS, self.clock())
        groups: dict[tuple[str, ...], list[Decimal]] = {}
        for point in self._points(ctxt, query):
            sums = groups.setdefault(
                tuple(point.value(key) for key in query.groupby), [Decimal(0), Decimal(0)]
            )
            sums[0] += point.qty
            sums[1] += point.price
        columns = ["begin", "end", "qty", "rate", *query.groupby]
        rows = [
            [iso(query.begin), iso(query.end), number(qty), number(rate), *values]
            for values, (qty, rate) in sorted(groups.items())
        ]
        page = rows[query.offset : query.offset + query.limit]
        if query.response_format == "object":
            return {"total": len(rows), "results": [dict(zip(columns, row, strict=True)) for row in page]}
        return {"total": len(rows), "columns": columns if page else [], "results": page}

    def dataframes(self, ctxt: RequestContext, items: Iterable[tuple[str, str]]) -> dict[str, Any]:
        policy.enforce(ctxt, policies.RATING_DATAFRAMES, {"project_id": ctxt.project_id})
        query = parse_query(items, DATAFRAMES_PARAMETERS, self.clock())
        points = self._points(ctxt, query)
        if not points:
            raise errors.NotFound("No resource found for provided filters.")
        frames: dict[tuple[datetime, datetime], dict[str, list[dict[str, Any]]]] = {}
        for point in points[query.offset : query.offset + query.limit]:
            usage = frames.setdefault((point.begin, point.end), {})
            usage.setdefault(point.type, []).append(
                {
                    "vol": {"unit": point.unit, "qty": number(point.qty)},
                    "rating": {"price": number(point.price)},
                    "groupby": {"id": point.resource_id, "project_id": point.project_id},
                    "metadata": dict(point.metadata),
                }
            )
        return {
            "total": len(points),
            "dataframes": [
                {"period": {"begin": iso(begin), "end": iso(end)}, "usage": usage}
                for (begin, end), usage in frames.items()
            ],
        }
