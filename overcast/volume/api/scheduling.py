"""Placement of a new volume: among the volume services that are up in the requested zone, whose
backend matches the type's `volume_backend_name` (when it names one), the pool with the most free
capacity after what is already allocated to volumes placed there but perhaps not yet made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.db.models.service import ServiceRecord
from overcast.db.models.volume import Volume, VolumePool
from overcast.servicegroup import service_is_up
from overcast.volume import states
from overcast.volume.rpcapi import BINARY

NO_VALID_BACKEND = "No valid backend was found."
BACKEND_NAME_SPEC = "volume_backend_name"
# Volumes in these statuses hold no space on their pool (or not yet any).
_HOLDING_NOTHING = (states.ERROR, states.DELETING, states.ERROR_DELETING)


@dataclass(frozen=True)
class Placement:
    host: str
    backend_name: str
    service_uuid: str


def volume_services(session: Session) -> list[ServiceRecord]:
    query = select(ServiceRecord).where(ServiceRecord.binary == BINARY).order_by(ServiceRecord.host)
    return list(session.scalars(query))


def zones(session: Session) -> set[str]:
    """The volume availability zones: every volume service is in the default zone (Cinder's
    storage_availability_zone)."""
    return {DEFAULT_AVAILABILITY_ZONE}


def place(
    session: Session,
    *,
    size_gb: int,
    availability_zone: str,
    backend_name: str | None,
    now: Callable[[], datetime],
    down_time: float,
    only_host: str | None = None,
) -> Placement | None:
    """`only_host`: a volume made from a snapshot or another volume goes where its source's storage is
    (that host and backend, if it is up and has room), as Cinder schedules it to the source's backend."""
    if availability_zone not in zones(session):
        return None
    live = {
        record.host: record
        for record in volume_services(session)
        if not record.disabled
        and service_is_up(record, now(), down_time)
        and (only_host is None or record.host == only_host)
    }
    if not live:
        return None
    allocated = dict(
        session.execute(
            select(Volume.host, func.coalesce(func.sum(Volume.size), 0))
            .where(Volume.host.in_(list(live)), Volume.status.not_in(_HOLDING_NOTHING))
            .group_by(Volume.host)
        ).all()
    )
    best: tuple[float, str, str] | None = None
    for pool in session.scalars(select(VolumePool).where(VolumePool.host.in_(list(live)))):
        if backend_name and pool.backend_name != backend_name:
            continue
        # What the pool reports free already counts volumes it made; count those placed here after the
        # pool's last report too, conservatively: the total minus every volume placed on the host.
        free = min(pool.free_gb, pool.total_gb - float(allocated.get(pool.host, 0)))
        if free < size_gb:
            continue
        candidate = (free, pool.host, pool.backend_name)
        if best is None or candidate[0] > best[0]:
            best = candidate
    if best is None:
        return None
    return Placement(best[1], best[2], live[best[1]].uuid)
