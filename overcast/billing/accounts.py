"""Billing accounts: a customer's projects, price list, mode, credit limit, discounts and budget."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.billing import prices, rating
from overcast.billing.money import check_currency, parse_decimal, text
from overcast.db.models.billing import BillingAccount, BillingAccountProject
from overcast.metering.usage import METRICS

MODES = ("prepaid", "postpaid")
FIELDS = (
    "name",
    "currency",
    "price_list",
    "mode",
    "credit_limit",
    "discounts",
    "budget",
    "alert_percentages",
    "email",
)


@dataclass(frozen=True)
class Terms:
    """What rating an account's period needs: its currency, each project's schedule, tiers, discounts."""

    account: BillingAccount
    project_ids: tuple[str, ...]
    schedules: Mapping[str, tuple[rating.PriceList, ...]]
    account_schedule: tuple[rating.PriceList, ...]
    discounts: tuple[rating.Discount, ...]

    def schedule_of(self, project_id: str) -> tuple[rating.PriceList, ...]:
        return self.schedules.get(project_id, ())

    def free_tiers(self, period_start: datetime) -> tuple[rating.FreeTier, ...]:
        """The free tiers of the account's price-list version in force when the period starts."""
        current = prices.in_force(self.account_schedule, period_start) or next(
            iter(self.account_schedule), None
        )
        return current.free_tiers if current else ()


def view(row: BillingAccount, project_ids: Sequence[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "currency": row.currency,
        "price_list": row.price_list,
        "mode": row.mode,
        "credit_limit": row.credit_limit,
        "discounts": row.discounts,
        "budget": row.budget,
        "alert_percentages": row.alert_percentages,
        "email": row.email,
        "projects": list(project_ids),
        "opened_at": row.opened_at.isoformat(),
        "over_limit_since": row.over_limit_since.isoformat() if row.over_limit_since else None,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _discount(item: object, index: int) -> dict[str, Any]:
    where = f"discounts[{index}]"
    if not isinstance(item, Mapping) or set(item) - {"kind", "value", "metric", "description"}:
        raise errors.BadRequest(f"Invalid {where}: an object with kind (percent or credit), value, metric.")
    kind = item.get("kind")
    if kind not in (rating.PERCENT, rating.CREDIT):
        raise errors.BadRequest(f"Invalid {where}.kind {kind!r}: percent or credit.")
    value = parse_decimal(item.get("value"), f"{where}.value")
    if kind == rating.PERCENT and value > 100:
        raise errors.BadRequest(f"Invalid {where}.value: a percentage is at most 100.")
    metric = item.get("metric")
    if metric is not None and metric not in METRICS:
        raise errors.BadRequest(f"Invalid {where}.metric {metric!r}: one of {', '.join(METRICS)}.")
    description = item.get("description", "")
    if not isinstance(description, str) or len(description) > 255:
        raise errors.BadRequest(f"Invalid {where}.description: a string of at most 255 characters.")
    return {"kind": kind, "value": text(value), "metric": metric, "description": description}


def _optional_amount(value: object, what: str) -> str | None:
    return None if value is None else text(parse_decimal(value, what))


def _apply(session: Session, row: BillingAccount, body: Mapping[str, Any], *, creating: bool) -> None:
    unknown = set(body) - set(FIELDS)
    if unknown:
        raise errors.BadRequest(f"Unknown account field(s): {', '.join(sorted(unknown))}.")
    if "name" in body or creating:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise errors.BadRequest("Invalid name: an account needs a name of 1 to 255 characters.")
        row.name = name
    if creating:
        row.currency = check_currency(str(body.get("currency", "")))
    elif "currency" in body and body["currency"] != row.currency:
        raise errors.Conflict("An account's currency cannot change; make a new account.")
    if "price_list" in body or creating:
        row.price_list = _price_list(session, body.get("price_list"), row.currency)
    if "mode" in body or creating:
        mode = body.get("mode", "postpaid")
        if mode not in MODES:
            raise errors.BadRequest(f"Invalid mode {mode!r}: prepaid or postpaid.")
        row.mode = mode
        if creating and "credit_limit" not in body:
            # A prepaid account spends what it paid and no more, unless given credit.
            row.credit_limit = "0" if mode == "prepaid" else None
    if "credit_limit" in body:
        row.credit_limit = _optional_amount(body["credit_limit"], "credit_limit")
    if "discounts" in body:
        if not isinstance(body["discounts"], list):
            raise errors.BadRequest("Invalid discounts: a list.")
        row.discounts = [_discount(item, index) for index, item in enumerate(body["discounts"])]
    if "budget" in body:
        row.budget = _optional_amount(body["budget"], "budget")
    if "alert_percentages" in body:
        values = body["alert_percentages"]
        if not isinstance(values, list) or not all(
            isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 1000 for value in values
        ):
            raise errors.BadRequest("Invalid alert_percentages: a list of integers from 1 to 1000.")
        row.alert_percentages = sorted(set(values))
    if "email" in body:
        email = body["email"]
        if email is not None and (
            not isinstance(email, str) or "@" not in email or len(email) > 255 or "\n" in email
        ):
            raise errors.BadRequest("Invalid email: an address such as billing@example.com, or null.")
        row.email = email


def _price_list(session: Session, name: object, currency: str) -> str:
    if not isinstance(name, str) or not name:
        raise errors.BadRequest("Invalid price_list: the name of a price list.")
    versions = prices.versions(session, name)
    if not versions:
        raise errors.BadRequest(f"Price list {name!r} does not exist.")
    if versions[0].currency != currency:
        raise errors.BadRequest(
            f"Price list {name!r} is in {versions[0].currency}, the account in {currency}."
        )
    return name


def create(session: Session, body: Mapping[str, Any], now: datetime) -> BillingAccount:
    row = BillingAccount(id=str(uuid.uuid4()), discounts=[], alert_percentages=[], opened_at=now)
    _apply(session, row, body, creating=True)
    if session.scalar(select(BillingAccount.id).where(BillingAccount.name == row.name)) is not None:
        raise errors.Conflict(f"A billing account named {row.name!r} already exists.")
    session.add(row)
    session.flush()
    return row


def update(session: Session, row: BillingAccount, body: Mapping[str, Any]) -> None:
    _apply(session, row, body, creating=False)
    session.flush()


def get(session: Session, account_id: str) -> BillingAccount:
    row = session.get(BillingAccount, account_id)
    if row is None:
        raise errors.NotFound(f"Billing account {account_id} could not be found.")
    return row


def of_project(session: Session, project_id: str) -> BillingAccount | None:
    account_id = session.scalar(
        select(BillingAccountProject.account_id).where(BillingAccountProject.project_id == project_id)
    )
    return None if account_id is None else session.get(BillingAccount, account_id)


def projects(session: Session, account_id: str) -> list[BillingAccountProject]:
    return list(
        session.scalars(
            select(BillingAccountProject)
            .where(BillingAccountProject.account_id == account_id)
            .order_by(BillingAccountProject.project_id)
        )
    )


def add_project(session: Session, account: BillingAccount, project_id: str, price_list: str | None) -> None:
    if not project_id or len(project_id) > 64:
        raise errors.BadRequest("Invalid project id.")
    existing = session.get(BillingAccountProject, project_id)
    if existing is not None and existing.account_id != account.id:
        raise errors.Conflict(
            f"Project {project_id} is billed to account {existing.account_id}; remove it there first."
        )
    override = None if price_list is None else _price_list(session, price_list, account.currency)
    if existing is None:
        session.add(BillingAccountProject(project_id=project_id, account_id=account.id, price_list=override))
    else:
        existing.price_list = override
    session.flush()


def remove_project(session: Session, account: BillingAccount, project_id: str) -> None:
    existing = session.get(BillingAccountProject, project_id)
    if existing is None or existing.account_id != account.id:
        raise errors.NotFound(f"Project {project_id} is not billed to account {account.id}.")
    session.delete(existing)
    session.flush()


def terms(session: Session, account: BillingAccount) -> Terms:
    members = projects(session, account.id)
    cache: dict[str, tuple[rating.PriceList, ...]] = {}

    def schedule(name: str) -> tuple[rating.PriceList, ...]:
        if name not in cache:
            cache[name] = prices.schedule(session, name)
        return cache[name]

    return Terms(
        account=account,
        project_ids=tuple(member.project_id for member in members),
        schedules={
            member.project_id: schedule(member.price_list or account.price_list) for member in members
        },
        account_schedule=schedule(account.price_list),
        discounts=tuple(
            rating.Discount(
                item["kind"], Decimal(item["value"]), item.get("metric"), item.get("description", "")
            )
            for item in account.discounts
        ),
    )
