"""Recording usage events: append-only, each counted once however often it arrives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from overcast.db.models.metering import UsageEvent

NOTIFICATION = "notification"
AUDIT = "audit"


@dataclass(frozen=True)
class NewUsageEvent:
    message_id: str
    event_type: str
    occurred_at: datetime
    project_id: str
    resource_type: str
    resource_id: str
    metric: str | None  # None: billed for nothing from `occurred_at` on
    quantity: Decimal = Decimal(0)
    attributes: Mapping[str, str] = field(default_factory=dict)
    source: str = NOTIFICATION

    @property
    def natural_key(self) -> str:
        # The same publication sent twice carries two message ids but says the same thing at the same time.
        return f"{self.resource_type}/{self.resource_id}/{self.event_type}/{self.occurred_at.isoformat()}"

    def row(self, received_at: datetime) -> dict[str, Any]:
        return {
            "message_id": self.message_id, "natural_key": self.natural_key, "event_type": self.event_type,
            "source": self.source, "occurred_at": self.occurred_at, "received_at": received_at,
            "project_id": self.project_id, "resource_type": self.resource_type,
            "resource_id": self.resource_id, "metric": self.metric, "quantity": str(self.quantity),
            "attributes": dict(self.attributes),
        }  # fmt: skip


def record(session: Session, events: Sequence[NewUsageEvent], received_at: datetime) -> int:
    """Insert the events not recorded yet (by message id or natural key); returns how many were new."""
    if not events:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One statement with the rows as parameters (executemany): compiled once and cached, not per call.
    statement = insert(UsageEvent).on_conflict_do_nothing()
    result = session.connection().execute(statement, [event.row(received_at) for event in events])
    return max(int(result.rowcount or 0), 0)
