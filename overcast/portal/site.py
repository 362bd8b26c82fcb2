"""The portal's run-time settings an operator changes (the sign-up switch) and the invitation codes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.db.models.portal import PortalInvitationCode, PortalSetting
from overcast.portal import plans, tokens

SIGNUP = "signup"
SIGNUP_DEFAULTS = {"enabled": True, "invitation_only": False}
BAD_CODE = "This invitation code is not valid or was already used."
MAX_CODES = 1000


def signup_settings(session: Session) -> dict[str, bool]:
    row = session.get(PortalSetting, SIGNUP)
    return {**SIGNUP_DEFAULTS, **(row.value if row is not None else {})}


def set_signup(session: Session, body: Mapping[str, Any]) -> dict[str, bool]:
    unknown = sorted(set(body) - set(SIGNUP_DEFAULTS))
    if unknown:
        raise errors.BadRequest(f"Unknown sign-up setting(s): {', '.join(map(str, unknown))}.")
    for name, value in body.items():
        if not isinstance(value, bool):
            raise errors.BadRequest(f"Invalid {name}: true or false.")
    value = {**signup_settings(session), **body}
    row = session.get(PortalSetting, SIGNUP)
    if row is None:
        session.add(PortalSetting(name=SIGNUP, value=value))
    else:
        row.value = value
    session.flush()
    return value


def create_codes(session: Session, count: object, plan: object) -> list[str]:
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_CODES:
        raise errors.BadRequest(f"Invalid count: an integer from 1 to {MAX_CODES}.")
    if plan is not None:
        if not isinstance(plan, str):
            raise errors.BadRequest("Invalid plan: a plan's name.")
        plans.get(session, plan)
    codes = [tokens.new_code() for _ in range(count)]
    for code in codes:
        session.add(PortalInvitationCode(code_digest=tokens.digest(code), plan=plan))
    session.flush()
    return codes


def use_invitation_code(session: Session, code: object, email: str, now: datetime) -> str | None:
    """Use the code up (compare-and-swap: single use); the plan it gives, if any. 403 if not usable."""
    if not isinstance(code, str) or not code.strip() or len(code) > 64:
        raise errors.Forbidden(BAD_CODE)
    digest = tokens.digest(code.strip().upper())
    row = session.get(PortalInvitationCode, digest)
    used = tokens.rows_changed(
        session,
        update(PortalInvitationCode)
        .where(PortalInvitationCode.code_digest == digest, PortalInvitationCode.used_at.is_(None))
        .values(used_at=now, used_by=email),
    )
    if row is None or not used:
        raise errors.Forbidden(BAD_CODE)
    return row.plan
