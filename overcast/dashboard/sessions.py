"""Dashboard sessions: the user's token stays on the server, the browser holds only a random session id.

Sessions live in the cloud's database (`dashboard_sessions`), so every dashboard process of a scaled-out
cloud sees a log-in and a log-out made at any other at once. A session id is 256 random bits. Its row is
keyed by the id's SHA-256 and its contents are sealed (Fernet) with a key derived from the id (HKDF): the
database, or a backup of it, holds no token anyone could use, and the dashboard hosts share no key file,
since only the browser's cookie opens its session.

A session ends at log-out, after `idle_seconds` without a request, or when its token expires, whichever
comes first. This module is the dashboard's one reach into the database (the layering rule's exception):
it reads and writes this table and no other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session as DBSession

from overcast.dashboard.client import Login
from overcast.dashboard.settings import DashboardSettings
from overcast.db.engine import Database
from overcast.db.models.dashboard_sessions import DashboardSession

Clock = Callable[[], datetime]
_SEALING_INFO = b"overcast dashboard session contents"
# A request restarts the idle timer, but writing that down for every page would cost a write per page:
# the row's last_seen moves once this share of the idle time has passed (30 s of the default 30 minutes).
_TOUCH_SHARE = 60
# How many unsealed sessions a process keeps (the busiest users'); the rest are unsealed per request.
_OPENED_KEPT = 1024
_TABLE = DashboardSession.__table__
_READ = select(_TABLE.c.sealed, _TABLE.c.last_seen, _TABLE.c.expires_at).where(
    _TABLE.c.id_hash == bindparam("id_hash")
)


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _cipher(session_id: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SEALING_INFO).derive(
        session_id.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


@dataclass(frozen=True)
class Session:
    login: Login
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    projects: tuple[tuple[str, str], ...] = ()  # (id, name) of the projects the user may switch to
    # Private keys the cloud made for this user, by key pair name, until their one download.
    private_keys: Mapping[str, str] = field(default_factory=dict, repr=False)

    def csrf_matches(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.csrf_token.encode())


def _seal(session: Session, session_id: str) -> str:
    contents = asdict(session)
    contents["login"]["expires_at"] = session.login.expires_at.isoformat()
    return _cipher(session_id).encrypt(json.dumps(contents, separators=(",", ":")).encode()).decode("ascii")


def _unseal(sealed: str, session_id: str) -> Session | None:
    try:
        contents: dict[str, Any] = json.loads(_cipher(session_id).decrypt(sealed.encode("ascii")))
    except InvalidToken:
        return None
    login = contents["login"]
    return Session(
        login=Login(
            **{
                **login,
                "expires_at": datetime.fromisoformat(login["expires_at"]),
                "roles": tuple(login["roles"]),
                "catalog": tuple(login["catalog"]),
            }
        ),
        csrf_token=contents["csrf_token"],
        projects=tuple((project_id, name) for project_id, name in contents["projects"]),
        private_keys=dict(contents["private_keys"]),
    )


def _wall_time() -> datetime:
    return datetime.now(UTC)


class SessionStore:
    def __init__(
        self, db: Database, clock: Clock, idle_seconds: float, token_clock: Clock = _wall_time
    ) -> None:
        self.db = db
        # The idle timer runs on the cloud's clock; a token's expires_at is the identity service's time,
        # which a client compares with wall time, as keystoneauth does.
        self.clock = clock
        self.token_clock = token_clock
        self.idle = timedelta(seconds=idle_seconds)
        self._touch_every = self.idle / _TOUCH_SHARE
        # Sessions this process has unsealed, by id hash, with the sealed text they came from: a page
        # reads the row (so a log-out anywhere counts at once) but unseals it again only when it changed.
        self._opened: OrderedDict[str, tuple[str, Session]] = OrderedDict()
        self._opened_lock = threading.Lock()

    @classmethod
    def over(
        cls,
        db: Database,
        clock: Clock,
        settings: DashboardSettings | None = None,
        token_clock: Clock = _wall_time,
    ) -> SessionStore:
        return cls(db, clock, (settings or DashboardSettings()).session_idle_seconds, token_clock)

    @classmethod
    def at(
        cls,
        sql_url: str,
        clock: Clock,
        settings: DashboardSettings | None = None,
        token_clock: Clock = _wall_time,
    ) -> SessionStore:
        """The store of a dashboard process of its own, over the cloud's database (migrated by the API)."""
        return cls.over(Database(sql_url), clock, settings, token_clock)

    def create(self, session: Session) -> str:
        session_id = secrets.token_urlsafe(32)
        sealed = _seal(session, session_id)
        now, token_now = self.clock(), self.token_clock()

        def store(db: DBSession) -> None:
            db.execute(
                delete(DashboardSession).where(
                    or_(
                        DashboardSession.expires_at <= token_now,
                        DashboardSession.last_seen <= now - self.idle,
                    )
                )
            )
            db.add(
                DashboardSession(
                    id_hash=_id_hash(session_id),
                    sealed=sealed,
                    last_seen=now,
                    expires_at=session.login.expires_at,
                )
            )

        self.db.write(store)
        return session_id

    def get(self, session_id: str | None) -> Session | None:
        """The live session of this id, its idle timer restarted; None if there is none or it expired."""
        if not session_id:
            return None
        now = self.clock()
        id_hash = _id_hash(session_id)
        with self.db.reader() as db:
            # A Core statement on the reader's connection: every page asks it, and the ORM's layer would
            # cost more than the query itself.
            row = db.connection().execute(_READ, {"id_hash": id_hash}).first()
        if row is None:
            self._opened.pop(id_hash, None)
            return None
        sealed, last_seen, expires_at = row
        if now - last_seen >= self.idle or self.token_clock() >= expires_at:
            self.db.write(
                lambda db: db.execute(delete(DashboardSession).where(DashboardSession.id_hash == id_hash))
            )
            return None
        if now - last_seen >= self._touch_every:
            self.db.write(
                lambda db: db.execute(
                    update(DashboardSession)
                    .where(DashboardSession.id_hash == id_hash, DashboardSession.last_seen < now)
                    .values(last_seen=now)
                )
            )
        return self._open(id_hash, sealed, session_id)

    def replace_login(self, session_id: str, login: Login) -> Session | None:
        """Moves the session to a new token (a project switch), keeping its id and CSRF token."""
        changed = self._change(session_id, lambda session: replace(session, login=login))
        return changed[1] if changed else None

    def keep_private_key(self, session_id: str, name: str, private_key: str) -> None:
        self._change(
            session_id,
            lambda session: replace(session, private_keys={**session.private_keys, name: private_key}),
        )

    def take_private_key(self, session_id: str, name: str) -> str | None:
        """The private key of this name, forgotten as it is handed out: a second take finds none."""
        changed = self._change(
            session_id,
            lambda session: replace(
                session,
                private_keys={key: value for key, value in session.private_keys.items() if key != name},
            ),
        )
        if changed is None:
            return None
        before, _ = changed
        return before.private_keys.get(name)

    def drop(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        id_hash = _id_hash(session_id)

        def take(db: DBSession) -> str | None:
            sealed = db.scalar(select(DashboardSession.sealed).where(DashboardSession.id_hash == id_hash))
            if sealed is not None:
                db.execute(delete(DashboardSession).where(DashboardSession.id_hash == id_hash))
            return sealed

        sealed = self.db.write(take)
        return _unseal(sealed, session_id) if sealed is not None else None

    def _open(self, id_hash: str, sealed: str, session_id: str) -> Session | None:
        with self._opened_lock:
            known = self._opened.get(id_hash)
            if known is not None and known[0] == sealed:
                self._opened.move_to_end(id_hash)
                return known[1]
        session = _unseal(sealed, session_id)
        if session is not None:
            with self._opened_lock:
                self._opened[id_hash] = (sealed, session)
                while len(self._opened) > _OPENED_KEPT:
                    self._opened.popitem(last=False)
        return session

    def _change(
        self, session_id: str, change: Callable[[Session], Session]
    ) -> tuple[Session, Session] | None:
        """(before, after) of the session as `change` left it, compared and swapped on its sealed contents;
        None when the session is gone."""
        id_hash = _id_hash(session_id)

        def swap(db: DBSession) -> tuple[Session, Session] | None:
            sealed = db.scalar(select(DashboardSession.sealed).where(DashboardSession.id_hash == id_hash))
            before = _unseal(sealed, session_id) if sealed is not None else None
            if before is None:
                return None
            after = change(before)
            swapped = db.execute(
                update(DashboardSession)
                .where(DashboardSession.id_hash == id_hash, DashboardSession.sealed == sealed)
                .values(sealed=_seal(after, session_id), expires_at=after.login.expires_at)
            )
            return (before, after) if swapped.rowcount == 1 else None  # type: ignore[attr-defined]

        return self.db.write(swap)
