"""Previous and next pages over the APIs' forward-only markers.

OpenStack lists page forward only: `marker` (the last row seen) and `limit`. A page before the current one
is the same query in the reverse order from the current page's first row, read back to front; asking one
row more than a page tells whether another page lies beyond, either way. A list's links carry `marker`
(the page after that row) or `before` (the page before that row), never both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Fetches one page of rows given the order's query parameters, a marker and a limit.
Fetch = Callable[[Mapping[str, Any]], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    # The marker of the next page (this page's last row), None on the last page.
    next_marker: str | None
    # The `before` of the previous page (this page's first row), None on the first page.
    previous_before: str | None


@dataclass(frozen=True)
class Order:
    """A list's order as its API spells it, forward and reversed."""

    forward: Mapping[str, str]
    backward: Mapping[str, str]


async def fetch_page(fetch: Fetch, order: Order, size: int, marker: str = "", before: str = "") -> Page:
    if before:
        rows = await fetch({**order.backward, "marker": before, "limit": size + 1})
        more_before = len(rows) > size
        rows = list(reversed(rows[:size]))
        # The row `before` names is still after this page, unless it went away meanwhile.
        return Page(
            rows, str(rows[-1]["id"]) if rows else None, str(rows[0]["id"]) if rows and more_before else None
        )
    rows = await fetch({**order.forward, "marker": marker, "limit": size + 1})
    more_after = len(rows) > size
    rows = rows[:size]
    previous = (str(rows[0]["id"]) if rows else marker) if marker else None
    return Page(rows, str(rows[-1]["id"]) if more_after else None, previous)
