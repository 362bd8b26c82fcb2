"""How a build shows it is alive, and how the conductor tells a build that stalled from a slow one.

A build in BUILD moves through the API's insert, the conductor taking it (which writes itself into
`build_conductor`), the scheduler's claim and the compute host's start, each of which writes the row
(`updated_at`). The spawn itself may take minutes on a real hypervisor (image download, first boot),
so while it runs the compute host writes `build_progress_at` several times per `build_stall_timeout`
(`spawn_heartbeat`). A build on which neither moved for that long has nobody working on it: its
message was lost or the process holding it died. The conductor then fails it (conductor/stuck_builds.py)
with a compare-and-swap that holds only while the build is still stalled, so a heartbeat or a finish
at the same moment wins or loses cleanly.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.orm import Session

from overcast.compute import states
from overcast.db.engine import Database
from overcast.db.models.compute import Instance

LOG = logging.getLogger(__name__)

# A spawning build shows it is alive this many times per stall timeout: one late or lost beat is no stall.
HEARTBEATS_PER_TIMEOUT = 5


def heartbeat_interval(stall_timeout: float) -> float:
    return stall_timeout / HEARTBEATS_PER_TIMEOUT


def stalled_since(cutoff: datetime) -> ColumnElement[bool]:
    """No write to the row and no heartbeat since `cutoff`."""
    return and_(
        Instance.updated_at < cutoff,
        or_(Instance.build_progress_at.is_(None), Instance.build_progress_at < cutoff),
    )


def take_ownership(session: Session, uuids: list[str], conductor: str, now: datetime) -> int:
    """Record `conductor` as the owner of the builds among `uuids` still waiting for a host."""
    result = session.execute(
        update(Instance)
        .where(
            Instance.uuid.in_(uuids), Instance.deleted.is_(False), Instance.host.is_(None),
            Instance.task_state == states.SCHEDULING,
        )
        .values(build_conductor=conductor, build_progress_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))


def mark_progress(session: Session, uuid: str, host: str, now: datetime) -> bool:
    """The spawn of `uuid` on `host` is still under way; False once it is not (finished, failed, gone)."""
    result = session.execute(
        update(Instance)
        .where(
            Instance.uuid == uuid, Instance.deleted.is_(False), Instance.host == host,
            Instance.vm_state == states.BUILDING, Instance.task_state == states.SPAWNING,
        )
        # A heartbeat is no change a user sees: updated_at (changes-since) stays as it was.
        .values(build_progress_at=now, updated_at=Instance.updated_at)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


@contextmanager
def spawn_heartbeat(
    db: Database, clock: Callable[[], datetime], uuid: str, host: str, interval: float
) -> Iterator[None]:
    """Mark the build's progress every `interval` seconds while the block (the driver's spawn) runs."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(interval):
            try:
                if not db.write(functools.partial(mark_progress, uuid=uuid, host=host, now=clock())):
                    return  # no longer spawning here: nothing left to keep alive
            except Exception:
                LOG.exception("Marking the progress of the build of %s on %s failed", uuid, host)

    thread = threading.Thread(target=beat, name=f"build-heartbeat-{uuid[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
