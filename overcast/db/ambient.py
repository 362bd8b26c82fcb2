"""The transaction open in the current context (thread or asyncio task), if any.

Database.reader()/writer() record their session here so that nested blocks join the outer transaction,
retry_on_deadlock only retries at the outermost level, and paginate() can look up a marker row without being
handed the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class ActiveTransaction:
    owner: object
    session: Session
    writable: bool


_active: ContextVar[ActiveTransaction | None] = ContextVar("overcast_db_active_transaction", default=None)


def active_transaction() -> ActiveTransaction | None:
    return _active.get()


def active_session() -> Session | None:
    current = _active.get()
    return current.session if current is not None else None


@contextmanager
def activated(transaction: ActiveTransaction) -> Iterator[None]:
    token = _active.set(transaction)
    try:
        yield
    finally:
        _active.reset(token)
