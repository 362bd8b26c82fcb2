"""PortalAPI: what the /portal/v1 routers (and `overcast manage plan|account|signup`) call. It enforces
portal/policies.py itself, as the other services' API objects do, and acts on the cloud only through the
services' own objects (CloudServices)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.portal import PortalPlan
from overcast.mail import Mailer
from overcast.portal import plans, policies, site
from overcast.portal.accounts import Accounts
from overcast.portal.email_changes import EmailChanges
from overcast.portal.limits import AttemptLimits, client_address, trusted_networks
from overcast.portal.outbox import Outbox
from overcast.portal.passwords import PasswordResets
from overcast.portal.provisioning import CloudServices, Provisioner
from overcast.portal.settings import PortalSettings
from overcast.portal.signups import Signups, user_exists_in


class PortalAPI:
    def __init__(
        self,
        db: Database,
        services: CloudServices,
        mailer: Mailer,
        clock: Callable[[], datetime],
        base_url: str,
        settings: PortalSettings | None = None,
    ) -> None:
        self.db = db
        self.services = services
        self.clock = clock
        self.settings = settings or PortalSettings()
        self.dashboard_url = (self.settings.dashboard_url or f"{base_url.rstrip('/')}/dashboard").rstrip("/")
        self.outbox = Outbox(
            db, mailer, clock,
            max_attempts=self.settings.mail_max_attempts, retry_seconds=self.settings.mail_retry_seconds,
        )  # fmt: skip
        limits = AttemptLimits(clock, self.settings.attempt_window)
        self.trusted_proxies = trusted_networks(self.settings.trusted_proxies)
        self.provisioner = Provisioner(services, clock)
        identity = services.identity.api
        self.signups = Signups(
            db, clock, self.settings, self.dashboard_url, self.outbox, limits, self.provisioner,
            identity.hash_new_password, user_exists_in(identity.list_users),
        )  # fmt: skip
        self.passwords = PasswordResets(
            db, clock, self.settings, self.dashboard_url, self.outbox, limits, services
        )
        self.email_changes = EmailChanges(
            db, clock, self.settings, self.dashboard_url, self.outbox, services, limits
        )
        self.accounts = Accounts(
            db, clock, self.settings, self.dashboard_url, self.outbox, services, self.email_changes, limits
        )

    # -- plans ----------------------------------------------------------------------------------------

    def _price_list_currency(self, name: object) -> str | None:
        if not isinstance(name, str):
            return None
        versions = self.services.billing.list_price_lists(RequestContext.admin(), name)
        return str(versions[-1]["currency"]) if versions else None

    def list_plans(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.PLANS_READ)
        with self.db.reader() as session:
            return [plans.view(row) for row in session.scalars(select(PortalPlan).order_by(PortalPlan.name))]

    def get_plan(self, ctxt: RequestContext, name: str) -> dict[str, Any]:
        policy.enforce(ctxt, policies.PLANS_READ)
        with self.db.reader() as session:
            return plans.view(plans.get(session, name))

    def create_plan(self, ctxt: RequestContext, body: Mapping[str, Any]) -> dict[str, Any]:
        policy.enforce(ctxt, policies.PLANS_MANAGE)
        currency = self._price_list_currency(body.get("price_list"))

        def work(session: Session) -> dict[str, Any]:
            row = PortalPlan()
            plans.apply(row, body, currency, creating=True)
            if session.get(PortalPlan, row.name) is not None:
                raise errors.Conflict(f"A plan named {row.name} exists already.")
            session.add(row)
            if row.is_default:
                plans.make_the_only_default(session, row.name)
            session.flush()
            return plans.view(row)

        return self.db.write(work)

    def update_plan(self, ctxt: RequestContext, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        policy.enforce(ctxt, policies.PLANS_MANAGE)
        currency = self._price_list_currency(body.get("price_list")) if "price_list" in body else None

        def work(session: Session) -> dict[str, Any]:
            row = plans.get(session, name)
            plans.apply(row, body, currency if "price_list" in body else row.currency, creating=False)
            if row.is_default:
                plans.make_the_only_default(session, row.name)
            session.flush()
            return plans.view(row)

        return self.db.write(work)

    def delete_plan(self, ctxt: RequestContext, name: str) -> None:
        policy.enforce(ctxt, policies.PLANS_MANAGE)

        def work(session: Session) -> None:
            row = plans.get(session, name)
            # Accounts keep their plan's name (the terms were copied into billing when they signed up).
            session.delete(row)

        self.db.write(work)

    # -- settings and invitation codes ----------------------------------------------------------------

    def get_settings(self) -> dict[str, Any]:
        """Public: the sign-up page shows whether sign-up is open before anyone types."""
        with self.db.reader() as session:
            return {"signup": site.signup_settings(session)}

    def put_settings(self, ctxt: RequestContext, body: object) -> dict[str, Any]:
        policy.enforce(ctxt, policies.SETTINGS_UPDATE)
        if (
            not isinstance(body, Mapping)
            or set(body) != {"signup"}
            or not isinstance(body["signup"], Mapping)
        ):
            raise errors.BadRequest('The body is {"signup": {"enabled": bool, "invitation_only": bool}}.')
        return {"signup": self.db.write(lambda session: site.set_signup(session, body["signup"]))}

    def create_invitation_codes(self, ctxt: RequestContext, body: object) -> dict[str, Any]:
        policy.enforce(ctxt, policies.CODES_CREATE)
        if not isinstance(body, Mapping) or set(body) - {"count", "plan"}:
            raise errors.BadRequest('The body is {"count": n, "plan": name (optional)}.')
        codes = self.db.write(
            lambda session: site.create_codes(session, body.get("count", 1), body.get("plan"))
        )
        return {"invitation_codes": codes, "plan": body.get("plan")}

    # -- public: sign-up, password reset, invitations -------------------------------------------------

    def client(self, peer: str, forwarded_for: list[str]) -> str:
        """The address the per-client limits count (limits.client_address)."""
        return client_address(peer, forwarded_for, self.trusted_proxies)

    def sign_up(self, body: object, client: str) -> dict[str, Any]:
        return self.signups.create(body, client)

    def resend(self, body: object, client: str) -> dict[str, Any]:
        return self.signups.resend(body, client)

    def verify(self, body: object) -> dict[str, Any]:
        return self.signups.verify(body)

    def request_password_reset(self, body: object, client: str) -> None:
        self.passwords.request(body, client)

    def confirm_password_reset(self, body: object) -> None:
        self.passwords.confirm(body)

    def accept_invitation(self, body: object) -> dict[str, Any]:
        return self.accounts.accept(body)

    # -- the customer's account -----------------------------------------------------------------------

    def my_account(self, ctxt: RequestContext) -> dict[str, Any]:
        return self.accounts.mine(ctxt)

    def update_profile(self, ctxt: RequestContext, body: object) -> dict[str, Any]:
        return self.accounts.update_profile(ctxt, body)

    def confirm_email_change(self, body: object) -> dict[str, Any]:
        return self.email_changes.confirm(body)

    def members(self, ctxt: RequestContext, project_id: str) -> list[dict[str, Any]]:
        return self.accounts.members(ctxt, project_id)

    def invite(self, ctxt: RequestContext, project_id: str, body: object) -> None:
        self.accounts.invite(ctxt, project_id, body)

    # -- operators: accounts --------------------------------------------------------------------------

    def list_accounts(self, ctxt: RequestContext, status: str | None) -> list[dict[str, Any]]:
        return self.accounts.list_all(ctxt, status)

    def get_account(self, ctxt: RequestContext, account_id: str) -> dict[str, Any]:
        return self.accounts.get(ctxt, account_id)

    def account_action(self, ctxt: RequestContext, account_id: str, body: object) -> dict[str, Any]:
        return self.accounts.action(ctxt, account_id, body)

    # -- mail -----------------------------------------------------------------------------------------

    def deliver_mail(self) -> int:
        """Send the outbox's due mails (the periodic retry)."""
        return self.outbox.deliver_due()
