"""Plans' checks: names, quotas by the service that keeps them, decimal terms, the price list's currency."""

from __future__ import annotations

from typing import Any

import pytest

from overcast import errors
from overcast.db.models.portal import PortalPlan
from overcast.portal import plans, tokens


def made(body: dict[str, Any], currency: str | None = "EUR") -> PortalPlan:
    row = PortalPlan()
    plans.apply(row, {"name": "basic", "price_list": "std", **body}, currency, creating=True)
    return row


def test_a_plan_takes_its_currency_from_its_price_list() -> None:
    row = made(
        {"quotas": {"instances": 5, "gigabytes": 100, "router": 1}, "trial_credit": 10, "mode": "prepaid"}
    )
    assert plans.view(row) == {
        "name": "basic", "description": "", "quotas": {"instances": 5, "gigabytes": 100, "router": 1},
        "price_list": "std", "currency": "EUR", "mode": "prepaid", "credit_limit": None, "trial_credit": "10",
        "default": False,
    }  # fmt: skip
    with pytest.raises(errors.BadRequest, match="not USD"):
        made({"currency": "USD"})
    with pytest.raises(errors.BadRequest, match="an existing price list"):
        made({}, currency=None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "-x"}, "Invalid name"),
        ({"name": "a" * 65}, "Invalid name"),
        ({"quotas": {"instances": -2}}, "Invalid quota instances"),
        ({"quotas": {"instances": True}}, "Invalid quota instances"),
        ({"quotas": {"images": 1}}, "Unknown quota"),
        ({"quotas": []}, "Invalid quotas"),
        ({"mode": "free"}, "Invalid mode"),
        ({"credit_limit": "-1"}, "credit_limit"),
        ({"trial_credit": 0.1}, "trial_credit"),
        ({"default": "yes"}, "Invalid default"),
        ({"colour": "blue"}, "Unknown plan field"),
    ],
)
def test_bad_plans_are_400s(body: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.BadRequest, match=message):
        made(body)


def test_quotas_belong_to_one_service_each() -> None:
    assert set(plans.COMPUTE_QUOTAS) >= {"instances", "cores", "ram", "floating_ips"}
    assert set(plans.VOLUME_QUOTAS) >= {"volumes", "gigabytes"}
    assert set(plans.NETWORK_QUOTAS) >= {"network", "router"}
    assert len(plans.QUOTAS) == len(set(plans.QUOTAS))


def test_tokens_are_random_and_stored_as_digests() -> None:
    first, second = tokens.new_token(), tokens.new_token()
    assert first != second and len(first) >= 40
    assert tokens.digest(first) == tokens.digest(f" {first}\n") != first
    assert len(tokens.digest(first)) == 64
    assert tokens.new_code() != tokens.new_code()
