"""Invoice periods: calendar months, ISO weeks or days, in UTC."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from overcast import errors

KINDS = ("month", "week", "day")


def period_start(kind: str, at: datetime) -> datetime:
    """The start of the period holding `at`."""
    at = at.astimezone(UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "month":
        return day.replace(day=1)
    if kind == "week":
        return day - timedelta(days=day.weekday())
    if kind == "day":
        return day
    raise ValueError(f"unknown billing period {kind!r}; one of {', '.join(KINDS)}")


def period_end(kind: str, start: datetime) -> datetime:
    if kind == "month":
        return (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else start.replace(month=start.month + 1)
        )
    return start + timedelta(days=7 if kind == "week" else 1)


def checked_start(kind: str, start: datetime) -> datetime:
    """`start` if a period begins there, else a 400 naming the period that holds it."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    begins = period_start(kind, start)
    if begins != start:
        raise errors.BadRequest(
            f"{start.isoformat()} does not begin a billing period ({kind}); {begins.isoformat()} does."
        )
    return begins


def between(kind: str, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The periods overlapping [start, end), each clipped to it."""
    begins = period_start(kind, start)
    while begins < end:
        ends = period_end(kind, begins)
        yield max(begins, start), min(ends, end)
        begins = ends


def label(kind: str, start: datetime) -> str:
    if kind == "month":
        return start.strftime("%Y-%m")
    if kind == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%Y-%m-%d")
