"""BillingAPI's rules: admins manage, members see their own account's invoices and nobody else's, bad
price lists and accounts are clear 4xx errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from overcast import errors
from overcast.billing.api import BillingAPI
from overcast.context import RequestContext
from overcast.db import Database
from overcast.metering.usage import UsageReader

NOW = datetime(2031, 2, 10, tzinfo=UTC)
ADMIN = RequestContext.admin()
ALICE = RequestContext(user_id="alice", project_id="p-alice", roles=("member",))
BOB = RequestContext(user_id="bob", project_id="p-bob", roles=("member",))
RATES = [{"metric": "instance.running", "unit": "hour", "price": "0.10"}]


@pytest.fixture
def api(db: Database) -> BillingAPI:
    service = BillingAPI(db, UsageReader(db, lambda: NOW), lambda: NOW)
    service.create_price_list(ADMIN, {"name": "standard", "currency": "EUR", "rates": RATES,
                                      "effective_from": "2031-01-01T00:00:00Z"})  # fmt: skip
    for name, project in (("alice-co", "p-alice"), ("bob-co", "p-bob")):
        account = service.create_account(ADMIN, {"name": name, "currency": "EUR", "price_list": "standard"})
        service.set_project(ADMIN, account["id"], project, {})
    service.generate_invoices(ADMIN, {"period_start": "2031-01-01T00:00:00Z"})
    return service


def account_id(api: BillingAPI, name: str) -> str:
    return next(account["id"] for account in api.list_accounts(ADMIN) if account["name"] == name)


def test_members_see_their_own_accounts_invoices_only(api: BillingAPI) -> None:
    [mine] = api.list_invoices(ALICE, None, None)
    assert mine["account_id"] == account_id(api, "alice-co")
    [theirs] = api.list_invoices(BOB, None, None)
    with pytest.raises(errors.NotFound):
        api.get_invoice(ALICE, theirs["id"])
    with pytest.raises(errors.NotFound):
        api.list_invoices(ALICE, theirs["account_id"], None)
    assert api.get_invoice(ALICE, mine["id"])["lines"] == []
    assert api.balance_of(ALICE, None)["account_name"] == "alice-co"
    with pytest.raises(errors.Forbidden):
        api.balance_of(ALICE, "p-bob")


def test_only_admins_manage(api: BillingAPI) -> None:
    [mine] = api.list_invoices(ALICE, None, None)
    for attempt in (
        lambda: api.list_accounts(ALICE),
        lambda: api.create_price_list(ALICE, {"name": "cheap", "currency": "EUR", "rates": RATES}),
        lambda: api.invoice_action(ALICE, mine["id"], {"void": {}}),
        lambda: api.record_payment(ALICE, {"account_id": mine["account_id"], "amount": "1", "currency": "EUR",
                                           "reference": "r"}),
    ):  # fmt: skip
        with pytest.raises(errors.Forbidden):
            attempt()


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({"rates": [{"metric": "instance.flying", "price": "1"}]}, errors.BadRequest, "metric"),
        (
            {"rates": [{"metric": "instance.running", "price": 0.1}]},
            errors.BadRequest,
            "decimal number as a string",
        ),
        ({"rates": [{"metric": "instance.running", "price": "-1"}]}, errors.BadRequest, "non-negative"),
        ({"rates": [{"metric": "volume.gb", "unit": "vcpu_hour", "price": "1"}]}, errors.BadRequest, "vCPU"),
        ({"currency": "USD"}, errors.Conflict, "is in EUR"),
        ({"effective_from": "2030-12-01T00:00:00Z"}, errors.Conflict, "must take effect after"),
        ({"currency": "euros"}, errors.BadRequest, "ISO 4217"),
    ],
)
def test_a_bad_price_list_is_a_clear_error(
    api: BillingAPI, body: dict[str, Any], error: type[errors.OvercastError], message: str
) -> None:
    base = {"name": "standard", "currency": "EUR", "rates": RATES, "effective_from": "2031-03-01T00:00:00Z"}
    with pytest.raises(error, match=message):
        api.create_price_list(ADMIN, {**base, **body})


def test_a_project_is_billed_to_one_account_and_an_account_with_invoices_stays(api: BillingAPI) -> None:
    with pytest.raises(errors.Conflict, match="is billed to account"):
        api.set_project(ADMIN, account_id(api, "bob-co"), "p-alice", {})
    with pytest.raises(errors.Conflict, match="has invoices or payments"):
        api.delete_account(ADMIN, account_id(api, "bob-co"))
    with pytest.raises(errors.BadRequest, match="Price list 'nope' does not exist"):
        api.create_account(ADMIN, {"name": "x", "currency": "EUR", "price_list": "nope"})
