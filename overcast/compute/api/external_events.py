"""os-server-external-events: what other services (the network service, the volume service, an
operator's power management) tell Nova about its servers, answered per event as Nova answers.

Each event names a server: one that does not exist is that event's 404, one not on a host yet its 422;
the rest are accepted (200). Overcast's hosts learn of port wiring and volume changes through their own
RPCs, so an accepted event is acknowledged, not replayed to the host.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from overcast.db.engine import Database
from overcast.db.models.compute import Instance

ACCEPTED = 200
NOT_FOUND = 404
NOT_ON_A_HOST = 422


@dataclass(frozen=True)
class Event:
    name: str
    server_uuid: str
    status: str
    tag: str | None


@dataclass(frozen=True)
class Outcome:
    event: Event
    code: int

    @property
    def status(self) -> str:
        return self.event.status if self.code == ACCEPTED else "failed"


class ExternalEventAPI:
    def __init__(self, db: Database) -> None:
        self.db = db

    def accept(self, events: list[Event]) -> list[Outcome]:
        uuids = {event.server_uuid for event in events}
        with self.db.reader() as session:
            rows = session.execute(
                select(Instance.uuid, Instance.host).where(
                    Instance.uuid.in_(uuids), Instance.deleted.is_(False)
                )
            )
            hosts: dict[str, str | None] = {uuid: host for uuid, host in rows}
        outcomes = []
        for event in events:
            if event.server_uuid not in hosts:
                code = NOT_FOUND
            elif hosts[event.server_uuid] is None:
                code = NOT_ON_A_HOST
            else:
                code = ACCEPTED
            outcomes.append(Outcome(event, code))
        return outcomes
