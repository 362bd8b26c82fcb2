"""Sign-up: a visitor's name, address and password become a pending sign-up and a verification mail; the
link's token, used once before it expires, provisions the account (provisioning.py). The answer to a
sign-up or a re-send is the same whether or not the address has an account (that one gets a mail saying
so), and both are rate-limited per address and per client address."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.db.engine import Database
from overcast.db.models.portal import PortalAccount, PortalSignup, PortalToken
from overcast.identity.core import DEFAULT_DOMAIN_ID
from overcast.mail import Mail
from overcast.portal import mails, plans, site, tokens
from overcast.portal.limits import AttemptLimits
from overcast.portal.outbox import Outbox
from overcast.portal.provisioning import NewAccount, Provisioner
from overcast.portal.settings import PortalSettings

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PENDING, VERIFIED = "pending", "verified"
SIGNUP, RESET, INVITATION = "signup", "reset", "invitation"
USED_OR_EXPIRED = "This link has expired or was already used."


def address(value: object) -> str:
    if not isinstance(value, str) or len(value) > 254 or not EMAIL.match(value.strip()):
        raise errors.BadRequest("Invalid email: an address such as ada@example.com.")
    return value.strip().lower()


def text_field(body: Mapping[str, Any], name: str, limit: int = 255) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise errors.BadRequest(f"Invalid {name}: text of 1 to {limit} characters.")
    return value.strip()


def only(body: object, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise errors.BadRequest("The request body is one JSON object.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise errors.BadRequest(f"Unknown field(s): {', '.join(map(str, unknown))}.")
    return body


def open_token(session: Session, token: object, kind: str, now: datetime) -> PortalToken:
    """The unused, unexpired token of this kind (400 with USED_OR_EXPIRED otherwise)."""
    if not isinstance(token, str) or not token.strip() or len(token) > 200:
        raise errors.BadRequest(USED_OR_EXPIRED)
    row = session.get(PortalToken, tokens.digest(token))
    if row is None or row.kind != kind or row.used_at is not None or row.expires_at <= now:
        raise errors.BadRequest(USED_OR_EXPIRED)
    return row


def use_token(session: Session, digest: str, now: datetime) -> None:
    """Compare-and-swap: of two requests with the same token, one uses it; the other gets a 400."""
    used = tokens.rows_changed(
        session,
        update(PortalToken)
        .where(PortalToken.digest == digest, PortalToken.used_at.is_(None))
        .values(used_at=now),
    )
    if not used:
        raise errors.BadRequest(USED_OR_EXPIRED)


@dataclass
class Signups:
    db: Database
    clock: Callable[[], datetime]
    settings: PortalSettings
    dashboard_url: str
    outbox: Outbox
    limits: AttemptLimits
    provisioner: Provisioner
    hash_password: Callable[[str], str]
    user_exists: Callable[[str], bool]

    def _limit(self, action: str, email: str, client: str) -> None:
        keys = {f"address:{email}": self.settings.attempts_per_address}
        if client:
            keys[f"client:{client}"] = self.settings.attempts_per_client
        self.db.write(lambda session: self.limits.take(session, action, keys))

    def _send(self, write: Callable[[Session], list[str]]) -> None:
        for mail_id in self.db.write(write):
            self.outbox.deliver(mail_id)

    def create(self, body: object, client: str) -> dict[str, Any]:
        fields = only(body, ("name", "email", "password", "plan", "invitation_code"))
        name, email = text_field(fields, "name"), address(fields.get("email"))
        password = fields.get("password")
        if not isinstance(password, str) or not password or len(password) > 4096:
            raise errors.BadRequest("Invalid password: text of 1 to 4096 characters.")
        with self.db.reader() as session:
            switch = site.signup_settings(session)
        if not switch["enabled"]:
            raise errors.Forbidden("Sign-up is switched off; ask the operator for an account.")
        code = fields.get("invitation_code")
        if switch["invitation_only"] and not code:
            raise errors.Forbidden("Sign-up needs an invitation code.")
        self._limit("signup", email, client)
        password_hash = self.hash_password(password)  # the identity service's rules: its 400
        now = self.clock()

        def write(session: Session) -> list[str]:
            plan_name = site.use_invitation_code(session, code, email, now) if code else None
            plan = self._plan(session, plan_name or fields.get("plan"))
            if self.user_exists(email):
                return [self.outbox.add(session, mails.already_registered(email, self.dashboard_url))]
            signup = PortalSignup(
                id=str(uuid.uuid4()), email=email, name=name, password_hash=password_hash, plan=plan.name,
                status=PENDING, client_ip=client[:64],
            )  # fmt: skip
            session.add(signup)
            return [self.outbox.add(session, self._verification(session, signup, now))]

        self._send(write)
        return {"email": email, "status": PENDING}

    @staticmethod
    def _plan(session: Session, name: object) -> Any:
        if name is None:
            plan = plans.default(session)
            if plan is None:
                raise errors.Forbidden("Sign-up is not open yet: the operator offers no plan.")
            return plan
        if not isinstance(name, str):
            raise errors.BadRequest("Invalid plan: a plan's name.")
        try:
            return plans.get(session, name)
        except errors.NotFound:
            raise errors.BadRequest(f"There is no plan {name!r}.") from None

    def _verification(self, session: Session, signup: PortalSignup, now: datetime) -> Mail:
        # A new link replaces the sign-up's earlier ones, and keeps the sign-up from expiring before it.
        signup.updated_at = now
        session.execute(
            update(PortalToken)
            .where(
                PortalToken.kind == SIGNUP, PortalToken.subject_id == signup.id, PortalToken.used_at.is_(None)
            )
            .values(used_at=now)
        )
        token = tokens.new_token()
        ttl = self.settings.signup_token_ttl
        session.add(
            PortalToken(
                digest=tokens.digest(token), kind=SIGNUP, email=signup.email, subject_id=signup.id,
                expires_at=now + timedelta(seconds=ttl),
            )
        )  # fmt: skip
        url = mails.link(self.dashboard_url, "signup/verify", token)
        return mails.verify_address(signup.email, signup.name, url, max(1, ttl // 3600))

    def resend(self, body: object, client: str) -> dict[str, Any]:
        email = address(only(body, ("email",)).get("email"))
        self._limit("signup-resend", email, client)
        now = self.clock()

        def write(session: Session) -> list[str]:
            if self.user_exists(email):
                return [self.outbox.add(session, mails.already_registered(email, self.dashboard_url))]
            signup = session.scalar(
                select(PortalSignup)
                .where(PortalSignup.email == email, PortalSignup.status == PENDING)
                .order_by(PortalSignup.created_at.desc())
                .limit(1)
            )
            if signup is None:
                return []  # nothing to re-send; the answer does not say so
            return [self.outbox.add(session, self._verification(session, signup, now))]

        self._send(write)
        return {"email": email, "status": PENDING}

    def verify(self, body: object) -> dict[str, Any]:
        token = only(body, ("token",)).get("token")
        now = self.clock()

        def claim(session: Session) -> tuple[str, NewAccount, str]:
            row = open_token(session, token, SIGNUP, now)
            use_token(session, row.digest, now)
            signup = session.get(PortalSignup, row.subject_id)
            if signup is None or signup.status != PENDING or signup.password_hash is None:
                raise errors.BadRequest(USED_OR_EXPIRED)
            plan = plans.get(session, signup.plan)
            session.expunge(plan)
            return row.digest, NewAccount(signup.email, signup.name, signup.password_hash, plan), signup.id

        digest, new, signup_id = self.db.write(claim)
        if self.user_exists(new.email):
            raise errors.Conflict("This address has an account already: log in, or reset its password.")
        try:
            made = self.provisioner.provision(new, signup_id)
        except BaseException:
            # The link stays good for another try (it was not used up by a failure of ours).
            self.db.write(
                lambda session: session.execute(
                    update(PortalToken).where(PortalToken.digest == digest).values(used_at=None)
                )
            )
            raise

        def finish(session: Session) -> None:
            session.execute(
                update(PortalSignup)
                .where(PortalSignup.id == signup_id)
                .values(status=VERIFIED, account_id=made.account_id, password_hash=None)
            )
            session.add(
                PortalAccount(
                    account_id=made.account_id, plan=new.plan.name, email=new.email,
                    owner_user_id=made.user_id, status="active",
                )
            )  # fmt: skip

        self.db.write(finish)
        return {
            "id": made.account_id, "name": new.name, "project_id": made.project_id,
            "project_name": made.project_name, "user_id": made.user_id, "user_name": new.email,
            "domain": "Default",
        }  # fmt: skip


def user_exists_in(identity_list_users: Callable[..., list[dict[str, Any]]]) -> Callable[[str], bool]:
    return lambda email: bool(identity_list_users(domain_id=DEFAULT_DOMAIN_ID, name=email))
