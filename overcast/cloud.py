"""What every Overcast process shares: settings, the database, the message bus and a clock."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from overcast.bus import Notifier, Transport, get_transport
from overcast.config import Settings
from overcast.db.engine import Database

# What Overcast creates under its data directory: for the user running it, nobody else.
PRIVATE_DIR_MODE = 0o700
PRIVATE_UMASK = 0o077


def restrict_new_files() -> None:
    """Make every file and directory this process creates from now on private to its user.

    Called once when a service or the all-in-one starts, so files created by code that names no mode
    (and by the tools it runs: qemu-img, QEMU's console log, SQLite's -wal and -shm) are private too.
    """
    os.umask(PRIVATE_UMASK)


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and its missing parents, each 0700 (mkdir(parents=True) gives parents the
    umask's mode); an existing directory keeps its mode."""
    missing = []
    for ancestor in (directory, *directory.parents):
        if ancestor.is_dir():
            break
        missing.append(ancestor)
    for ancestor in reversed(missing):
        ancestor.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)


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
        # The data directory holds password hashes, EC2 secrets, token keys and VM disks: its user's only.
        make_private_dirs(settings.data_dir)
        db = Database(settings.sql_url)
        if upgrade_db:
            db.upgrade()
        return cls(settings=settings, db=db, transport=get_transport(settings.transport_url))

    def notifier(self, publisher_id: str) -> Notifier:
        # Read through `self` at each notification: tests replace `clock` after services have their notifiers.
        return Notifier(self.transport, publisher_id, clock=lambda: self.clock())

    def close(self) -> None:
        self.transport.close()
        self.db.dispose()
