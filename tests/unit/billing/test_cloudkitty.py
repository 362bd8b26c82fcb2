"""CloudKitty's v2 reports over rated usage: each billing period rated as its invoice rates it, CloudKitty's
names, a member's view held to its own project, and CloudKitty's query parameters checked."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from overcast import errors
from overcast.billing.api import BillingAPI
from overcast.billing.cloudkitty import (
    DATAFRAMES_PARAMETERS,
    SUMMARY_PARAMETERS,
    RatingReports,
    number,
    parse_query,
)
from overcast.context import RequestContext
from overcast.db import Database
from overcast.metering.usage import UsageSlice

NOW = datetime(2031, 2, 10, tzinfo=UTC)
FEBRUARY = datetime(2031, 2, 1, tzinfo=UTC)
ADMIN = RequestContext.admin()
ALICE = RequestContext(user_id="alice", project_id="p-alice", roles=("member",))
BOB = RequestContext(user_id="bob", project_id="p-bob", roles=("member",))
JANUARY_TO_MARCH = [("begin", "2031-01-01T00:00:00Z"), ("end", "2031-03-01T00:00:00Z")]


class RecordedUsage:
    """Slices as metering returns them: clipped to the window and to now."""

    def __init__(self, recorded: list[UsageSlice]) -> None:
        self.recorded = recorded

    def slices(
        self, start: datetime, end: datetime, project_ids: Collection[str] | None = None
    ) -> Iterator[UsageSlice]:
        end = min(end, NOW)
        for usage in self.recorded:
            low, high = max(usage.start, start), min(usage.end, end)
            if low < high and (project_ids is None or usage.project_id in project_ids):
                yield UsageSlice(
                    usage.project_id, usage.resource_type, usage.resource_id, usage.metric, low, high,
                    usage.quantity, usage.attributes,
                )  # fmt: skip


def instance(project: str, server: str, start: datetime, hours: int) -> UsageSlice:
    return UsageSlice(
        project, "instance", server, "instance.running", start, start + timedelta(hours=hours), Decimal(1),
        {"flavor_name": "m1.tiny", "flavor_id": "1"},
    )  # fmt: skip


@pytest.fixture
def reports(db: Database) -> RatingReports:
    # Half a cent an hour: one hour on each side of February 1st rounds to a cent in each month's invoice.
    usage = RecordedUsage([
        instance("p-alice", "vm-a", FEBRUARY - timedelta(hours=1), 2),
        instance("p-bob", "vm-b", FEBRUARY, 10),
    ])  # fmt: skip
    billing = BillingAPI(db, usage, lambda: NOW)
    billing.create_price_list(ADMIN, {
        "name": "standard", "currency": "EUR", "effective_from": "2031-01-01T00:00:00Z",
        "rates": [{"metric": "instance.running", "unit": "hour", "price": "0.005"}],
    })  # fmt: skip
    for name, project in (("alice-co", "p-alice"), ("bob-co", "p-bob")):
        account = billing.create_account(ADMIN, {"name": name, "currency": "EUR", "price_list": "standard"})
        billing.set_project(ADMIN, account["id"], project, {})
    return RatingReports(db, usage, lambda: NOW, "month")


def test_each_billing_period_is_rated_as_its_invoice_rates_it(reports: RatingReports) -> None:
    frames = reports.dataframes(ALICE, JANUARY_TO_MARCH)
    assert frames["total"] == 2
    assert [(frame["period"], frame["usage"]) for frame in frames["dataframes"]] == [
        (
            {"begin": f"2031-{month:02d}-01T00:00:00Z", "end": f"2031-{month + 1:02d}-01T00:00:00Z"},
            {"instance": [{
                "vol": {"unit": "hour", "qty": 1}, "rating": {"price": 0.01},
                "groupby": {"id": "vm-a", "project_id": "p-alice"}, "metadata": {"flavor_name": "m1.tiny"},
            }]},
        )
        for month in (1, 2)
    ]  # fmt: skip
    # Two hours rated at once would round to 0.01; each month's invoice bills 0.01.
    summary = reports.summary(ALICE, JANUARY_TO_MARCH)
    assert summary == {
        "total": 1,
        "columns": ["begin", "end", "qty", "rate"],
        "results": [["2031-01-01T00:00:00Z", "2031-03-01T00:00:00Z", 2, 0.02]],
    }


def test_a_member_sees_its_own_project_whatever_it_filters_on_and_an_admin_any(
    reports: RatingReports,
) -> None:
    by_project = [*JANUARY_TO_MARCH, ("groupby", "project_id")]
    assert reports.summary(BOB, [*by_project, ("filters", "project_id:p-alice")])["results"] == [
        ["2031-01-01T00:00:00Z", "2031-03-01T00:00:00Z", 10, 0.05, "p-bob"]
    ]
    assert [row[-1] for row in reports.summary(ADMIN, by_project)["results"]] == ["p-alice", "p-bob"]
    assert [
        row[-1] for row in reports.summary(ADMIN, [*by_project, ("filters", "project_id:p-bob")])["results"]
    ] == ["p-bob"]
    stranger = RequestContext(user_id="eve", project_id="p-eve", roles=("member",))
    assert reports.summary(stranger, by_project) == {"total": 0, "columns": [], "results": []}
    with pytest.raises(errors.NotFound, match="No resource found"):
        reports.dataframes(stranger, JANUARY_TO_MARCH)
    with pytest.raises(errors.Forbidden):
        reports.summary(RequestContext(user_id="nobody", project_id="p-alice", roles=()), JANUARY_TO_MARCH)


def test_query_defaults_to_the_current_month_and_reads_cloudkittys_repeated_parameters() -> None:
    query = parse_query(
        [("groupby", "type,id"), ("groupby", "type"), ("filters", "type:instance,id:vm-a"), ("limit", "5")],
        SUMMARY_PARAMETERS,
        NOW,
    )
    assert (query.begin, query.end) == (FEBRUARY, datetime(2031, 3, 1, tzinfo=UTC))
    assert query.groupby == ("type", "id")
    assert query.filters == {"type": "instance", "id": "vm-a"}
    assert (query.offset, query.limit, query.response_format) == (0, 5, "table")
    # python-cloudkittyclient sends str(datetime): a space, not a T.
    spaced = parse_query([("begin", "2031-02-03 04:05:06+00:00")], DATAFRAMES_PARAMETERS, NOW)
    assert spaced.begin == datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    "items",
    [
        [("begin", "2031-01-01T00:00:00Z"), ("begin", "2031-01-02T00:00:00Z")],
        [("offset", "1.5")],
        [("begin", "0001-01-01T00:00:00+01:00")],  # before year 1 in UTC
        [("filters", "type:a:b")],
        [("filters", "colour:red")],
        [("groupby", "time-m")],
        [("custom_fields", "SUM(qty)")],  # the summary's only: Influx queries
        [("response_format", "object")],
    ],
)
def test_bad_dataframes_queries_are_400s(items: list[tuple[str, str]]) -> None:
    with pytest.raises(errors.BadRequest):
        parse_query(items, DATAFRAMES_PARAMETERS, NOW)


def test_numbers_keep_their_decimal_digits_in_json() -> None:
    assert json.dumps(
        [number(Decimal("0.41")), number(Decimal("5")), number(Decimal("123456789.123456"))]
    ) == ("[0.41, 5, 123456789.123456]")
