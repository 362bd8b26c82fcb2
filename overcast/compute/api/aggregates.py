"""Host aggregates and the availability zones they define (logic behind /os-aggregates).

A zone is the ``availability_zone`` metadata item of an aggregate. A compute host belongs to at most one
zone: every aggregate it is in that names a zone must name the same one. Hosts in no such aggregate are in
the default zone ("nova"); services that are not compute services are in the internal zone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.aggregates import Aggregate, AggregateHost, AggregateMetadata
from overcast.db.models.compute import Instance
from overcast.db.models.service import ServiceRecord
from overcast.digits import database_id
from overcast.zones import ZONE_KEY

INTERNAL_AVAILABILITY_ZONE = "internal"

T = TypeVar("T")


@dataclass(frozen=True)
class AggregateInfo:
    id: int
    uuid: str
    name: str
    availability_zone: str | None
    hosts: list[str]
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime


# --- zones (also read by os-availability-zone and os-services) ----------------------------------------
def service_zone(binary: str, host: str, zones: Mapping[str, str]) -> str:
    if binary != COMPUTE_BINARY:
        return INTERNAL_AVAILABILITY_ZONE
    return zones.get(host, DEFAULT_AVAILABILITY_ZONE)


def compute_host_exists(session: Session, host: str) -> bool:
    found = session.scalars(
        select(ServiceRecord.id).where(ServiceRecord.host == host, ServiceRecord.binary == COMPUTE_BINARY)
    ).first()
    return found is not None


def _check_zone_name(zone: str | None) -> None:
    if zone is None:
        return
    if zone == INTERNAL_AVAILABILITY_ZONE:
        raise errors.BadRequest(f"Invalid availability zone name: '{zone}' is the internal services' zone.")
    if ":" in zone or not zone.strip():
        raise errors.BadRequest(f"Invalid availability zone name: {zone!r}.")


def write_then_notify(db: Database, work: Callable[[Session], T], on_change: Callable[[], None]) -> T:
    """Write, then tell whoever must know at once (the schedulers) that host states changed."""
    result = db.write(work)
    on_change()
    return result


class AggregateAPI:
    def __init__(self, db: Database, on_change: Callable[[], None] = lambda: None) -> None:
        self.db = db
        # Called after every change: aggregates and their metadata steer the schedulers' filters.
        self.on_change = on_change

    def _write(self, work: Callable[[Session], T]) -> T:
        return write_then_notify(self.db, work, self.on_change)

    # --- read ---------------------------------------------------------------------------------------
    def list(self) -> list[AggregateInfo]:
        with self.db.reader() as session:
            rows = session.scalars(select(Aggregate).order_by(Aggregate.id)).all()
            return [self._info(session, row) for row in rows]

    def get(self, aggregate_id: str) -> AggregateInfo:
        with self.db.reader() as session:
            return self._info(session, self._find(session, aggregate_id))

    @staticmethod
    def _find(session: Session, aggregate_id: str | int) -> Aggregate:
        number = database_id(aggregate_id)
        row = session.get(Aggregate, number) if number is not None else None
        if row is None:
            raise errors.NotFound(f"Aggregate {aggregate_id} could not be found.")
        return row

    @staticmethod
    def _info(session: Session, row: Aggregate) -> AggregateInfo:
        hosts = list(
            session.scalars(
                select(AggregateHost.host)
                .where(AggregateHost.aggregate_id == row.id)
                .order_by(AggregateHost.id)
            )
        )
        metadata = {
            item.key: item.value
            for item in session.scalars(
                select(AggregateMetadata)
                .where(AggregateMetadata.aggregate_id == row.id)
                .order_by(AggregateMetadata.key)
            )
        }
        return AggregateInfo(
            id=row.id, uuid=row.uuid, name=row.name, availability_zone=metadata.get(ZONE_KEY), hosts=hosts,
            metadata=metadata, created_at=row.created_at, updated_at=row.updated_at,
        )  # fmt: skip

    # --- create, update, delete ---------------------------------------------------------------------
    def create(self, name: str, availability_zone: str | None) -> AggregateInfo:
        _check_zone_name(availability_zone)

        def write(session: Session) -> AggregateInfo:
            self._check_name_free(session, name)
            row = Aggregate(name=name)
            session.add(row)
            session.flush()
            if availability_zone is not None:
                session.add(AggregateMetadata(aggregate_id=row.id, key=ZONE_KEY, value=availability_zone))
                session.flush()
            return self._info(session, row)

        return self._write(write)

    @staticmethod
    def _check_name_free(session: Session, name: str, keep: int | None = None) -> None:
        other = session.scalars(select(Aggregate.id).where(Aggregate.name == name)).first()
        if other is not None and other != keep:
            raise errors.Conflict(f"Aggregate {name} already exists.")

    def update(
        self, aggregate_id: str, name: str | None, zone: str | None, zone_given: bool
    ) -> AggregateInfo:
        """Rename and/or move to another zone (zone_given with zone None removes the zone)."""

        def write(session: Session) -> AggregateInfo:
            row = self._find(session, aggregate_id)
            if name is not None:
                self._check_name_free(session, name, keep=row.id)
                row.name = name
            if zone_given:
                self._apply_metadata(session, row, {ZONE_KEY: zone}, error=errors.BadRequest)
            row.updated_at = utcnow()
            session.flush()
            return self._info(session, row)

        return self._write(write)

    def delete(self, aggregate_id: str) -> None:
        def write(session: Session) -> None:
            row = self._find(session, aggregate_id)
            if session.scalars(select(AggregateHost.id).where(AggregateHost.aggregate_id == row.id)).first():
                raise errors.BadRequest(
                    f"Cannot delete aggregate: {aggregate_id}. Reason: Host aggregate is not empty."
                )
            session.execute(delete(AggregateMetadata).where(AggregateMetadata.aggregate_id == row.id))
            session.delete(row)

        self._write(write)

    # --- actions ------------------------------------------------------------------------------------
    def add_host(self, aggregate_id: str, host: str) -> AggregateInfo:
        def write(session: Session) -> AggregateInfo:
            row = self._find(session, aggregate_id)
            if not compute_host_exists(session, host):
                raise errors.NotFound(f"Compute host {host} could not be found.")
            present = session.scalars(
                select(AggregateHost.id).where(
                    AggregateHost.aggregate_id == row.id, AggregateHost.host == host
                )
            ).first()
            if present is not None:
                raise errors.Conflict(f"Aggregate {aggregate_id} already has host {host}.")
            zone = self._zone(session, row.id)
            current = self._zones_of_host(session, host, excluding=row.id)
            if zone is not None and current - {zone}:
                raise errors.Conflict(
                    f"Cannot add host to aggregate {aggregate_id}. Reason: One or more hosts already in "
                    f"availability zone(s) {sorted(current)}."
                )
            session.add(AggregateHost(aggregate_id=row.id, host=host))
            row.updated_at = utcnow()
            session.flush()
            return self._info(session, row)

        return self._write(write)

    def remove_host(self, aggregate_id: str, host: str) -> AggregateInfo:
        def write(session: Session) -> AggregateInfo:
            not_found = errors.NotFound(f"Cannot remove host {host} in aggregate {aggregate_id}")
            try:
                row = self._find(session, aggregate_id)
            except errors.NotFound:
                raise not_found from None
            result = session.execute(
                delete(AggregateHost).where(AggregateHost.aggregate_id == row.id, AggregateHost.host == host)
            )
            if getattr(result, "rowcount", 0) == 0:
                raise not_found
            row.updated_at = utcnow()
            session.flush()
            return self._info(session, row)

        return self._write(write)

    def set_metadata(self, aggregate_id: str, metadata: Mapping[str, str | None]) -> AggregateInfo:
        """Merge `metadata` into the aggregate's; a None value deletes that key."""

        def write(session: Session) -> AggregateInfo:
            row = self._find(session, aggregate_id)
            self._apply_metadata(session, row, metadata, error=errors.BadRequest)
            row.updated_at = utcnow()
            session.flush()
            return self._info(session, row)

        return self._write(write)

    def _apply_metadata(
        self,
        session: Session,
        row: Aggregate,
        metadata: Mapping[str, str | None],
        error: type[errors.OvercastError],
    ) -> None:
        if ZONE_KEY in metadata:
            self._check_zone_change(session, row, metadata[ZONE_KEY], error)
        for key, value in metadata.items():
            item = session.scalars(
                select(AggregateMetadata).where(
                    AggregateMetadata.aggregate_id == row.id, AggregateMetadata.key == key
                )
            ).first()
            if value is None:
                if item is not None:
                    session.delete(item)
            elif item is None:
                session.add(AggregateMetadata(aggregate_id=row.id, key=key, value=value))
            else:
                item.value = value
        session.flush()

    def _check_zone_change(
        self, session: Session, row: Aggregate, zone: str | None, error: type[errors.OvercastError]
    ) -> None:
        _check_zone_name(zone)
        if zone == self._zone(session, row.id):
            return
        hosts = list(session.scalars(select(AggregateHost.host).where(AggregateHost.aggregate_id == row.id)))
        for host in hosts:
            others = self._zones_of_host(session, host, excluding=row.id)
            if zone is not None and others - {zone}:
                raise error(
                    f"Cannot update aggregate {row.id}. Reason: host {host} is already in availability "
                    f"zone(s) {sorted(others)}."
                )
        # Moving hosts that run instances would silently move those instances to another zone.
        if hosts:
            running = session.scalar(
                select(func.count(Instance.id)).where(Instance.host.in_(hosts), Instance.deleted.is_(False))
            )
            if running:
                raise error(
                    f"Cannot update the availability zone of aggregate {row.id}. Reason: one or more of its "
                    "hosts contain instances."
                )

    @staticmethod
    def _zone(session: Session, aggregate_id: int) -> str | None:
        return session.scalars(
            select(AggregateMetadata.value).where(
                AggregateMetadata.aggregate_id == aggregate_id, AggregateMetadata.key == ZONE_KEY
            )
        ).first()

    @staticmethod
    def _zones_of_host(session: Session, host: str, excluding: int) -> set[str]:
        rows = session.scalars(
            select(AggregateMetadata.value)
            .join(AggregateHost, AggregateHost.aggregate_id == AggregateMetadata.aggregate_id)
            .where(
                AggregateHost.host == host,
                AggregateMetadata.key == ZONE_KEY,
                AggregateHost.aggregate_id != excluding,
            )
        )
        return set(rows)

    @staticmethod
    def forget_host(session: Session, host: str) -> None:
        """The host's compute service was deleted: it leaves every aggregate (as in Nova)."""
        session.execute(delete(AggregateHost).where(AggregateHost.host == host))
