"""JSON columns read as text (as a listing reads them) decode to what SQLAlchemy's JSON type reads."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from overcast.db import Database
from overcast.db.models.server_groups import RequestSpecRecord
from overcast.db.types import as_json_text, json_from_text


def _both_readings(db: Database, hints: dict[str, Any]) -> tuple[Any, Any]:
    instance_uuid = str(uuid.uuid4())
    with db.writer() as session:
        session.add(RequestSpecRecord(instance_uuid=instance_uuid, scheduler_hints=hints))
    column, key = RequestSpecRecord.scheduler_hints, RequestSpecRecord.instance_uuid == instance_uuid
    with db.reader() as session:
        typed = session.scalars(select(column).where(key)).one()
        text = session.scalars(select(as_json_text(column)).where(key)).one()
    assert isinstance(text, str)
    return typed, json_from_text(text)


@pytest.mark.parametrize(
    "hints",
    [
        {},
        {"group": ["0f6a7b1c-2d3e-4f50-8a9b-0c1d2e3f4a5b"], "same_host": "x"},
        {"text": "é ✓ \u2028", "nested": [1, 2.5, {"none": None, "yes": True}], "big": 2**70},
    ],
)
def test_the_text_decodes_to_what_the_json_type_reads(db: Database, hints: dict[str, Any]) -> None:
    typed, decoded = _both_readings(db, hints)
    assert decoded == typed == hints


def test_sqlite_what_only_json_writes_is_still_read(db: Database) -> None:
    # NaN and Infinity are not JSON, but the json module writes them, and orjson refuses them.
    typed, decoded = _both_readings(db, {"nan": math.nan, "inf": math.inf})
    assert math.isnan(decoded["nan"]) and decoded["inf"] == math.inf == typed["inf"]


def test_a_null_column_reads_as_none() -> None:
    assert json_from_text(None) is None
