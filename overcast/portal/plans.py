"""Plans: what a sign-up gets (quotas, the billing terms). Rows of portal_plans; one may be the default
(the plan of a sign-up that names none)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.billing.money import check_currency, parse_decimal, text
from overcast.compute.api.quota_views import QUOTA_SET_RESOURCES
from overcast.db.models.portal import PortalPlan
from overcast.network.api.quotas import NETWORK_QUOTA_DEFAULTS
from overcast.quota import DEFAULT_LIMITS
from overcast.volume.quotas import VOLUME_QUOTA_DEFAULTS

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MODES = ("prepaid", "postpaid")
FIELDS = (
    "name", "description", "quotas", "price_list", "currency", "mode", "credit_limit", "trial_credit",
    "default",
)  # fmt: skip
# Every quota a plan may set, by the service that keeps it (Nova's, Cinder's and Neutron's names).
COMPUTE_QUOTAS = tuple(name for name in DEFAULT_LIMITS if name in QUOTA_SET_RESOURCES)
VOLUME_QUOTAS = tuple(VOLUME_QUOTA_DEFAULTS)
NETWORK_QUOTAS = tuple(NETWORK_QUOTA_DEFAULTS)
QUOTAS = (*COMPUTE_QUOTAS, *VOLUME_QUOTAS, *NETWORK_QUOTAS)


def view(row: PortalPlan) -> dict[str, Any]:
    return {
        "name": row.name, "description": row.description, "quotas": dict(row.quotas),
        "price_list": row.price_list, "currency": row.currency, "mode": row.mode,
        "credit_limit": row.credit_limit, "trial_credit": row.trial_credit, "default": row.is_default,
    }  # fmt: skip


def get(session: Session, name: str) -> PortalPlan:
    row = session.get(PortalPlan, name)
    if row is None:
        raise errors.NotFound(f"Plan {name} could not be found.")
    return row


def default(session: Session) -> PortalPlan | None:
    return session.scalar(select(PortalPlan).where(PortalPlan.is_default.is_(True)).limit(1))


def _quotas(value: object) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise errors.BadRequest('Invalid quotas: an object such as {"instances": 10, "cores": 20}.')
    unknown = sorted(set(value) - set(QUOTAS))
    if unknown:
        raise errors.BadRequest(
            f"Unknown quota(s) {', '.join(map(str, unknown))}; a plan may set {', '.join(QUOTAS)}."
        )
    for name, limit in value.items():
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < -1:
            raise errors.BadRequest(f"Invalid quota {name}: an integer, -1 for unlimited.")
    return {str(name): int(limit) for name, limit in value.items()}


def _optional_amount(value: object, what: str) -> str | None:
    if value is None:
        return None
    amount = parse_decimal(value, what)
    return text(amount)


def apply(
    row: PortalPlan, body: Mapping[str, Any], price_list_currency: str | None, *, creating: bool
) -> None:
    """Check and set the body's fields on the row; `price_list_currency` is the currency of the price
    list the body names (None when it names none)."""
    unknown = set(body) - set(FIELDS)
    if unknown:
        raise errors.BadRequest(f"Unknown plan field(s): {', '.join(sorted(unknown))}.")
    if creating:
        name = body.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise errors.BadRequest(
                "Invalid name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."
            )
        row.name = name
    elif "name" in body and body["name"] != row.name:
        raise errors.BadRequest("A plan's name cannot change.")
    if "description" in body:
        if not isinstance(body["description"], str) or len(body["description"]) > 1000:
            raise errors.BadRequest("Invalid description: text of at most 1000 characters.")
        row.description = body["description"]
    elif creating:
        row.description = ""
    if "quotas" in body or creating:
        row.quotas = _quotas(body.get("quotas", {}))
    if "price_list" in body or creating:
        if not isinstance(body.get("price_list"), str) or price_list_currency is None:
            raise errors.BadRequest("Invalid price_list: the name of an existing price list.")
        row.price_list = body["price_list"]
        row.currency = price_list_currency
    if "currency" in body and check_currency(str(body["currency"])) != row.currency:
        raise errors.BadRequest(f"The plan's price list is in {row.currency}, not {body['currency']}.")
    if "mode" in body or creating:
        mode = body.get("mode", "postpaid")
        if mode not in MODES:
            raise errors.BadRequest("Invalid mode: prepaid or postpaid.")
        row.mode = mode
    if "credit_limit" in body:
        row.credit_limit = _optional_amount(body["credit_limit"], "credit_limit")
    if "trial_credit" in body:
        row.trial_credit = _optional_amount(body["trial_credit"], "trial_credit")
    if "default" in body:
        if not isinstance(body["default"], bool):
            raise errors.BadRequest("Invalid default: true or false.")
        row.is_default = body["default"]
    elif creating:
        row.is_default = False


def make_the_only_default(session: Session, name: str) -> None:
    session.execute(
        update(PortalPlan)
        .where(PortalPlan.name != name, PortalPlan.is_default.is_(True))
        .values(is_default=False)
    )
