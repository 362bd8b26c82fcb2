"""The revocation list: explicit revokes and the tokens of deleted or changed users and projects.

Events are stored in the database (every API process sees them) and mirrored in memory; a process
refreshes its mirror at most every `refresh_seconds`, so checking a token costs no database round trip
in the common case. Events older than the longest token lifetime can match nothing and are pruned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from overcast.db.engine import Database
from overcast.db.models.identity import RevocationEvent
from overcast.identity.tokens import Clock, TokenPayload, utc_now


@dataclass(frozen=True)
class Revocation:
    issued_before: float
    audit_id: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    application_credential_id: str | None = None
    trust_id: str | None = None

    def matches(self, token: TokenPayload) -> bool:
        if token.issued_at.timestamp() > self.issued_before:
            return False
        if self.audit_id is not None and self.audit_id not in token.audit_ids:
            return False
        if self.user_id is not None and self.user_id != token.user_id:
            return False
        if self.project_id is not None and self.project_id != token.project_id:
            return False
        if (
            self.application_credential_id is not None
            and self.application_credential_id != token.application_credential_id
        ):
            return False
        if self.trust_id is not None and self.trust_id != token.trust_id:
            return False
        return self.domain_id is None or self.domain_id in (token.domain_id, token.user_domain_id)


def _event_of(row: RevocationEvent) -> Revocation:
    return Revocation(
        row.issued_before,
        row.audit_id,
        row.user_id,
        row.project_id,
        row.domain_id,
        row.application_credential_id,
        row.trust_id,
    )


class RevocationList:
    def __init__(
        self,
        db: Database,
        token_ttl_seconds: float,
        refresh_seconds: float = 2.0,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.token_ttl_seconds = token_ttl_seconds
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self.monotonic = monotonic
        self._events: dict[str, Revocation] = {}
        # Revokes made by this process, kept across refreshes: a refresh may read a snapshot taken
        # before their transaction committed.
        self._local: dict[str, Revocation] = {}
        self._by_audit: dict[str, Revocation] = {}
        self._lock = threading.Lock()
        self._loaded_at: float | None = None

    def revoke(self, session: Session, **fields: str | None) -> None:
        """Record a revocation inside the caller's write transaction (tokens issued until now die)."""
        now = self.clock().timestamp()
        row = RevocationEvent(issued_before=now, revoked_at=now, **fields)
        session.add(row)
        session.flush()
        # Prune in the same transaction: an event older than every token's lifetime matches nothing.
        session.execute(
            delete(RevocationEvent).where(RevocationEvent.issued_before < now - self.token_ttl_seconds)
        )
        self._remember(row)

    def is_revoked(self, token: TokenPayload) -> bool:
        self._refresh_if_stale()
        for audit_id in token.audit_ids:
            if audit_id in self._by_audit:
                return True
        return any(event.matches(token) for event in self._events.values() if event.audit_id is None)

    def _remember(self, row: RevocationEvent) -> None:
        event = _event_of(row)
        with self._lock:
            self._events[row.id] = event
            self._local[row.id] = event
            if event.audit_id is not None:
                self._by_audit[event.audit_id] = event

    def _refresh_if_stale(self) -> None:
        now = self.monotonic()
        if self._loaded_at is not None and now - self._loaded_at < self.refresh_seconds:
            return
        horizon = self.clock().timestamp() - self.token_ttl_seconds
        with self.db.reader() as session:
            rows = session.scalars(
                select(RevocationEvent).where(RevocationEvent.issued_before >= horizon)
            ).all()
        events = {row.id: _event_of(row) for row in rows}
        with self._lock:
            self._local = {key: e for key, e in self._local.items() if e.issued_before >= horizon}
            events.update(self._local)
            self._events = events
            self._by_audit = {e.audit_id: e for e in events.values() if e.audit_id is not None}
            self._loaded_at = now
