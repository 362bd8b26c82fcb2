"""MaxResults/NextToken: pages cover the items once, and a token is only good for its own listing."""

from __future__ import annotations

import pytest

from overcast.ec2.errors import Ec2Error
from overcast.ec2.pagination import page
from overcast.ec2.params import Params

KEY = b"k" * 32


def test_pages_walk_the_items_once() -> None:
    items = list(range(12))
    seen: list[int] = []
    token: str | None = None
    while True:
        values = {"MaxResults": "5", **({"NextToken": token} if token else {})}
        shown, token = page(items, Params(values), key=KEY, scope="DescribeThings:p1")
        seen.extend(shown)
        if token is None:
            break
    assert seen == items


def test_a_token_of_another_listing_or_project_is_invalid() -> None:
    _, token = page(list(range(12)), Params({"MaxResults": "5"}), key=KEY, scope="DescribeThings:p1")
    assert token is not None
    for scope in ("DescribeThings:p2", "DescribeOthers:p1"):
        with pytest.raises(Ec2Error) as error:
            page(list(range(12)), Params({"NextToken": token}), key=KEY, scope=scope)
        assert error.value.code == "InvalidNextToken"


def test_max_results_outside_the_actions_bounds_is_refused() -> None:
    for value in ("4", "1001", "many"):
        with pytest.raises(Ec2Error) as error:
            page([], Params({"MaxResults": value}), key=KEY, scope="s")
        assert error.value.code == "InvalidParameterValue"
