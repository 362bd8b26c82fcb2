"""Single-use link tokens and invitation codes: random, shown once, stored only as a SHA-256 digest; and
the compare-and-swap that uses one up."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Update
from sqlalchemy.orm import Session


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_code() -> str:
    """An invitation code a person can type: 4 groups of 4 letters and digits, no look-alikes."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def rows_changed(session: Session, statement: Update) -> int:
    """Run a compare-and-swap UPDATE; how many rows it changed (0: another request got there first)."""
    result = session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]
