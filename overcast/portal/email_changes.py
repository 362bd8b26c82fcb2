"""A user's e-mail change: the new address is confirmed by a single-use, expiring link mailed to it (as a
sign-up's is), and the old address gets a notice at once; until the link is used the old address stays.

A portal user's login name is the address they signed up with, and password resets and invitations find
users by that name; so when the login is the old address it follows the address (Keystone user names can
change; the user id, role assignments, tokens and application credentials stay). A login that is not the
old address (an operator-made user) is left as it is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.billing import BillingAccount
from overcast.db.models.portal import PortalAccount, PortalToken
from overcast.identity.core import DEFAULT_DOMAIN_ID
from overcast.portal import mails, tokens
from overcast.portal.limits import AttemptLimits
from overcast.portal.outbox import Outbox
from overcast.portal.provisioning import CloudServices
from overcast.portal.settings import PortalSettings
from overcast.portal.signups import only, open_token, use_token

EMAIL_CHANGE = "email"
PENDING = "pending"


@dataclass
class EmailChanges:
    db: Database
    clock: Callable[[], datetime]
    settings: PortalSettings
    dashboard_url: str
    outbox: Outbox
    services: CloudServices
    limits: AttemptLimits

    def _login_taken(self, user: dict[str, Any], new: str) -> bool:
        """The login would follow the address, but another user already logs in with it."""
        if str(user["name"]).lower() != str(user.get("email") or "").lower():
            return False
        domain_id = user.get("domain_id", DEFAULT_DOMAIN_ID)
        found = self.services.identity.api.list_users(domain_id=domain_id, name=new)
        return any(other["id"] != user["id"] for other in found)

    def request(self, user_id: str, new: str) -> dict[str, Any] | None:
        """Mail the confirmation link to `new` and the notice to the current address; None when `new` is
        the current address (a profile form sends it back unchanged)."""
        user = self.services.identity.api.get_user(user_id)
        old = str(user.get("email") or "")
        if new == old.lower():
            return None
        if self._login_taken(user, new):
            raise errors.Conflict(f"{new} is another user's login; choose another address.")
        # Each request mails two addresses, one of the user's choosing: counted per user, as resets are.
        keys = {f"user:{user_id}": self.settings.attempts_per_address}
        self.db.write(lambda session: self.limits.take(session, "email-change", keys))
        now = self.clock()
        token = tokens.new_token()
        ttl = self.settings.email_token_ttl
        url = mails.link(self.dashboard_url, "account/email/confirm", token)
        hours = max(1, ttl // 3600)

        def write(session: Session) -> list[str]:
            # A new request replaces the user's earlier links.
            session.execute(
                update(PortalToken)
                .where(
                    PortalToken.kind == EMAIL_CHANGE,
                    PortalToken.subject_id == user_id,
                    PortalToken.used_at.is_(None),
                )
                .values(used_at=now)
            )
            session.add(
                PortalToken(
                    digest=tokens.digest(token), kind=EMAIL_CHANGE, email=new, subject_id=user_id,
                    data={"old": old}, expires_at=now + timedelta(seconds=ttl),
                )
            )  # fmt: skip
            queued = [self.outbox.add(session, mails.confirm_new_address(new, str(user["name"]), url, hours))]
            if old:
                queued.append(self.outbox.add(session, mails.address_change_requested(old, new)))
            return queued

        for mail_id in self.db.write(write):
            self.outbox.deliver(mail_id)
        return {"email": new, "status": PENDING}

    def pending(self, user_id: str) -> str | None:
        """The address a live link waits to confirm, if any (the page says where to look)."""
        now = self.clock()
        with self.db.reader() as session:
            return session.scalar(
                select(PortalToken.email)
                .where(
                    PortalToken.kind == EMAIL_CHANGE, PortalToken.subject_id == user_id,
                    PortalToken.used_at.is_(None), PortalToken.expires_at > now,
                )
                .order_by(PortalToken.created_at.desc())
                .limit(1)
            )  # fmt: skip

    def confirm(self, body: object) -> dict[str, Any]:
        token = only(body, ("token",)).get("token")
        now = self.clock()

        def claim(session: Session) -> tuple[str, str, str, str]:
            row = open_token(session, token, EMAIL_CHANGE, now)
            use_token(session, row.digest, now)
            return row.digest, row.subject_id, row.email, str(row.data.get("old") or "")

        digest, user_id, new, old = self.db.write(claim)
        identity = self.services.identity.api
        try:
            user = identity.get_user(user_id)
            changes: dict[str, Any] = {"email": new}
            if old and str(user["name"]).lower() == old.lower():
                changes["name"] = new  # Keystone's own 409 if another user took that login meanwhile
            user = identity.update_user(user_id, changes)
        except BaseException:
            # A refusal (or a failure of ours) leaves the link usable for another try.
            self.db.write(
                lambda session: session.execute(
                    update(PortalToken).where(PortalToken.digest == digest).values(used_at=None)
                )
            )
            raise
        self._move_account_addresses(user_id, old, new)
        return {"id": user["id"], "name": user["name"], "email": user.get("email")}

    def _move_account_addresses(self, user_id: str, old: str, new: str) -> None:
        """The accounts this user owns mail the owner at the old address (suspension notices, budget
        alerts): they follow it, unless someone set another address there on purpose."""

        def portal_side(session: Session) -> list[str]:
            billed = []
            for row in session.scalars(select(PortalAccount).where(PortalAccount.owner_user_id == user_id)):
                if (row.email or "").lower() == old.lower():
                    row.email = new
                account = session.get(BillingAccount, row.account_id)
                if account is not None and (account.email or "").lower() == old.lower():
                    billed.append(account.id)
            return billed

        for account_id in self.db.write(portal_side):
            self.services.billing.update_account(RequestContext.admin(), account_id, {"email": new})
