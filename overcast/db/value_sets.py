"""`column IN (values)` for a page of values, bound as one parameter rather than one per value.

Reading what sits beside a page of a thousand servers (their tags, ports, volumes) names the page's
uuids in each query; bound one by one, SQLAlchemy builds and SQLite parses a thousand parameters per
query, which costs more than the query. SQLite reads them from one JSON array (`json_each`) and
PostgreSQL from one array parameter (`= ANY`); other databases get the plain IN list.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import ColumnElement, Result, Select, String, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

# Below this many values the plain IN list is as cheap and its SQL reads better in logs.
SMALL = 16


def in_values(
    session: Session, column: ColumnElement[Any] | InstrumentedAttribute[Any], values: Collection[str]
) -> ColumnElement[bool]:
    """`column IN values` for strings, as the session's database reads a long list fastest."""
    if len(values) < SMALL:
        return column.in_(list(values))
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        listed = func.json_each(bindparam("in_values_json", json.dumps(list(values)), unique=True))
        return column.in_(select(listed.table_valued("value").c.value))
    if dialect == "postgresql":
        return column == func.any(bindparam("in_values_array", list(values), ARRAY(String), unique=True))
    return column.in_(list(values))


# --- statements built once, over a page of values bound at each execution -------------------------------
# The name the page's values are bound under in a statement that ValuesQuery built.
PAGE_VALUES = "page_values"


def _binding(session: Session, count: int) -> str:
    if count < SMALL:
        return "list"
    return {"sqlite": "json_each", "postgresql": "any"}.get(session.get_bind().dialect.name, "list")


def _in_page(column: ColumnElement[Any] | InstrumentedAttribute[Any], binding: str) -> ColumnElement[bool]:
    if binding == "json_each":
        return column.in_(select(func.json_each(bindparam(PAGE_VALUES)).table_valued("value").c.value))
    if binding == "any":
        return column == func.any(bindparam(PAGE_VALUES, type_=ARRAY(String)))
    return column.in_(bindparam(PAGE_VALUES, expanding=True))


# `column IN` the page's values, as a ValuesQuery's builder is given it.
InPage = Callable[[ColumnElement[Any] | InstrumentedAttribute[Any]], ColumnElement[bool]]


class ValuesQuery:
    """A query over a page of values (`build(in_page)` gets the page's IN clause for any column), built
    once per way of binding the values rather than at every request: building and cache-keying a
    statement costs SQLAlchemy more than SQLite takes to answer it, three times per servers/detail page."""

    def __init__(self, build: Callable[[InPage], Select[*tuple[Any, ...]]]) -> None:
        self._build = build
        self._built: dict[str, Select[*tuple[Any, ...]]] = {}

    def execute(self, session: Session, values: Collection[str]) -> Result[*tuple[Any, ...]]:
        binding = _binding(session, len(values))
        statement = self._built.get(binding)
        if statement is None:
            statement = self._built[binding] = self._build(lambda column: _in_page(column, binding))
        bound = json.dumps(list(values)) if binding == "json_each" else list(values)
        return session.execute(statement, {PAGE_VALUES: bound})
