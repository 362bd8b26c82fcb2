"""Dashboard sessions: the user's token stays here, the browser holds only a random session id.

The id is 256 random bits, so it needs no signature to be unguessable; the store keys sessions by the
id's SHA-256, so what the process holds in memory is not a cookie anyone could replay. A session ends at
log-out, after `idle_seconds` without a request, or when its token expires, whichever comes first.
Sessions live in the process's memory: the all-in-one's API process is the one dashboard there is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from overcast.dashboard.client import Login

Clock = Callable[[], datetime]


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    login: Login
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    projects: tuple[tuple[str, str], ...] = ()  # (id, name) of the projects the user may switch to
    # Private keys the cloud made for this user, by key pair name, until their one download.
    private_keys: dict[str, str] = field(default_factory=dict, repr=False)

    def csrf_matches(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.csrf_token.encode())


@dataclass
class _Entry:
    session: Session
    last_seen: datetime


class SessionStore:
    def __init__(self, clock: Clock, idle_seconds: float) -> None:
        self.clock = clock
        self.idle = timedelta(seconds=idle_seconds)
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def create(self, session: Session) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._forget_expired()
            self._entries[_digest(session_id)] = _Entry(session, self.clock())
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        """The live session of this id, its idle timer restarted; None if there is none or it expired."""
        if not session_id:
            return None
        now = self.clock()
        key = _digest(session_id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._expired(entry, now):
                del self._entries[key]
                return None
            entry.last_seen = now
            return entry.session

    def replace_login(self, session_id: str, login: Login) -> Session | None:
        """Moves the session to a new token (a project switch), keeping its id and CSRF token."""
        with self._lock:
            entry = self._entries.get(_digest(session_id))
            if entry is None:
                return None
            entry.session = replace(entry.session, login=login)
            return entry.session

    def drop(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            entry = self._entries.pop(_digest(session_id), None)
        return entry.session if entry else None

    def __len__(self) -> int:
        return len(self._entries)

    def _expired(self, entry: _Entry, now: datetime) -> bool:
        return now - entry.last_seen >= self.idle or now >= entry.session.login.expires_at

    def _forget_expired(self) -> None:
        now = self.clock()
        for key in [key for key, entry in self._entries.items() if self._expired(entry, now)]:
            del self._entries[key]
