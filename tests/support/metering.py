"""Waiting for metering in functional tests that move an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from overcast.db.models.metering import UsageEvent
from overcast.metering.manager import MeteringManager
from overcast.service import Service
from tests.support.cloud import InProcessCloud
from tests.support.waiting import wait_until


def metered_cloud(data_dir: Path, clock: Callable[[], datetime], **settings: Any) -> InProcessCloud:
    """The in-process cloud on `clock` with a metering service beside its hosts (stopped with the cloud)."""
    running = InProcessCloud(data_dir, clock=clock, **settings)
    metering = Service(running.cloud, MeteringManager(running.cloud, "metering-1"))
    metering.start()
    running.services.append(metering)
    return running


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
