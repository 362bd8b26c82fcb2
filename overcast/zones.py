"""Availability zones, as compute, the scheduler, networking and EC2 all see them.

A host's zone is the one its aggregates name in their ``availability_zone`` metadata item (as in Nova),
else the default zone: zones need no table of their own. Neutral ground, so that the services that
report zones read one query instead of each reaching into compute's API.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.db.models.aggregates import AggregateHost, AggregateMetadata

ZONE_KEY = "availability_zone"

# Built once: every servers/detail page asks it.
_HOST_ZONES = (
    select(AggregateHost.host, AggregateMetadata.value)
    .join(AggregateMetadata, AggregateMetadata.aggregate_id == AggregateHost.aggregate_id)
    .where(AggregateMetadata.key == ZONE_KEY)
    .order_by(AggregateHost.host, AggregateMetadata.value)
)


def host_zones(session: Session) -> dict[str, str]:
    """Every host that an aggregate puts in a zone, with that zone."""
    return {host: zone for host, zone in session.execute(_HOST_ZONES)}


def zone_of_host(session: Session, host: str) -> str:
    return host_zones(session).get(host, DEFAULT_AVAILABILITY_ZONE)
