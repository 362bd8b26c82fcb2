"""os-server-external-events: what other services (the network service, the volume service, an
operator's power management) tell Nova about its servers, answered per event as Nova answers.

Each event names a server: one that does not exist is that event's 404, one not on a host yet its 422;
the rest are accepted (200). The accepted events a host acts on (power-update, volume-extended,
network-vif-deleted) are cast to the server's host, one message per host
(compute/manager/external_events.py); the other network events and accelerator-request-bound (no
Cyborg: no server ever waits for an accelerator) are acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from overcast.compute.rpcapi import ComputeAPI
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.compute import Instance

ACCEPTED = 200
NOT_FOUND = 404
NOT_ON_A_HOST = 422
# What a compute host does something about; the others are acknowledged here.
HOST_EVENTS = frozenset({"power-update", "volume-extended", "network-vif-deleted"})


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
    def __init__(self, db: Database, compute_rpc: ComputeAPI) -> None:
        self.db = db
        self.compute_rpc = compute_rpc

    def accept(self, ctxt: RequestContext, events: list[Event]) -> list[Outcome]:
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
        by_host: dict[str, list[dict[str, str | None]]] = {}
        for outcome in outcomes:
            event = outcome.event
            host = hosts.get(event.server_uuid)
            if outcome.code == ACCEPTED and event.name in HOST_EVENTS and host is not None:
                by_host.setdefault(host, []).append(
                    {
                        "name": event.name,
                        "server_uuid": event.server_uuid,
                        "status": event.status,
                        "tag": event.tag,
                    }
                )
        for host, host_events in by_host.items():
            self.compute_rpc.external_instance_event(ctxt, host, host_events)
        return outcomes

    def port_deleted(self, ctxt: RequestContext, server_uuid: str, port_id: str) -> None:
        """The network service deleted a port bound to the server: what Neutron's nova notifier posts."""
        event = Event("network-vif-deleted", server_uuid, "completed", port_id)
        self.accept(RequestContext.admin(ctxt.request_id), [event])
