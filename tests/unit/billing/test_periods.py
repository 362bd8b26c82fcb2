"""Invoice periods: months, ISO weeks and days in UTC, and the periods a span crosses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from overcast import errors
from overcast.billing import periods


def test_a_period_holding_an_instant_whatever_its_zone() -> None:
    late_on_new_years_eve = datetime(2030, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    assert periods.period_start("month", late_on_new_years_eve) == datetime(2031, 1, 1, tzinfo=UTC)
    assert periods.period_start("week", datetime(2031, 1, 1, 12, tzinfo=UTC)) == datetime(
        2030, 12, 30, tzinfo=UTC
    )
    assert periods.period_end("month", datetime(2030, 12, 1, tzinfo=UTC)) == datetime(2031, 1, 1, tzinfo=UTC)
    assert periods.label("week", datetime(2030, 12, 30, tzinfo=UTC)) == "2031-W01"  # ISO: the week of Jan 1st


def test_between_clips_the_first_and_last_period() -> None:
    start, end = datetime(2031, 1, 20, tzinfo=UTC), datetime(2031, 3, 2, tzinfo=UTC)
    assert list(periods.between("month", start, end)) == [
        (start, datetime(2031, 2, 1, tzinfo=UTC)),
        (datetime(2031, 2, 1, tzinfo=UTC), datetime(2031, 3, 1, tzinfo=UTC)),
        (datetime(2031, 3, 1, tzinfo=UTC), end),
    ]


def test_a_generated_period_must_begin_where_a_period_begins() -> None:
    assert periods.checked_start("day", datetime(2031, 1, 2)) == datetime(2031, 1, 2, tzinfo=UTC)
    with pytest.raises(errors.BadRequest, match="2031-01-01T00:00:00"):
        periods.checked_start("month", datetime(2031, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="unknown billing period"):
        periods.period_start("fortnight", datetime(2031, 1, 2, tzinfo=UTC))
