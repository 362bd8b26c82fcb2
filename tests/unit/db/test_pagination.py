"""Marker pagination: walking every page in any order yields each row exactly once, in order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Select, select

from overcast import errors
from overcast.db import Database, paginate
from overcast.db.models import ServiceRecord

# (host, binary, topic, disabled_reason): repeated values and NULLs make ties and NULL ordering matter.
ROWS = [
    ("node3", "overcast-compute", "compute", None),
    ("node1", "overcast-compute", "compute", "maintenance"),
    ("node2", "overcast-compute", "compute", None),
    ("node1", "overcast-conductor", "conductor", "broken"),
    ("node2", "overcast-scheduler", "scheduler", "maintenance"),
    ("node3", "overcast-conductor", "conductor", None),
    ("node1", "overcast-scheduler", "scheduler", "broken"),
]


@pytest.fixture
def services(db: Database) -> list[ServiceRecord]:
    with db.writer() as session:
        records = [
            ServiceRecord(host=host, binary=binary, topic=topic, disabled_reason=reason)
            for host, binary, topic, reason in ROWS
        ]
        session.add_all(records)
    return records


def _expected_order(records: list[ServiceRecord], sort_keys: list[tuple[str, str]]) -> list[str]:
    """The order computed in Python: NULL is the smallest value, ties broken by id (first key's direction)."""
    keys = [*sort_keys, ("id", sort_keys[0][1] if sort_keys else "asc")]
    ordered = list(records)
    for name, direction in reversed(keys):  # stable sorts, least significant key first
        ordered.sort(key=_null_smallest(name), reverse=direction == "desc")
    return [record.uuid for record in ordered]


def _null_smallest(name: str) -> Callable[[ServiceRecord], tuple[bool, Any]]:
    def key(record: ServiceRecord) -> tuple[bool, Any]:
        value = getattr(record, name)
        return (value is not None, value if value is not None else 0)

    return key


def _walk(db: Database, stmt: Select[Any], sort_keys: list[tuple[str, str]], page_size: int) -> list[str]:
    seen: list[str] = []
    marker: str | None = None
    while True:
        with db.reader() as session:
            page = session.scalars(
                paginate(stmt, ServiceRecord, sort_keys=sort_keys, marker=marker, limit=page_size)
            ).all()
        assert len(page) <= page_size
        seen.extend(record.uuid for record in page)
        if len(page) < page_size:
            return seen
        marker = page[-1].uuid


@pytest.mark.parametrize(
    "sort_keys",
    [
        [],
        [("host", "asc")],
        [("host", "desc")],
        [("disabled_reason", "asc")],
        [("disabled_reason", "desc"), ("host", "asc")],
        [("topic", "asc"), ("host", "desc")],
        [("created_at", "desc")],
    ],
)
@pytest.mark.parametrize("page_size", [1, 2, 3, 100])
def test_pages_cover_every_row_once_in_order(
    db: Database, services: list[ServiceRecord], sort_keys: list[tuple[str, str]], page_size: int
) -> None:
    walked = _walk(db, select(ServiceRecord), sort_keys, page_size)
    assert walked == _expected_order(services, sort_keys)


def test_pagination_keeps_the_callers_filter(db: Database, services: list[ServiceRecord]) -> None:
    stmt = select(ServiceRecord).where(ServiceRecord.host == "node1")
    walked = _walk(db, stmt, [("binary", "desc")], 2)
    node1 = [record for record in services if record.host == "node1"]
    assert walked == _expected_order(node1, [("binary", "desc")])


def test_marker_by_id(db: Database, services: list[ServiceRecord]) -> None:
    by_id = sorted(services, key=lambda record: record.id)
    with db.reader() as session:
        stmt = paginate(
            select(ServiceRecord),
            ServiceRecord,
            sort_keys=[("id", "asc")],
            marker=str(by_id[1].id),
            limit=2,
            marker_column="id",
        )
        page = [record.id for record in session.scalars(stmt)]
    assert page == [record.id for record in by_id[2:4]]


def test_limit_zero_and_no_limit(db: Database, services: list[ServiceRecord]) -> None:
    with db.reader() as session:
        none = session.scalars(
            paginate(select(ServiceRecord), ServiceRecord, sort_keys=[], marker=None, limit=0)
        ).all()
        every = session.scalars(
            paginate(select(ServiceRecord), ServiceRecord, sort_keys=[], marker=None, limit=None)
        ).all()
    assert none == []
    assert len(every) == len(ROWS)


def test_unknown_marker_is_a_bad_request(db: Database, services: list[ServiceRecord]) -> None:
    with db.reader(), pytest.raises(errors.BadRequest, match=r"marker \[no-such-uuid\] not found") as raised:
        paginate(select(ServiceRecord), ServiceRecord, sort_keys=[], marker="no-such-uuid", limit=5)
    assert raised.value.status == 400


def test_marker_outside_the_callers_filter_is_not_found(db: Database, services: list[ServiceRecord]) -> None:
    other = next(record for record in services if record.host == "node2")
    stmt = select(ServiceRecord).where(ServiceRecord.host == "node1")
    with db.reader(), pytest.raises(errors.BadRequest, match="not found"):
        paginate(stmt, ServiceRecord, sort_keys=[], marker=other.uuid, limit=5)


def test_non_numeric_marker_for_an_integer_column_is_not_found(
    db: Database, services: list[ServiceRecord]
) -> None:
    with db.reader(), pytest.raises(errors.BadRequest, match=r"marker \[abc\] not found"):
        paginate(
            select(ServiceRecord), ServiceRecord, sort_keys=[], marker="abc", limit=5, marker_column="id"
        )


@pytest.mark.parametrize(
    ("sort_keys", "message"),
    [
        ([("no_such_column", "asc")], "Invalid sort key: no_such_column"),
        ([("metadata", "asc")], "Invalid sort key: metadata"),
        ([("host", "sideways")], "Invalid sort direction: sideways"),
    ],
)
def test_bad_sort_is_a_bad_request(sort_keys: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(errors.BadRequest, match=message):
        paginate(select(ServiceRecord), ServiceRecord, sort_keys=sort_keys, marker=None, limit=None)


def test_negative_limit_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest, match="Invalid limit"):
        paginate(select(ServiceRecord), ServiceRecord, sort_keys=[], marker=None, limit=-1)


def test_marker_needs_a_session(db: Database, services: list[ServiceRecord]) -> None:
    with pytest.raises(RuntimeError, match="needs a session"):
        paginate(select(ServiceRecord), ServiceRecord, sort_keys=[], marker=services[0].uuid, limit=5)
    with db.reader() as session:
        stmt = paginate(
            select(ServiceRecord),
            ServiceRecord,
            sort_keys=[],
            marker=services[0].uuid,
            limit=1,
            session=session,
        )
        assert session.scalars(stmt).one().uuid == services[1].uuid
