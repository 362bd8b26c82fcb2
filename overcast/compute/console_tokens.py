"""Console tokens in the database, shared by every API process (Nova's ConsoleAuthToken).

A token is 32 random bytes handed to the user once; the table keeps only its sha256. Redeeming it
deletes its row, and only the transaction whose delete removed the row may use it: of two API
processes handed the same token, one connects and the other refuses. Expired rows are purged whenever
a token is issued; an instance's rows go when the instance is deleted.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from overcast.db.models.console_tokens import ConsoleAuthToken

SERIAL = "serial"


@dataclass(frozen=True)
class ConsoleGrant:
    """What a redeemed token was issued for."""

    instance_uuid: str
    project_id: str
    user_id: str | None
    host: str
    console_type: str
    connect: dict[str, Any]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: Session, grant: ConsoleGrant, *, now: datetime, ttl: timedelta) -> str:
    """A new token for `grant`, valid until `now + ttl`; expired tokens of every instance are purged."""
    purge_expired(session, now)
    token = secrets.token_urlsafe(32)
    session.add(ConsoleAuthToken(
        token_hash=token_hash(token), console_type=grant.console_type, instance_uuid=grant.instance_uuid,
        project_id=grant.project_id, user_id=grant.user_id, host=grant.host, connect=dict(grant.connect),
        created_at=now, expires_at=now + ttl,
    ))  # fmt: skip
    return token


def redeem(session: Session, token: str, *, now: datetime) -> ConsoleGrant | None:
    """Spend `token`: its grant if it was issued, unspent and unexpired; None otherwise.

    The row is deleted by a guarded delete whose row count says whether this transaction won it, so a
    token raced by two processes is granted once."""
    issued = select(ConsoleAuthToken).where(ConsoleAuthToken.token_hash == token_hash(token))
    row = session.scalars(issued).first()
    if row is None:
        return None
    spent = session.execute(
        delete(ConsoleAuthToken)
        .where(ConsoleAuthToken.id == row.id)
        .execution_options(synchronize_session=False)
    )
    if getattr(spent, "rowcount", 0) != 1 or row.expires_at <= now:
        return None
    return ConsoleGrant(
        instance_uuid=row.instance_uuid, project_id=row.project_id, user_id=row.user_id, host=row.host,
        console_type=row.console_type, connect=dict(row.connect),
    )  # fmt: skip


def forget(session: Session, instance_uuid: str) -> None:
    """Drop every token of an instance (it is being deleted: its console must not outlive it)."""
    session.execute(
        delete(ConsoleAuthToken)
        .where(ConsoleAuthToken.instance_uuid == instance_uuid)
        .execution_options(synchronize_session=False)
    )


def purge_expired(session: Session, now: datetime) -> int:
    result = session.execute(
        delete(ConsoleAuthToken)
        .where(ConsoleAuthToken.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0))
