"""What the Networking API says about the deployment: availability zones (Neutron's availability_zone
extension) and service providers (its service-type extension).

A zone here is where network agents run: each agent serves DHCP for its networks and the routers placed
on its host, so a zone with an agent is listed once for `network` and once for `router`. An agent's zone
is its host's (the aggregate that puts the host in a zone, else the default zone), as compute places
hosts; a zone is `available` while one of its agents is enabled, as Neutron counts agents that are
administratively up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select

from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.service import ServiceRecord
from overcast.network import policies
from overcast.network.api import queries
from overcast.network.api.errors import InvalidInput
from overcast.network.api.networks import enforce
from overcast.network.api.records import Record
from overcast.network.rpcapi import BINARY
from overcast.zones import host_zones

RESOURCES = ("network", "router")
# openstacksdk's network.availability_zones(name=, resource=) sends Neutron's agent columns instead.
AGENT_TYPES = {"DHCP agent": "network", "L3 agent": "router"}
ZONE_FILTERS = {"name": "name", "availability_zone": "name", "resource": "resource", "agent_type": "resource"}
# Overcast's routers are all of one kind: each on a single host's agent, neither HA nor distributed.
L3_ROUTER_NAT = "L3_ROUTER_NAT"
SERVICE_PROVIDERS: tuple[Record, ...] = (
    {"service_type": L3_ROUTER_NAT, "name": "single_node", "default": True},
)
PROVIDER_FILTERS = ("service_type", "name", "default")


def _zone_filter(name: str, value: str) -> tuple[str, str]:
    attribute = ZONE_FILTERS.get(name)
    if attribute is None and name == "state":
        return name, value
    if attribute is None:
        raise InvalidInput(f"[{name}] is invalid attribute for filtering")
    if name == "agent_type":
        return attribute, AGENT_TYPES.get(value, value)
    return attribute, value


def matching(records: Sequence[Record], filters: Mapping[str, Sequence[str]]) -> list[Record]:
    """Records whose every filtered attribute is one of the values asked (filters already checked)."""
    return [
        record for record in records if all(str(record[name]) in values for name, values in filters.items())
    ]


class Deployment:
    def __init__(self, db: Database) -> None:
        self.db = db

    def availability_zones(self, ctxt: RequestContext, filters: Mapping[str, Sequence[str]]) -> list[Record]:
        enforce(ctxt, policies.GET_AVAILABILITY_ZONE, ctxt.project_id)
        wanted: dict[str, list[str]] = {}
        for name, values in filters.items():
            for value in values:
                attribute, text = _zone_filter(name, value)
                wanted.setdefault(attribute, []).append(text)
        with self.db.reader() as session:
            agents = session.execute(
                select(ServiceRecord.host, ServiceRecord.disabled).where(ServiceRecord.binary == BINARY)
            ).all()
            placed = host_zones(session)
        enabled: dict[str, bool] = {}
        for host, disabled in agents:
            zone = placed.get(host, DEFAULT_AVAILABILITY_ZONE)
            enabled[zone] = enabled.get(zone, False) or not disabled
        zones = [
            {"name": zone, "resource": resource, "state": "available" if up else "unavailable"}
            for zone, up in sorted(enabled.items())
            for resource in RESOURCES
        ]
        return matching(zones, wanted)

    def service_providers(self, ctxt: RequestContext, filters: Mapping[str, Sequence[str]]) -> list[Record]:
        enforce(ctxt, policies.GET_SERVICE_PROVIDER, ctxt.project_id)
        for name in filters:
            if name not in PROVIDER_FILTERS:
                raise InvalidInput(f"[{name}] is invalid attribute for filtering")
        normalised = {
            name: [str(queries.as_bool(name, value)) if name == "default" else value for value in values]
            for name, values in filters.items()
        }
        return matching([dict(provider) for provider in SERVICE_PROVIDERS], normalised)
