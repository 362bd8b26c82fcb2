from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from overcast.dashboard.paging import Fetch, Order, Page, fetch_page

ORDER = Order({"sort": "name:asc"}, {"sort": "name:desc"})


def api_of(names: list[str]) -> Fetch:
    """An API listing `names` (ids as names) forward or reversed, after a marker, at most `limit`."""

    async def fetch(query: Mapping[str, Any]) -> list[dict[str, Any]]:
        rows = sorted(names, reverse=query["sort"] == "name:desc")
        if query["marker"]:
            rows = rows[rows.index(query["marker"]) + 1 :]
        return [{"id": name} for name in rows[: query["limit"]]]

    return fetch


def page(fetch: Fetch, marker: str = "", before: str = "") -> Page:
    return asyncio.run(fetch_page(fetch, ORDER, 2, marker=marker, before=before))


def ids(found: Page) -> list[str]:
    return [row["id"] for row in found.rows]


def test_next_and_previous_walk_the_whole_list_both_ways() -> None:
    fetch = api_of(["a", "b", "c", "d", "e"])
    first = page(fetch)
    assert (ids(first), first.previous_before, first.next_marker) == (["a", "b"], None, "b")
    second = page(fetch, marker="b")
    assert (ids(second), second.previous_before, second.next_marker) == (["c", "d"], "c", "d")
    last = page(fetch, marker="d")
    assert (ids(last), last.previous_before, last.next_marker) == (["e"], "e", None)
    back = page(fetch, before="e")
    assert (ids(back), back.previous_before, back.next_marker) == (["c", "d"], "c", "d")
    front = page(fetch, before="c")
    assert (ids(front), front.previous_before, front.next_marker) == (["a", "b"], None, "b")


def test_a_list_of_exactly_one_page_has_neither_link() -> None:
    only = page(api_of(["a", "b"]))
    assert (ids(only), only.previous_before, only.next_marker) == (["a", "b"], None, None)


def test_an_empty_page_after_a_marker_still_leads_back() -> None:
    """The marker's rows went away meanwhile: the previous link starts from the marker itself."""
    fetch = api_of(["a", "b"])
    beyond = page(fetch, marker="b")
    assert (ids(beyond), beyond.previous_before, beyond.next_marker) == ([], "b", None)
    assert ids(page(fetch, before="b")) == ["a"]
