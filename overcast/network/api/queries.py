"""Neutron's list queries: filters on attributes, standard-tag filters, sorting, marker and limit.

Every collection names which of its attributes are columns (what may be filtered and sorted on) and how
a filter's text becomes a value. Several values of one filter match any of them (`?status=A&status=B`);
an attribute that cannot be filtered on is a 400, as with Neutron's filter-validation extension.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from overcast.db.models.network import NetworkTag
from overcast.db.pagination import paginate
from overcast.digits import DB_MAX_INT, decimal
from overcast.network.api.errors import InvalidInput

# Neutron's pagination_max_limit default is unlimited; a page this long is what a client ever needs.
MAX_LIMIT = 1000
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
SECOND = timedelta(seconds=1)


def as_bool(name: str, text: str) -> bool:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidInput(f"'{text}' cannot be converted to boolean for filter {name}.")


def as_int(name: str, text: str) -> int:
    number = decimal(text)
    if number is None or number > DB_MAX_INT:
        raise InvalidInput(f"'{text}' is not an integer for filter {name}.")
    return number


def as_time(name: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"'{text}' is not a valid time for filter {name}: use ISO 8601.") from None
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return moment.replace(microsecond=0)


def as_text(name: str, text: str) -> str:
    return text


@dataclass(frozen=True)
class Attribute:
    """An attribute of a collection that is a column: filterable and sortable."""

    column: str
    convert: Callable[[str, str], Any] = as_text


@dataclass(frozen=True)
class ListQuery:
    """What a GET on a collection asked for, beyond `fields=` (which the view applies)."""

    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    sort: Sequence[tuple[str, str]] = ()
    limit: int | None = None
    marker: str | None = None


# Tags are stored per resource id; a filter is a subquery on them.
def _tag_clause(model: type[Any], kind: str, values: Sequence[str]) -> ColumnElement[bool]:
    tags = [tag for value in values for tag in value.split(",") if tag]
    if not tags:
        raise InvalidInput(f"Filter {kind} needs at least one tag.")
    having = select(NetworkTag.resource_id).where(NetworkTag.tag.in_(tags)).group_by(NetworkTag.resource_id)
    if kind in ("tags", "not-tags"):
        having = having.having(func.count(NetworkTag.tag.distinct()) == len(set(tags)))
    clause = model.id.in_(having)
    return not_(clause) if kind.startswith("not-") else clause


def filtered(
    stmt: Select[Any],
    model: type[Any],
    attributes: Mapping[str, Attribute],
    filters: Mapping[str, Sequence[str]],
    special: Mapping[str, Callable[[Sequence[str]], ColumnElement[bool]]] | None = None,
) -> Select[Any]:
    special = special or {}
    for name, values in filters.items():
        if name in TAG_FILTERS:
            stmt = stmt.where(_tag_clause(model, name, values))
        elif name in special:
            stmt = stmt.where(special[name](values))
        elif name in attributes:
            attribute = attributes[name]
            column = getattr(model, attribute.column)
            wanted = [attribute.convert(name, value) for value in values]
            if attribute.convert is as_time:
                # Times are shown to the second: a shown time matches every row within that second.
                stmt = stmt.where(
                    or_(*(and_(column >= moment, column < moment + SECOND) for moment in wanted))
                )
            else:
                stmt = stmt.where(column.in_(wanted))
        else:
            raise InvalidInput(f"[{name}] is invalid attribute for filtering")
    return stmt


def page(
    session: Session,
    stmt: Select[Any],
    model: type[Any],
    attributes: Mapping[str, Attribute],
    query: ListQuery,
) -> list[Any]:
    """The rows of one page, sorted by the query's keys (then id) and continuing after its marker."""
    sort_keys = []
    for key, direction in query.sort:
        if key not in attributes:
            raise InvalidInput(f"{key} is an invalid attribute for sort_keys")
        if direction not in ("asc", "desc"):
            raise InvalidInput(
                f"{direction} is an invalid value for sort_dirs, valid values are 'asc' and 'desc'"
            )
        sort_keys.append((attributes[key].column, direction))
    limit = None if query.limit is None or query.limit == 0 else min(query.limit, MAX_LIMIT)
    if query.limit is not None and query.limit < 0:
        raise InvalidInput(f"Bad limit request: limit must be an integer 0 or greater, got {query.limit}.")
    ordered = paginate(
        stmt,
        model,
        sort_keys=sort_keys,
        marker=query.marker,
        limit=limit,
        marker_column="id",
        session=session,
    )
    return list(session.scalars(ordered))
