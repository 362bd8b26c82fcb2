"""Placement of new volumes: the live volume host with the most free capacity after what is placed on it,
among the backends the type names; none is None (the API then fails the volume with Cinder's words)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from overcast.db import Database
from overcast.db.base import utcnow
from overcast.db.models.service import ServiceRecord
from overcast.db.models.volume import Volume, VolumePool
from overcast.volume import states
from overcast.volume.api import access, scheduling
from overcast.volume.rpcapi import BINARY, TOPIC

DOWN_TIME = 60.0


def _host(
    session: Session, host: str, *, backend: str = "pool", free: float = 100.0, **service: object
) -> None:
    session.add(ServiceRecord(host=host, binary=BINARY, topic=TOPIC, last_seen_up=utcnow(), **service))
    session.add(VolumePool(host=host, backend_name=backend, total_gb=100.0, free_gb=free))


def _placed(session: Session, host: str, size: int, status: str = states.AVAILABLE) -> None:
    session.add(Volume(
        id=str(uuid.uuid4()), project_id="p", size=size, status=status, availability_zone="nova",
        volume_type_id=access.default_type(session).id, host=host, backend_name="pool",
    ))  # fmt: skip


def _place(db: Database, size: int = 1, backend: str | None = None, zone: str = "nova") -> str | None:
    with db.reader() as session:
        found = scheduling.place(
            session,
            size_gb=size,
            availability_zone=zone,
            backend_name=backend,
            now=utcnow,
            down_time=DOWN_TIME,
        )
        return found.host if found else None


def test_the_host_with_the_most_room_after_what_is_placed_there_wins(db: Database) -> None:
    def setup(session: Session) -> None:
        _host(session, "a", free=90.0)
        _host(session, "b", free=80.0)
        _placed(session, "a", 30)  # placed after a's last report: a has 70 left, b 80
        _placed(session, "b", 5, status=states.ERROR)  # holds nothing

    db.write(setup)
    assert _place(db) == "b"
    assert _place(db, size=81) is None
    assert _place(db, zone="elsewhere") is None


def test_the_types_backend_and_live_enabled_hosts_only(db: Database) -> None:
    def setup(session: Session) -> None:
        _host(session, "fast-host", backend="fast", free=10.0)
        _host(session, "big-but-down", free=100.0)
        _host(session, "big-but-disabled", free=100.0, disabled=True)
        _host(session, "small", free=20.0)

    db.write(setup)
    stale = utcnow() - timedelta(seconds=DOWN_TIME * 2)
    db.write(
        lambda session: session.execute(
            update(ServiceRecord).where(ServiceRecord.host == "big-but-down").values(last_seen_up=stale)
        )
    )
    assert _place(db) == "small"
    assert _place(db, backend="fast") == "fast-host"
    assert _place(db, backend="none-such") is None
