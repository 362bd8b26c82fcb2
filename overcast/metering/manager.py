"""The metering service: the notification listener (pool "metering") and the periodic usage audit.

Every metering service shares the pool, so several of them split the notifications between them and a
restarted one takes up where the bus kept its queue; the events' idempotency keys make a redelivery or a
duplicate count once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from overcast.bus import NotificationListener
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.metering.audit import UsageAudit
from overcast.metering.listener import UsageRecorder
from overcast.metering.rpcapi import BINARY, TOPIC

LOG = logging.getLogger(__name__)

POOL = "metering"
# Nova's instance_usage_audit runs hourly; ours is cheap enough to run every ten minutes.
AUDIT_INTERVAL = 600.0
# Handlers running at once are what a group commit can gather: 64 ingest ~5,500-5,800 events/s on SQLite
# here (bench/metering.py) where 32 gave ~4,850.
CONSUMERS = 64


class MeteringManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.0"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = BINARY

    def __init__(
        self, cloud: Cloud, host: str, *, topics: Sequence[str] = ("notifications",), pool: str = POOL
    ) -> None:
        super().__init__(cloud, host)
        self.recorder = UsageRecorder(cloud.db, lambda: cloud.clock())
        self.audit = UsageAudit(cloud.db, lambda: cloud.clock())
        # Tests sharing one broker give each cloud its own topic and pool. Several consumers of the pool
        # let their events share commits (the recorder's group commit): one commit per event is the cost.
        self.listeners = [
            NotificationListener(cloud.transport, [self.recorder], topics=topics, pool=pool)
            for _ in range(CONSUMERS)
        ]

    def init_host(self) -> None:
        for listener in self.listeners:
            listener.start()

    def cleanup_host(self) -> None:
        for listener in self.listeners:
            listener.stop()
        for listener in self.listeners:
            listener.wait(10.0)

    @periodic_task(AUDIT_INTERVAL)
    def audit_usage(self) -> None:
        self.audit.run()

    @rpc_method
    def audit_now(self, ctxt: RequestContext) -> dict[str, Any]:
        result = self.audit.run()
        healed = [
            {
                "resource_type": event.resource_type, "resource_id": event.resource_id,
                "metric": event.metric, "occurred_at": event.occurred_at.isoformat(),
            }
            for event in result.healed
        ]  # fmt: skip
        return {"checked": result.checked, "healed": healed}
