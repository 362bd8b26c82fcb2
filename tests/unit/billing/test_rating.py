"""Rating: price changes split periods, one rounding per line, free tiers, discounts and credits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from overcast.billing import rating
from overcast.billing.money import round_amount
from overcast.billing.rating import Discount, FreeTier, PriceList, Rate

START = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Slice:
    """The shape of a metering UsageSlice, built by hand."""

    project_id: str
    resource_type: str
    resource_id: str
    metric: str
    start: datetime
    end: datetime
    quantity: Decimal = Decimal(1)
    attributes: Mapping[str, str] = field(default_factory=dict)


def server(
    resource_id: str, hours: float, *, at: float = 0, flavor: str = "m1.small", state: str = "running"
) -> Slice:
    return Slice(
        "p1", "instance", resource_id, f"instance.{state}",
        START + timedelta(hours=at), START + timedelta(hours=at + hours),
        attributes={"flavor_name": flavor, "flavor_id": "f-" + flavor, "vcpus": "2", "memory_mb": "3072"},
    )  # fmt: skip


def price_list(
    *rates: Rate, version: int = 1, since: datetime = START, tiers: Sequence[FreeTier] = ()
) -> PriceList:
    return PriceList(f"pl-{version}", "standard", version, "EUR", since, tuple(rates), tuple(tiers))


def schedule(*lists: PriceList) -> rating.Callable[[str], Sequence[PriceList]]:
    return lambda project_id: lists


def test_an_hourly_flavor_price_bills_exact_seconds_rounded_once_per_line() -> None:
    # Three slices of 20 minutes and 1 second each: per slice 0.0334 EUR would round to 0.03 three times
    # (0.09); the line is 3601 s x 0.1 EUR/h = 0.10002... -> 0.10.
    slices = [
        Slice("p1", "instance", "s1", "instance.running", START + timedelta(hours=n),
              START + timedelta(hours=n, minutes=20, seconds=1), attributes={"flavor_name": "m1.small"})
        for n in range(3)
    ]  # fmt: skip
    lines = rating.rate_usage(
        slices, schedule(price_list(Rate("instance.running", "hour", Decimal("0.1")))), "EUR"
    )
    assert len(lines) == 1
    assert lines[0].quantity.quantize(Decimal("0.000001")) == Decimal("1.000833")
    assert lines[0].amount == Decimal("0.10")
    assert (lines[0].start, lines[0].end) == (START, START + timedelta(hours=2, minutes=20, seconds=1))


def test_a_price_change_in_the_middle_splits_the_usage() -> None:
    old = price_list(Rate("instance.running", "hour", Decimal("0.10")))
    new = price_list(
        Rate("instance.running", "hour", Decimal("0.25")), version=2, since=START + timedelta(hours=10)
    )
    lines = rating.rate_usage([server("s1", 30)], schedule(old, new), "EUR")
    assert [(line.price_list_id, line.quantity, line.amount) for line in lines] == [
        ("pl-1", Decimal(10), Decimal("1.00")),
        ("pl-2", Decimal(20), Decimal("5.00")),
    ]


def test_a_flavor_specific_rate_wins_over_the_generic_one_and_states_are_priced_apart() -> None:
    prices = price_list(
        Rate("instance.running", "hour", Decimal("0.05")),
        Rate("instance.running", "hour", Decimal("0.40"), match="m1.large"),
        Rate("instance.stopped", "hour", Decimal("0.01")),
    )
    slices = [
        server("s1", 2),
        server("s1", 3, at=2, flavor="m1.large"),
        server("s1", 5, at=5, state="stopped"),
    ]
    lines = rating.rate_usage(slices, schedule(prices), "EUR")
    assert [(line.metric, line.subject, line.amount) for line in lines] == [
        ("instance.running", "m1.small", Decimal("0.10")),
        ("instance.running", "m1.large", Decimal("1.20")),
        ("instance.stopped", "m1.small", Decimal("0.05")),
    ]


def test_vcpu_and_ram_hours_as_the_alternative_to_flavor_prices() -> None:
    prices = price_list(
        Rate("instance.running", "vcpu_hour", Decimal("0.02")),
        Rate("instance.running", "ram_gb_hour", Decimal("0.005")),
    )
    lines = rating.rate_usage([server("s1", 10)], schedule(prices), "EUR")
    # 2 vCPU x 10 h x 0.02 = 0.40; 3 GiB x 10 h x 0.005 = 0.15.
    assert [(line.unit, line.quantity, line.amount) for line in lines] == [
        ("vcpu_hour", Decimal(20), Decimal("0.40")),
        ("ram_gb_hour", Decimal(30), Decimal("0.15")),
    ]


def test_gb_months_are_730_hours_of_one_gib_by_volume_type() -> None:
    prices = price_list(
        Rate("volume.gb", "gb_month", Decimal("0.10")),
        Rate("volume.gb", "gb_month", Decimal("0.30"), match="ssd"),
    )
    volume = Slice(
        "p1",
        "volume",
        "v1",
        "volume.gb",
        START,
        START + timedelta(hours=365),
        Decimal(10),
        {"volume_type": "ssd"},
    )
    plain = Slice(
        "p1",
        "volume",
        "v2",
        "volume.gb",
        START,
        START + timedelta(hours=730),
        Decimal(5),
        {"volume_type": "hdd"},
    )
    lines = rating.rate_usage([volume, plain], schedule(prices), "EUR")
    assert [(line.quantity, line.amount) for line in lines] == [
        (Decimal(5), Decimal("1.50")),
        (Decimal(5), Decimal("0.50")),
    ]


def test_usage_without_a_rate_is_not_billed() -> None:
    lines = rating.rate_usage(
        [server("s1", 5)], schedule(price_list(Rate("floating_ip", "hour", Decimal(1)))), "EUR"
    )
    assert lines == []


def test_rounding_is_half_up_to_the_currency_minor_unit() -> None:
    assert round_amount(Decimal("0.125"), "EUR") == Decimal("0.13")
    assert round_amount(Decimal("-0.125"), "EUR") == Decimal("-0.13")
    assert round_amount(Decimal("12.5"), "JPY") == Decimal(13)
    assert round_amount(Decimal("1.2345"), "KWD") == Decimal("1.235")


def test_a_free_tier_takes_the_earliest_usage_first_across_a_price_change() -> None:
    old = price_list(
        Rate("instance.running", "hour", Decimal("0.10")), tiers=[FreeTier("instance.running", Decimal(15))]
    )
    new = price_list(
        Rate("instance.running", "hour", Decimal("0.20")), version=2, since=START + timedelta(hours=10)
    )
    lines = rating.rate_period([server("s1", 30)], schedule(old, new), "EUR", free_tiers=old.free_tiers)
    free = [line for line in lines if line.kind == rating.FREE_TIER]
    # 10 h at 0.10 and the next 5 h at 0.20 are free.
    assert [(line.quantity, line.amount) for line in free] == [
        (Decimal(10), Decimal("-1.00")),
        (Decimal(5), Decimal("-1.00")),
    ]
    assert rating.total(lines) == Decimal("3.00")


def test_a_free_tier_larger_than_the_usage_never_makes_a_credit() -> None:
    prices = price_list(Rate("instance.running", "hour", Decimal("0.10")))
    lines = rating.rate_period(
        [server("s1", 3)],
        schedule(prices),
        "EUR",
        free_tiers=[FreeTier("instance.running", Decimal(100), "m1.small")],
    )
    assert rating.total(lines) == Decimal(0)


def test_percentages_apply_before_credits_and_a_credit_never_goes_below_zero() -> None:
    prices = price_list(
        Rate("instance.running", "hour", Decimal("1")), Rate("floating_ip", "hour", Decimal("0.5"))
    )
    ip = Slice("p1", "floating_ip", "ip1", "floating_ip", START, START + timedelta(hours=10))
    discounts = [
        Discount("credit", Decimal("100")),
        Discount("percent", Decimal("10"), metric="instance.running"),
    ]
    lines = rating.rate_period([server("s1", 10), ip], schedule(prices), "EUR", discounts=discounts)
    assert [(line.kind, line.amount) for line in lines] == [
        ("usage", Decimal("10.00")),
        ("usage", Decimal("5.00")),
        ("discount", Decimal("-1.00")),
        ("credit", Decimal("-14.00")),
    ]
    assert rating.total(lines) == Decimal(0)


def test_line_keys_are_stable_across_ratings_of_the_same_period() -> None:
    prices = price_list(Rate("instance.running", "hour", Decimal("0.1")))
    first = rating.rate_usage([server("s1", 3)], schedule(prices), "EUR")
    again = rating.rate_usage([server("s1", 4)], schedule(prices), "EUR")
    assert [line.key for line in first] == [line.key for line in again]
    assert first[0].amount != again[0].amount
