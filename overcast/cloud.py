"""What every Overcast process shares: settings, the database, the message bus and a clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from overcast.bus import Notifier, Transport, get_transport
from overcast.config import Settings
from overcast.db.engine import Database


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Cloud:
    settings: Settings
    db: Database
    transport: Transport
    # Injected so tests can move time (heartbeats, token expiry, reclaim intervals).
    clock: Callable[[], datetime] = field(default=system_clock)
    monotonic: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def from_settings(cls, settings: Settings, *, upgrade_db: bool = True) -> Cloud:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.sql_url)
        if upgrade_db:
            db.upgrade()
        return cls(settings=settings, db=db, transport=get_transport(settings.transport_url))

    def notifier(self, publisher_id: str) -> Notifier:
        return Notifier(self.transport, publisher_id)

    def close(self) -> None:
        self.transport.close()
        self.db.dispose()
