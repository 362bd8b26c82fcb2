"""Move records: how a cold resize or cold migration writes, advances and lists its `migrations` row.

Statuses are Nova's cold-move ones. The API writes the row (``pre-migrating``) in the transaction that
starts the move; the conductor names the destination; the source host moves it to ``migrating`` and, once
the disks are set aside, ``post-migrating``; the destination to ``finished`` (VERIFY_RESIZE). Confirm goes
``confirming`` → ``confirmed``, revert ``reverting`` → ``reverted``; a failure anywhere is ``error``.
Every change is ``UPDATE ... WHERE instance_uuid = :uuid AND status IN :expected``: an instance has at
most one move in progress, and a writer that lost a race (a delete, a concurrent confirm) changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.compute import Flavor, Instance
from overcast.db.models.migrations import Migration
from overcast.db.pagination import paginate
from overcast.digits import database_id

PRE_MIGRATING: Final = "pre-migrating"
MIGRATING: Final = "migrating"
POST_MIGRATING: Final = "post-migrating"
FINISHED: Final = "finished"
CONFIRMING: Final = "confirming"
CONFIRMED: Final = "confirmed"
REVERTING: Final = "reverting"
REVERTED: Final = "reverted"
ERROR: Final = "error"

# Everything before the move settles: a failure from any of these is an error of the move.
IN_PROGRESS: Final = (PRE_MIGRATING, MIGRATING, POST_MIGRATING, FINISHED, CONFIRMING, REVERTING)

RESIZE: Final = "resize"
COLD_MIGRATION: Final = "migration"


def flavor_db_id(session: Session, flavorid: str | None) -> int | None:
    """Nova's instance_type_id: the flavor's row id (None when the flavor was deleted since)."""
    if flavorid is None:
        return None
    return session.scalars(select(Flavor.id).where(Flavor.flavorid == flavorid)).first()


def start(
    session: Session,
    ctxt: RequestContext,
    instance: Instance,
    *,
    new_flavorid: str,
    migration_type: str,
    requested_host: str | None = None,
) -> Migration:
    """The row of a move that starts now (call inside the transaction that starts it)."""
    record = Migration(
        instance_uuid=instance.uuid,
        source_compute=instance.host,
        source_node=instance.node,
        dest_compute=requested_host,
        old_instance_type_id=flavor_db_id(session, instance.flavor_id),
        new_instance_type_id=flavor_db_id(session, new_flavorid),
        status=PRE_MIGRATING,
        migration_type=migration_type,
        project_id=ctxt.project_id,
        user_id=ctxt.user_id,
    )
    session.add(record)
    session.flush()
    return record


def advance(
    session: Session, instance_uuid: str, expected: Iterable[str], status: str, **values: Any
) -> bool:
    """Compare-and-swap the instance's live move from one of `expected` to `status` (and `values`)."""
    result = session.execute(
        update(Migration)
        .where(
            Migration.instance_uuid == instance_uuid,
            Migration.status.in_(list(expected)),
            Migration.deleted.is_(False),
        )
        .values(status=status, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) >= 1)


def failed(session: Session, instance_uuid: str) -> bool:
    """The move in progress ends in error."""
    return advance(session, instance_uuid, IN_PROGRESS, ERROR)


def in_progress(session: Session, instance_uuid: str) -> Migration | None:
    return session.scalars(
        select(Migration)
        .where(
            Migration.instance_uuid == instance_uuid,
            Migration.status.in_(IN_PROGRESS),
            Migration.deleted.is_(False),
        )
        .order_by(Migration.id.desc())
    ).first()


def of_instance(session: Session, instance_uuid: str, migration_id: str) -> Migration | None:
    """The instance's move with this id (the API's path segment), if there is one."""
    number = database_id(migration_id)
    if number is None:
        return None
    return session.scalars(
        select(Migration).where(
            Migration.id == number,
            Migration.instance_uuid == instance_uuid,
            Migration.deleted.is_(False),
        )
    ).first()


def forget(session: Session, instance_uuid: str) -> None:
    """Soft-delete a deleted instance's moves, as Nova's instance_destroy does."""
    now = utcnow()
    session.execute(
        update(Migration)
        .where(Migration.instance_uuid == instance_uuid, Migration.deleted.is_(False))
        .values(deleted=True, deleted_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class MigrationFilters:
    """os-migrations' query: Nova's filters, and (from 2.59) paging newest first."""

    host: str | None = None
    source_compute: str | None = None
    status: str | None = None
    instance_uuid: str | None = None
    migration_type: str | None = None
    changes_since: datetime | None = None
    marker: str | None = None
    limit: int | None = None
    newest_first: bool = False
    # 2.66's changes-before; 2.80's user_id and project_id.
    changes_before: datetime | None = None
    user_id: str | None = None
    project_id: str | None = None


def _filtered(filters: MigrationFilters) -> Select[Any]:
    stmt = select(Migration).where(Migration.deleted.is_(False))
    # Nova: host matches either end of the move, and then source_compute is not looked at.
    if filters.host is not None:
        stmt = stmt.where(
            or_(Migration.source_compute == filters.host, Migration.dest_compute == filters.host)
        )
    elif filters.source_compute is not None:
        stmt = stmt.where(Migration.source_compute == filters.source_compute)
    if filters.status is not None:
        stmt = stmt.where(Migration.status == filters.status)
    if filters.instance_uuid is not None:
        stmt = stmt.where(Migration.instance_uuid == filters.instance_uuid)
    if filters.migration_type is not None:
        stmt = stmt.where(Migration.migration_type == filters.migration_type)
    if filters.changes_since is not None:
        stmt = stmt.where(Migration.updated_at >= filters.changes_since)
    if filters.changes_before is not None:
        stmt = stmt.where(Migration.updated_at <= filters.changes_before)
    if filters.user_id is not None:
        stmt = stmt.where(Migration.user_id == filters.user_id)
    if filters.project_id is not None:
        stmt = stmt.where(Migration.project_id == filters.project_id)
    return stmt


class MigrationReader:
    """What the os-migrations and server migrations routers read, each in a reader of its own."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def matching(self, filters: MigrationFilters) -> list[Migration]:
        with self.db.reader() as session:
            return list_migrations(session, filters)

    def of_instance(self, instance_uuid: str, migration_id: str) -> Migration | None:
        with self.db.reader() as session:
            return of_instance(session, instance_uuid, migration_id)


def list_migrations(session: Session, filters: MigrationFilters) -> list[Migration]:
    stmt = _filtered(filters)
    if not filters.newest_first:
        return list(session.scalars(stmt.order_by(Migration.id)))
    if (
        filters.marker is not None
        and session.scalars(
            select(Migration.id).where(Migration.uuid == filters.marker, Migration.deleted.is_(False))
        ).first()
        is None
    ):
        raise errors.BadRequest(f"Marker {filters.marker} could not be found.")
    stmt = paginate(
        stmt, Migration, sort_keys=[("created_at", "desc"), ("id", "desc")], marker=filters.marker,
        limit=filters.limit, session=session,
    )  # fmt: skip
    return list(session.scalars(stmt))
