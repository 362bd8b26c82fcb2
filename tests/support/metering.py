"""Waiting for metering in functional tests that move an injected clock."""

from __future__ import annotations

from sqlalchemy import select

from overcast.db.models.metering import UsageEvent
from tests.support.cloud import InProcessCloud
from tests.support.waiting import wait_until


def recorded(cloud: InProcessCloud, server_id: str, event_type: str) -> None:
    """Wait until metering has the server's `compute.instance.<event_type>`: a test may move the clock on
    only then, or the compute host's notification, sent after the API shows the new state, would carry the
    next instant."""

    def found() -> bool:
        with cloud.cloud.db.reader() as session:
            query = select(UsageEvent.id).where(
                UsageEvent.resource_id == server_id, UsageEvent.event_type == f"compute.instance.{event_type}"
            )
            return session.scalar(query) is not None

    wait_until(found, 60, what=f"{event_type} of {server_id} recorded")
