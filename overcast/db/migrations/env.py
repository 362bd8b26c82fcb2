"""Alembic environment.

Normally run by overcast.db.migrate with an open connection in config.attributes["connection"]; the caller
owns the transaction. Without one (the `alembic` command line with alembic.ini) it connects to
sqlalchemy.url or $OVERCAST_DATABASE_URL.
"""

import os

from alembic import context
from sqlalchemy.types import TypeDecorator

import overcast.db.models  # noqa: F401  (registers every table on Base.metadata)
from overcast.db.base import Base

config = context.config
target_metadata = Base.metadata


def _url():
    return os.environ.get("OVERCAST_DATABASE_URL") or config.get_main_option("sqlalchemy.url")


def render_item(type_, obj, autogen_context):
    # Migrations must not import model code (it changes over time): our column types render as the plain
    # SQLAlchemy type they store as.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def run_on(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline():
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online():
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    from overcast.db.engine import Database

    database = Database(_url())
    try:
        with database.engine.connect() as own_connection:
            run_on(own_connection)
            own_connection.commit()
    finally:
        database.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
