"""Price lists: named, versioned, immutable once created; a new version takes effect at its date."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.billing import rating
from overcast.billing.money import check_currency, parse_decimal, text
from overcast.db.models.billing import PriceListVersion
from overcast.metering.usage import METRICS


def to_price_list(row: PriceListVersion) -> rating.PriceList:
    return rating.PriceList(
        id=row.id,
        name=row.name,
        version=row.version,
        currency=row.currency,
        effective_from=row.effective_from,
        rates=tuple(
            rating.Rate(
                rate["metric"], rate["unit"], parse_decimal(rate["price"], "price"), rate.get("match")
            )
            for rate in row.rates
        ),
        free_tiers=tuple(
            rating.FreeTier(tier["metric"], parse_decimal(tier["quantity"], "quantity"), tier.get("match"))
            for tier in row.free_tiers
        ),
    )


def view(row: PriceListVersion) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "currency": row.currency,
        "effective_from": row.effective_from.isoformat(),
        "description": row.description,
        "rates": row.rates,
        "free_tiers": row.free_tiers,
        "created_at": row.created_at.isoformat(),
    }


def _metric(value: object, where: str) -> str:
    if value not in METRICS:
        raise errors.BadRequest(f"Invalid {where}.metric {value!r}: one of {', '.join(METRICS)}.")
    return str(value)


def _match(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 255:
        raise errors.BadRequest(f"Invalid {where}.match: a flavor, volume type or disk format name, or null.")
    return value


def _rate(item: object, index: int) -> dict[str, Any]:
    where = f"rates[{index}]"
    if not isinstance(item, Mapping):
        raise errors.BadRequest(f"Invalid {where}: an object with metric, unit and price.")
    unknown = set(item) - {"metric", "unit", "price", "match"}
    if unknown:
        raise errors.BadRequest(f"Invalid {where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}.")
    metric = _metric(item.get("metric"), where)
    unit = item.get("unit", rating.HOUR)
    if unit not in rating.UNITS:
        raise errors.BadRequest(f"Invalid {where}.unit {unit!r}: one of {', '.join(rating.UNITS)}.")
    if unit in rating.FLAVOR_UNITS and metric not in rating.INSTANCE_METRICS:
        raise errors.BadRequest(
            f"Invalid {where}.unit {unit!r}: only instance metrics are priced per vCPU or RAM."
        )
    price = parse_decimal(item.get("price"), f"{where}.price")
    return {"metric": metric, "unit": unit, "price": text(price), "match": _match(item.get("match"), where)}


def _free_tier(item: object, index: int) -> dict[str, Any]:
    where = f"free_tiers[{index}]"
    if not isinstance(item, Mapping) or set(item) - {"metric", "quantity", "match"}:
        raise errors.BadRequest(f"Invalid {where}: an object with metric, quantity and optionally match.")
    quantity = parse_decimal(item.get("quantity"), f"{where}.quantity")
    return {
        "metric": _metric(item.get("metric"), where),
        "quantity": text(quantity),
        "match": _match(item.get("match"), where),
    }


def create(session: Session, body: Mapping[str, Any], effective_from: datetime) -> PriceListVersion:
    """A new price list, or the next version of the one named (same currency, later effective date)."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise errors.BadRequest("Invalid name: a price list needs a name of 1 to 255 characters.")
    rates = body.get("rates")
    if not isinstance(rates, list) or not rates:
        raise errors.BadRequest("Invalid rates: a non-empty list of {metric, unit, price, match}.")
    tiers = body.get("free_tiers", [])
    if not isinstance(tiers, list):
        raise errors.BadRequest("Invalid free_tiers: a list of {metric, quantity, match}.")
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        raise errors.BadRequest("Invalid description: a string of at most 2000 characters.")
    currency = check_currency(str(body.get("currency", "")))
    latest = versions(session, name)[-1:] or None
    if latest is not None:
        if latest[0].currency != currency:
            raise errors.Conflict(
                f"Price list {name!r} is in {latest[0].currency}; a new version cannot change it."
            )
        if effective_from <= latest[0].effective_from:
            raise errors.Conflict(
                f"Version {latest[0].version + 1} of {name!r} must take effect after version "
                f"{latest[0].version} ({latest[0].effective_from.isoformat()})."
            )
    next_version = (
        session.scalar(select(func.max(PriceListVersion.version)).where(PriceListVersion.name == name)) or 0
    ) + 1
    row = PriceListVersion(
        id=str(uuid.uuid4()),
        name=name,
        version=next_version,
        currency=currency,
        effective_from=effective_from,
        description=description,
        rates=[_rate(item, index) for index, item in enumerate(rates)],
        free_tiers=[_free_tier(item, index) for index, item in enumerate(tiers)],
    )
    session.add(row)
    session.flush()
    return row


def versions(session: Session, name: str) -> Sequence[PriceListVersion]:
    return session.scalars(
        select(PriceListVersion).where(PriceListVersion.name == name).order_by(PriceListVersion.version)
    ).all()


def schedule(session: Session, name: str) -> tuple[rating.PriceList, ...]:
    return tuple(to_price_list(row) for row in versions(session, name))


def in_force(price_lists: Sequence[rating.PriceList], at: datetime) -> rating.PriceList | None:
    current = [price_list for price_list in price_lists if price_list.effective_from <= at]
    return current[-1] if current else None
