"""Password reset by e-mail: a link with a single-use token to the address of a user of the Default
domain; the same answer whether or not the address has a user, rate-limited as sign-ups are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.db.engine import Database
from overcast.db.models.portal import PortalToken
from overcast.identity.core import DEFAULT_DOMAIN_ID
from overcast.portal import mails, tokens
from overcast.portal.limits import AttemptLimits
from overcast.portal.outbox import Outbox
from overcast.portal.provisioning import CloudServices
from overcast.portal.settings import PortalSettings
from overcast.portal.signups import RESET, address, only, open_token, use_token


@dataclass
class PasswordResets:
    db: Database
    clock: Callable[[], datetime]
    settings: PortalSettings
    dashboard_url: str
    outbox: Outbox
    limits: AttemptLimits
    services: CloudServices

    def request(self, body: object, client: str) -> None:
        email = address(only(body, ("email",)).get("email"))
        keys = {f"address:{email}": self.settings.attempts_per_address}
        if client:
            keys[f"client:{client}"] = self.settings.attempts_per_client
        self.db.write(lambda session: self.limits.take(session, "password-reset", keys))
        users = self.services.identity.api.list_users(domain_id=DEFAULT_DOMAIN_ID, name=email)
        if not users or not users[0]["enabled"]:
            return  # the answer does not say whether the address has a (usable) user
        now = self.clock()
        token = tokens.new_token()
        ttl = self.settings.reset_token_ttl
        url = mails.link(self.dashboard_url, "password/reset", token)

        def write(session: Session) -> str:
            # A new link replaces the user's earlier ones.
            session.execute(
                update(PortalToken)
                .where(PortalToken.kind == RESET, PortalToken.email == email, PortalToken.used_at.is_(None))
                .values(used_at=now)
            )
            session.add(
                PortalToken(
                    digest=tokens.digest(token), kind=RESET, email=email, subject_id=str(users[0]["id"]),
                    expires_at=now + timedelta(seconds=ttl),
                )
            )  # fmt: skip
            return self.outbox.add(session, mails.reset_password(email, url, max(1, ttl // 60)))

        self.outbox.deliver(self.db.write(write))

    def confirm(self, body: object) -> None:
        fields = only(body, ("token", "password"))
        password = fields.get("password")
        if not isinstance(password, str) or not password:
            raise errors.BadRequest("Invalid password: text of 1 to 4096 characters.")
        now = self.clock()

        def claim(session: Session) -> tuple[str, str]:
            row = open_token(session, fields.get("token"), RESET, now)
            use_token(session, row.digest, now)
            return row.digest, row.subject_id

        digest, user_id = self.db.write(claim)
        try:
            # Keystone's admin password reset: its password rules, and the user's tokens revoked.
            self.services.identity.api.update_user(user_id, {"password": password})
        except BaseException:
            # A refused password (or a failure of ours) leaves the link usable for another try.
            self.db.write(
                lambda session: session.execute(
                    update(PortalToken).where(PortalToken.digest == digest).values(used_at=None)
                )
            )
            raise
