"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from overcast.db import Base, Database, migrate
from overcast.db import models as _models  # noqa: F401  (fills Base.metadata)


def _schema_differences(database: Database) -> list[object]:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_fresh_database_upgrades_to_exactly_the_models(empty_db_url: str) -> None:
    database = Database(empty_db_url)
    try:
        database.upgrade()
        assert _schema_differences(database) == []
        with database.engine.connect() as connection:
            assert migrate.current_revisions(connection) == migrate.head_revisions()
            assert set(inspect(connection).get_table_names()) == {*Base.metadata.tables, "alembic_version"}
    finally:
        database.dispose()


def test_upgrade_is_idempotent(db: Database) -> None:
    db.upgrade()
    assert _schema_differences(db) == []


def test_downgrade_to_base_and_back(db: Database) -> None:
    with db.engine.begin() as connection:
        migrate.downgrade(connection, "base")
    with db.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) == {"alembic_version"}
        assert migrate.current_revisions(connection) == ()
    db.upgrade()
    assert _schema_differences(db) == []


def test_revision_ids_are_fixed_names_in_one_line() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = list(script.walk_revisions())
    assert len(script.get_heads()) == 1
    assert revisions[-1].revision == "0001_services" and revisions[-1].down_revision is None
    for revision in revisions:
        assert re.fullmatch(r"\d{4}_[a-z0-9_]+", revision.revision), revision.revision
