"""Rating: metered usage slices x price lists → invoice lines, exact to the cent.

Pure arithmetic on Decimals (no database, no clock), so the same function rates an open period for a
balance, a closed one for an invoice, and a month of 10,000 instances for the bench.

- A slice is split where a new version of its project's price list takes effect, so a price change in
  the middle of a period bills each part at its own price.
- A line is one resource x metric x rate x price-list version: its quantity sums quantity x seconds over
  every slice it covers and is divided (by 3600 for hourly units, by 3600 x 730 for GB-months) once,
  and its amount is rounded to the currency's minor unit once (ROUND_HALF_UP), never per slice.
- Free tiers, then percentage discounts, then fixed credits, make negative lines of their own, so every
  line of an invoice can be checked by hand: quantity x unit price = amount.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from overcast.billing.money import EXACT, round_amount

HOURS_PER_MONTH = 730  # a GB-month is 730 hours of one GiB, as the public clouds count it
SECONDS_PER_HOUR = Decimal(3600)

# The unit a rate prices, and what multiplies the slice's quantity x hours for it.
HOUR = "hour"  # per unit held per hour (an instance-hour, a floating-IP hour, a GiB-hour)
GB_MONTH = "gb_month"  # per GiB held per 730 hours
VCPU_HOUR = "vcpu_hour"  # per vCPU of the instance's flavor per hour
RAM_GB_HOUR = "ram_gb_hour"  # per GiB of the instance's flavor's RAM per hour
UNITS = (HOUR, GB_MONTH, VCPU_HOUR, RAM_GB_HOUR)
FLAVOR_UNITS = (VCPU_HOUR, RAM_GB_HOUR)

INSTANCE_METRICS = ("instance.running", "instance.stopped", "instance.shelved")
SIZE_METRICS = ("volume.gb", "snapshot.gb", "backup.gb", "image.gb")
METRICS = (*INSTANCE_METRICS, *SIZE_METRICS, "floating_ip")
# The slice attribute a rate's `match` is compared with, per metric.
MATCHED_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    **{metric: ("flavor_name", "flavor_id") for metric in INSTANCE_METRICS},
    "volume.gb": ("volume_type",),
    "snapshot.gb": ("volume_type",),
    "backup.gb": ("volume_type",),
    "image.gb": ("disk_format",),
    "floating_ip": (),
}

USAGE = "usage"
FREE_TIER = "free_tier"
DISCOUNT = "discount"
CREDIT = "credit"
ADJUSTMENT = "adjustment"
PERCENT = "percent"


class Usage(Protocol):
    """What rating reads of a metering UsageSlice."""

    @property
    def project_id(self) -> str: ...
    @property
    def resource_type(self) -> str: ...
    @property
    def resource_id(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def attributes(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class Rate:
    metric: str
    unit: str
    price: Decimal
    match: str | None = None  # a flavor (name or id), volume type or disk format; None: any


@dataclass(frozen=True)
class FreeTier:
    """`quantity` of a metric free each period, in the unit of the rates it covers (the first used)."""

    metric: str
    quantity: Decimal
    match: str | None = None


@dataclass(frozen=True)
class PriceList:
    """One version of a named price list, in force from `effective_from` until the next version's."""

    id: str
    name: str
    version: int
    currency: str
    effective_from: datetime
    rates: tuple[Rate, ...]
    free_tiers: tuple[FreeTier, ...] = ()

    def rates_for(self, metric: str, attributes: Mapping[str, str]) -> tuple[Rate, ...]:
        """The rates billing a slice: those matching its flavor/type, else those matching anything."""
        candidates = [rate for rate in self.rates if rate.metric == metric]
        values = {attributes.get(name) for name in MATCHED_ATTRIBUTES.get(metric, ())} - {None}
        specific = tuple(rate for rate in candidates if rate.match is not None and rate.match in values)
        return specific or tuple(rate for rate in candidates if rate.match is None)


@dataclass(frozen=True)
class Discount:
    kind: str  # PERCENT (value in percent) or CREDIT (value: an amount per period)
    value: Decimal
    metric: str | None = None  # only this metric's lines; None: the whole invoice
    description: str = ""


@dataclass(frozen=True)
class Line:
    key: str  # what identifies the line across re-ratings of the same period (adjustments)
    kind: str
    project_id: str
    resource_type: str
    resource_id: str
    metric: str
    description: str
    unit: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    start: datetime | None = None
    end: datetime | None = None
    price_list_id: str | None = None
    subject: str = ""  # the flavor, volume type or disk format the usage had (what a rate matches)


@dataclass
class _Accumulator:
    usage: Usage
    rate: Rate
    price_list: PriceList
    subject: str
    start: datetime
    end: datetime
    unit_seconds: Decimal = Decimal(0)


def _multiplier(rate: Rate, attributes: Mapping[str, str]) -> Decimal:
    if rate.unit == VCPU_HOUR:
        return Decimal(attributes.get("vcpus", "0"))
    if rate.unit == RAM_GB_HOUR:
        return Decimal(attributes.get("memory_mb", "0")) / 1024
    return Decimal(1)


def _divisor(unit: str) -> Decimal:
    return SECONDS_PER_HOUR * HOURS_PER_MONTH if unit == GB_MONTH else SECONDS_PER_HOUR


def _segments(
    start: datetime, end: datetime, schedule: Sequence[PriceList]
) -> Iterable[tuple[datetime, datetime, PriceList]]:
    """[start, end) cut where each version of the schedule (sorted by effective_from) takes effect."""
    for index, price_list in enumerate(schedule):
        until = schedule[index + 1].effective_from if index + 1 < len(schedule) else None
        low = max(start, price_list.effective_from)
        high = end if until is None else min(end, until)
        if low < high:
            yield low, high, price_list


def _describe(metric: str, rate: Rate, subject: str) -> str:
    unit = {VCPU_HOUR: " (vCPU-hours)", RAM_GB_HOUR: " (GB-RAM-hours)"}.get(rate.unit, "")
    return f"{metric} {subject}{unit}" if subject else f"{metric}{unit}"


def rate_usage(
    slices: Iterable[Usage], schedule_of: Callable[[str], Sequence[PriceList]], currency: str
) -> list[Line]:
    """One usage line per resource x metric x rate x price-list version, in first-use order."""
    groups: dict[tuple[str, str, str, str, str, int], _Accumulator] = {}
    # Which rates bill what: asked once per version, metric and matched attributes, not once per slice.
    chosen: dict[tuple[str, str, tuple[str | None, ...]], tuple[Rate, ...]] = {}
    for usage in slices:
        metric, attributes = usage.metric, usage.attributes
        matched = tuple(attributes.get(name) for name in MATCHED_ATTRIBUTES.get(metric, ()))
        subject = next((value for value in matched if value), "")
        for low, high, price_list in _segments(usage.start, usage.end, schedule_of(usage.project_id)):
            seconds = Decimal(int((high - low).total_seconds()))
            rates = chosen.get((price_list.id, metric, matched))
            if rates is None:
                rates = chosen[(price_list.id, metric, matched)] = price_list.rates_for(metric, attributes)
            for rate in rates:
                # id(rate): the schedule holds its rates for the whole call, and a Rate's hash is slow.
                key = (usage.project_id, usage.resource_id, metric, subject, price_list.id, id(rate))
                group = groups.get(key)
                if group is None:
                    group = groups[key] = _Accumulator(usage, rate, price_list, subject, low, high)
                elif low < group.start:
                    group.start = low
                if high > group.end:
                    group.end = high
                multiplier = _multiplier(rate, attributes) if rate.unit in FLAVOR_UNITS else 1
                group.unit_seconds += usage.quantity * multiplier * seconds
    return [_usage_line(group, currency) for group in groups.values()]


def _usage_line(group: _Accumulator, currency: str) -> Line:
    usage, rate = group.usage, group.rate
    quantity = EXACT.divide(group.unit_seconds, _divisor(rate.unit))
    amount = round_amount(EXACT.multiply(quantity, rate.price), currency)
    return Line(
        key="|".join(
            (
                USAGE,
                usage.resource_id,
                usage.metric,
                group.subject,
                rate.unit,
                rate.match or "*",
                group.price_list.id,
            )
        ),
        kind=USAGE,
        project_id=usage.project_id,
        resource_type=usage.resource_type,
        resource_id=usage.resource_id,
        metric=usage.metric,
        description=_describe(usage.metric, rate, group.subject),
        unit=rate.unit,
        quantity=quantity,
        unit_price=rate.price,
        amount=amount,
        start=group.start,
        end=group.end,
        price_list_id=group.price_list.id,
        subject=group.subject,
    )


def apply_free_tiers(lines: Sequence[Line], tiers: Sequence[FreeTier], currency: str) -> list[Line]:
    """A negative line per tier and price: the tier's quantity taken from the earliest usage first."""
    credits: list[Line] = []
    for tier in tiers:
        left = tier.quantity
        taken: dict[tuple[str, Decimal], Decimal] = {}
        covered = sorted(
            (
                line
                for line in lines
                if line.kind == USAGE
                and line.metric == tier.metric
                and (tier.match is None or tier.match == line.subject)
            ),
            key=lambda line: (line.start or datetime.min.replace(tzinfo=UTC), line.resource_id),
        )
        for line in covered:
            if left <= 0:
                break
            used = min(left, line.quantity)
            taken[(line.unit, line.unit_price)] = taken.get((line.unit, line.unit_price), Decimal(0)) + used
            left -= used
        for (unit, price), quantity in taken.items():
            amount = -round_amount(EXACT.multiply(quantity, price), currency)
            credits.append(
                Line(
                    key="|".join((FREE_TIER, tier.metric, tier.match or "*", unit, str(price))),
                    kind=FREE_TIER,
                    project_id="",
                    resource_type="",
                    resource_id="",
                    metric=tier.metric,
                    description=f"free tier: {tier.metric}" + (f" {tier.match}" if tier.match else ""),
                    unit=unit,
                    quantity=quantity,
                    unit_price=-price,
                    amount=amount,
                )
            )
    return credits


def apply_discounts(lines: Sequence[Line], discounts: Sequence[Discount], currency: str) -> list[Line]:
    """Percentages first (of what is left after free tiers), then credits, never below zero."""
    result: list[Line] = []

    def subtotal(metric: str | None) -> Decimal:
        return sum(
            (line.amount for line in (*lines, *result) if metric is None or line.metric == metric), Decimal(0)
        )

    ordered = sorted(discounts, key=lambda discount: discount.kind != PERCENT)
    for position, discount in enumerate(ordered):
        base = subtotal(discount.metric)
        if base <= 0:
            continue
        if discount.kind == PERCENT:
            amount = -round_amount(EXACT.multiply(base, discount.value) / 100, currency)
            quantity, price = Decimal(1), amount
        else:
            amount = -min(discount.value, base)
            quantity, price = Decimal(1), amount
        kind = DISCOUNT if discount.kind == PERCENT else CREDIT
        label = discount.description or (
            f"{discount.value}% discount" if discount.kind == PERCENT else f"credit {discount.value}"
        )
        if discount.metric:
            label += f" on {discount.metric}"
        result.append(
            Line(
                key="|".join((kind, str(position), discount.metric or "*")),
                kind=kind,
                project_id="",
                resource_type="",
                resource_id="",
                metric=discount.metric or "",
                description=label,
                unit="period",
                quantity=quantity,
                unit_price=price,
                amount=amount,
            )
        )
    return result


def rate_period(
    slices: Iterable[Usage],
    schedule_of: Callable[[str], Sequence[PriceList]],
    currency: str,
    *,
    free_tiers: Sequence[FreeTier] = (),
    discounts: Sequence[Discount] = (),
) -> list[Line]:
    """Every line of one account's period: usage, free tiers, discounts and credits."""
    lines = rate_usage(slices, schedule_of, currency)
    lines.extend(apply_free_tiers(lines, free_tiers, currency))
    lines.extend(apply_discounts(lines, discounts, currency))
    return lines


def total(lines: Iterable[Line]) -> Decimal:
    return sum((line.amount for line in lines), Decimal(0))
