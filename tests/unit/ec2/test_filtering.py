"""Filter.N as AWS matches it: any value of a filter, every filter, * and ? wildcards, tags."""

from __future__ import annotations

import pytest

from overcast.ec2.errors import Ec2Error
from overcast.ec2.filtering import FilterTable
from overcast.ec2.params import Filter

ITEMS = [
    {"id": "i-1", "state": "running", "tags": {"Name": "web-1", "tier": "front"}, "groups": ["a", "b"]},
    {"id": "i-2", "state": "stopped", "tags": {"Name": "db[1]"}, "groups": []},
]
TABLE: FilterTable[dict[str, object]] = FilterTable(
    {"instance-id": lambda i: i["id"], "state": lambda i: i["state"], "group": lambda i: i["groups"]},
    tags=lambda i: i["tags"],  # type: ignore[arg-type,return-value]
)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([Filter("state", ("running", "pending"))], ["i-1"]),
        ([Filter("instance-id", ("i-?",)), Filter("state", ("stopped",))], ["i-2"]),
        ([Filter("tag:Name", ("web-*",))], ["i-1"]),
        ([Filter("tag:Name", ("db[1]",))], ["i-2"]),
        ([Filter("tag-key", ("tier",))], ["i-1"]),
        ([Filter("tag-value", ("*",))], ["i-1", "i-2"]),
        ([Filter("group", ("b",))], ["i-1"]),
        ([Filter("state", ("RUNNING",))], []),
    ],
)
def test_filters_select_as_aws_does(filters: list[Filter], expected: list[str]) -> None:
    assert [item["id"] for item in TABLE.apply(ITEMS, filters)] == expected


def test_an_undocumented_filter_is_refused() -> None:
    with pytest.raises(Ec2Error) as error:
        TABLE.apply(ITEMS, [Filter("color", ("red",))])
    assert error.value.code == "InvalidParameterValue"
