"""Column types shared by the models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, DateTime, Text, cast
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back as an aware UTC datetime, on every backend.

    SQLite has no time zone support, so values are stored there as naive UTC. Naive datetimes are refused on
    the way in: their meaning depends on the machine's local zone, which is exactly the bug this type exists
    to prevent.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value!r} given; use an aware UTC datetime (overcast.db.utcnow)"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def as_json_text(column: InstrumentedAttribute[Any]) -> ColumnElement[str]:
    """A JSON column read as its text (to decode with `json_from_text`), the same on SQLite and PostgreSQL."""
    return cast(column, Text)


def json_from_text(text: str | None) -> Any:
    """A JSON column's value from its text. A listing decodes thousands of small values, and orjson does it
    several times faster than the json module behind SQLAlchemy's JSON type; json still reads what only it
    writes (NaN, integers past 64 bits)."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
