"""Marker (keyset) pagination, as the OpenStack APIs do it: `?sort_key=..&sort_dir=..&marker=..&limit=..`.

A page continues strictly after the marker row in the requested order. The order is made total by
appending the primary key `id`, so rows with equal sort values are neither skipped nor repeated. NULLs sort
as the smallest value on every backend (first ascending, last descending).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, inspect, or_
from sqlalchemy.orm import Session

from overcast import errors
from overcast.db import ambient

SORT_DIRECTIONS = ("asc", "desc")
TIEBREAKER = "id"


class _SortKey:
    def __init__(self, model: type[Any], name: str, direction: str) -> None:
        columns = inspect(model).columns
        if name not in columns or not hasattr(model, name):
            raise errors.BadRequest(f"Invalid sort key: {name}")
        if not isinstance(direction, str) or direction.lower() not in SORT_DIRECTIONS:
            raise errors.BadRequest(f"Invalid sort direction: {direction}")
        self.name = name
        self.ascending = direction.lower() == "asc"
        self.nullable = bool(columns[name].nullable)
        self.attribute: ColumnElement[Any] = getattr(model, name)

    def order(self) -> ColumnElement[Any]:
        clause = self.attribute.asc() if self.ascending else self.attribute.desc()
        if not self.nullable:
            return clause
        return clause.nulls_first() if self.ascending else clause.nulls_last()

    def equal_to(self, value: Any) -> ColumnElement[bool]:
        return self.attribute.is_(None) if value is None else self.attribute == value

    def after(self, value: Any) -> ColumnElement[bool]:
        """Rows that come strictly after `value` in this key's order (NULL being the smallest value)."""
        if self.ascending:
            return self.attribute.is_not(None) if value is None else self.attribute > value
        if value is None:
            return false()
        if self.nullable:
            return or_(self.attribute < value, self.attribute.is_(None))
        return self.attribute < value


def _sort_keys(model: type[Any], sort_keys: list[tuple[str, str]]) -> list[_SortKey]:
    keys = [_SortKey(model, name, direction) for name, direction in sort_keys]
    if all(key.name != TIEBREAKER for key in keys):
        direction = "asc" if not keys or keys[0].ascending else "desc"
        keys.append(_SortKey(model, TIEBREAKER, direction))
    return keys


def _marker_values(
    stmt: Select[Any],
    model: type[Any],
    keys: list[_SortKey],
    marker: Any,
    marker_column: str,
    session: Session | None,
) -> tuple[Any, ...]:
    session = session or ambient.active_session()
    if session is None:
        raise RuntimeError(
            "paginate() with a marker needs a session: call it inside Database.reader() or "
            "writer(), or pass session="
        )
    column = inspect(model).columns[marker_column]
    if column.type.python_type is int and not isinstance(marker, int):
        try:
            marker = int(marker)
        except (TypeError, ValueError):
            raise errors.BadRequest(f"marker [{marker}] not found") from None
    # Looked up through the caller's statement, so a marker outside its filters (another project's row)
    # is "not found" rather than a way to probe for it.
    lookup = (
        stmt.with_only_columns(*(key.attribute for key in keys))
        .where(getattr(model, marker_column) == marker)
        .order_by(None)
        .limit(1)
    )
    row = session.execute(lookup).first()
    if row is None:
        raise errors.BadRequest(f"marker [{marker}] not found")
    return tuple(row)


def paginate(
    stmt: Select[Any],
    model: type[Any],
    *,
    sort_keys: list[tuple[str, str]],
    marker: Any | None,
    limit: int | None,
    marker_column: str = "uuid",
    session: Session | None = None,
) -> Select[Any]:
    """Return `stmt` ordered by `sort_keys` (+ id), starting after `marker`, at most `limit` rows.

    `sort_keys` is [(column attribute name, "asc"|"desc"), ...]; `marker` is the value of `marker_column`
    (uuid by default) of the last row of the previous page. Finding the marker row needs a session: the one
    passed, else the reader()/writer() session open in this context. Raises errors.BadRequest for an unknown
    sort key or direction, a negative limit, or a marker that `stmt` cannot see.
    """
    keys = _sort_keys(model, sort_keys)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise errors.BadRequest(f"Invalid limit: {limit}")
    if marker is not None:
        values = _marker_values(stmt, model, keys, marker, marker_column, session)
        after_marker = [
            and_(
                *(earlier.equal_to(value) for earlier, value in zip(keys[:i], values, strict=False)),
                key.after(values[i]),
            )
            for i, key in enumerate(keys)
        ]
        stmt = stmt.where(or_(*after_marker))
    stmt = stmt.order_by(None).order_by(*(key.order() for key in keys))
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt
