"""Database layer: engine and transactions (SQLite recipe, retries), models, migrations, pagination."""

from overcast.db.base import Base, TimestampMixin, utcnow
from overcast.db.engine import Database, ReadOnlySessionError, retry_on_deadlock
from overcast.db.pagination import paginate

__all__ = [
    "Base",
    "Database",
    "ReadOnlySessionError",
    "TimestampMixin",
    "paginate",
    "retry_on_deadlock",
    "utcnow",
]
