"""The notification endpoint of the metering service: each notification, its usage event, recorded once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.metering import translate
from overcast.metering.group_commit import GroupCommit

LOG = logging.getLogger(__name__)


def notification_time(metadata: Mapping[str, Any], received_at: datetime) -> datetime:
    text = metadata.get("timestamp")
    if not text:
        return received_at
    at = datetime.fromisoformat(str(text))
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class UsageRecorder:
    """Called by a NotificationListener with every notification of the pool "metering".

    The event is committed before the call returns, so a bus that acknowledges after the handler (RabbitMQ)
    redelivers whatever a killed service had not recorded, and the idempotency keys drop what it had.
    Several listeners may share one recorder: their events are committed together (`GroupCommit`).
    """

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.committer = GroupCommit(db, clock)

    def info(
        self, ctxt: RequestContext, publisher_id: str, event_type: str, payload: dict[str, Any],
        metadata: Mapping[str, Any],
    ) -> None:  # fmt: skip
        self.record(event_type, payload, metadata)

    def error(
        self, ctxt: RequestContext, publisher_id: str, event_type: str, payload: dict[str, Any],
        metadata: Mapping[str, Any],
    ) -> None:  # fmt: skip
        self.record(event_type, payload, metadata)

    def record(self, event_type: str, payload: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
        received_at = self.clock()
        message_id = str(metadata.get("message_id") or "")
        try:
            event = translate.from_notification(
                event_type, payload, message_id, notification_time(metadata, received_at)
            )
        except (KeyError, ValueError, TypeError) as exc:
            LOG.error("Dropping notification %s %s: not understood (%s)", event_type, message_id, exc)
            return False
        if event is None or not message_id:
            return False
        self.committer.record(event)
        return True
