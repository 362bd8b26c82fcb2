"""The Networking API's availability zones (where network agents run) and service providers, on a real
database holding the agents' service rows and compute's aggregates."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.aggregates import Aggregate, AggregateHost, AggregateMetadata
from overcast.db.models.service import ServiceRecord
from overcast.network.api.deployment import Deployment
from overcast.network.api.errors import InvalidInput
from overcast.network.rpcapi import BINARY, TOPIC

ALICE = RequestContext(user_id="alice", project_id="project-a", roles=("member",))


def add_agent(db: Database, host: str, *, disabled: bool = False, binary: str = BINARY) -> None:
    db.write(
        lambda session: session.add(ServiceRecord(host=host, binary=binary, topic=TOPIC, disabled=disabled))
    )


def put_in_zone(db: Database, host: str, zone: str) -> None:
    def write(session: Session) -> None:
        aggregate = Aggregate(name=f"{host}-in-{zone}")
        session.add(aggregate)
        session.flush()
        session.add(AggregateHost(aggregate_id=aggregate.id, host=host))
        session.add(AggregateMetadata(aggregate_id=aggregate.id, key="availability_zone", value=zone))

    db.write(write)


def zones(deployment: Deployment, **filters: list[str]) -> list[tuple[str, str, str]]:
    return [(z["name"], z["resource"], z["state"]) for z in deployment.availability_zones(ALICE, filters)]


def test_no_agent_no_zone(db: Database) -> None:
    add_agent(db, "compute-1", binary="overcast-compute")
    assert zones(Deployment(db)) == []


def test_zones_follow_the_agents_hosts_and_their_state(db: Database) -> None:
    deployment = Deployment(db)
    add_agent(db, "net-1")
    add_agent(db, "compute-2", disabled=True)
    put_in_zone(db, "compute-2", "east")
    assert zones(deployment) == [
        ("east", "network", "unavailable"),
        ("east", "router", "unavailable"),
        ("nova", "network", "available"),
        ("nova", "router", "available"),
    ]
    # One enabled agent is enough for its zone to be available.
    add_agent(db, "compute-3")
    put_in_zone(db, "compute-3", "east")  # a second aggregate naming the same zone
    assert ("east", "router", "available") in zones(deployment)
    assert zones(deployment, state=["unavailable"]) == []
    assert zones(deployment, name=["east"], resource=["network"]) == [("east", "network", "available")]
    assert zones(deployment, availability_zone=["nova"], agent_type=["L3 agent"]) == [
        ("nova", "router", "available")
    ]
    assert zones(deployment, resource=["network", "router"], name=["west"]) == []
    with pytest.raises(InvalidInput, match=r"\[zone\] is invalid attribute for filtering"):
        zones(deployment, zone=["east"])


def test_service_providers_and_their_filters(db: Database) -> None:
    deployment = Deployment(db)
    only = [{"service_type": "L3_ROUTER_NAT", "name": "single_node", "default": True}]
    assert deployment.service_providers(ALICE, {}) == only
    assert (
        deployment.service_providers(ALICE, {"default": ["true"], "service_type": ["L3_ROUTER_NAT"]}) == only
    )
    assert deployment.service_providers(ALICE, {"default": ["0"]}) == []
    assert deployment.service_providers(ALICE, {"name": ["ha"]}) == []
    with pytest.raises(InvalidInput, match="cannot be converted to boolean"):
        deployment.service_providers(ALICE, {"default": ["maybe"]})
    with pytest.raises(InvalidInput, match="invalid attribute"):
        deployment.service_providers(ALICE, {"driver": ["x"]})
