"""in_values: `column IN values` with the values bound as one parameter, answering exactly as IN does."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from overcast.db import Database
from overcast.db.models.server_groups import RequestSpecRecord
from overcast.db.value_sets import SMALL, ValuesQuery, in_values


@pytest.mark.parametrize("count", [0, 1, SMALL - 1, SMALL, 1000])
def test_it_matches_what_a_plain_in_list_matches(db: Database, count: int) -> None:
    tagged = [str(uuid.uuid4()) for _ in range(40)]
    with db.writer() as session:
        session.add_all(RequestSpecRecord(instance_uuid=value, scheduler_hints={}) for value in tagged)
    asked = tagged[: count // 2] + [str(uuid.uuid4()) for _ in range(count - count // 2)]
    with db.reader() as session:
        fast = set(
            session.scalars(
                select(RequestSpecRecord.instance_uuid).where(
                    in_values(session, RequestSpecRecord.instance_uuid, asked)
                )
            )
        )
        plain = set(
            session.scalars(
                select(RequestSpecRecord.instance_uuid).where(RequestSpecRecord.instance_uuid.in_(asked))
            )
        )
    assert fast == plain == set(tagged) & set(asked)


def test_postgresql_reads_the_values_as_one_array(db: Database) -> None:
    values = [str(i) for i in range(SMALL)]

    class PostgresSession:
        def get_bind(self) -> object:
            return type("Bind", (), {"dialect": postgresql.dialect()})()

    clause = in_values(PostgresSession(), RequestSpecRecord.instance_uuid, values)  # type: ignore[arg-type]
    compiled = select(RequestSpecRecord.scheduler_hints).where(clause).compile(dialect=postgresql.dialect())
    assert "= any(" in str(compiled).lower()
    assert list(compiled.params.values()) == [values]


_HINTS_OF_PAGE = ValuesQuery(
    lambda in_page: select(RequestSpecRecord.instance_uuid).where(in_page(RequestSpecRecord.instance_uuid))
)


@pytest.mark.parametrize("count", [1, SMALL - 1, SMALL, 1000])
def test_a_values_query_built_once_answers_for_each_execution_s_own_values(db: Database, count: int) -> None:
    stored = [str(uuid.uuid4()) for _ in range(40)]
    with db.writer() as session:
        session.add_all(RequestSpecRecord(instance_uuid=value, scheduler_hints={}) for value in stored)
    first = stored[:1] + [str(uuid.uuid4()) for _ in range(count - 1)]
    second = stored[-(count // 2 or 1) :] + [str(uuid.uuid4()) for _ in range(count - (count // 2 or 1))]
    with db.reader() as session:
        found_first = set(_HINTS_OF_PAGE.execute(session, first).scalars())
        found_second = set(_HINTS_OF_PAGE.execute(session, second).scalars())
    assert found_first == set(stored) & set(first)
    assert found_second == set(stored) & set(second)
