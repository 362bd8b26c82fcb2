"""BillingAPI: what the /billing/v1 routers call. It enforces billing/policies.py itself, as the other
services' API objects do, so the CLI and the billing service meet the same rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.billing import accounts, balances, invoices, periods, policies, prices, rating, render
from overcast.billing.money import text
from overcast.billing.settings import BillingSettings
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.billing import (
    BillingAccount,
    BillingAccountProject,
    Invoice,
    Payment,
    PriceListVersion,
)

INVOICE_STATUSES = (invoices.DRAFT, invoices.ISSUED, invoices.PAID, invoices.VOID)
# The budget's fields as /billing/v1/budget names them, and as an account stores them.
BUDGET_FIELDS = {"amount": "budget", "alert_percentages": "alert_percentages", "email": "email"}


def parse_time(value: object, what: str) -> datetime:
    if not isinstance(value, str):
        raise errors.BadRequest(f"Invalid {what}: an ISO 8601 time such as 2026-03-01T00:00:00Z.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: moved to UTC, it leaves the years 1 to 9999
        raise errors.BadRequest(
            f"Invalid {what} {value!r}: an ISO 8601 time such as 2026-03-01T00:00:00Z."
        ) from None


class BillingAPI:
    def __init__(
        self,
        db: Database,
        usage: invoices.UsageSource,
        clock: Callable[[], datetime],
        settings: BillingSettings | None = None,
    ) -> None:
        self.db = db
        self.usage = usage
        self.clock = clock
        self.settings = settings or BillingSettings()
        periods.period_start(self.settings.period, clock())  # an unknown period fails at start-up
        self.invoicer = invoices.Invoicer(
            db, usage, clock, self.settings.period, self.settings.adjustment_periods
        )
        self.admission = balances.BillingAdmission(db, usage, clock, self.settings.period)

    # -- whose account a member may look at ---------------------------------------------------------

    def _project(self, ctxt: RequestContext, project_id: str | None) -> str:
        project = project_id or ctxt.project_id
        if not project:
            raise errors.BadRequest("Name a project (project_id) or use a project-scoped token.")
        return project

    def _account_of_project(
        self, session: Session, ctxt: RequestContext, rule: str, project_id: str | None
    ) -> tuple[str, BillingAccount]:
        project = self._project(ctxt, project_id)
        policy.enforce(ctxt, rule, {"project_id": project})
        account = accounts.of_project(session, project)
        if account is None:
            raise errors.NotFound(f"Project {project} is not billed to any billing account.")
        return project, account

    def _visible_account(
        self, session: Session, ctxt: RequestContext, rule: str, account_id: str
    ) -> BillingAccount:
        """The account if the caller may read it: admins any, members their project's (404 otherwise)."""
        account = session.get(BillingAccount, account_id)
        mine = accounts.of_project(session, ctxt.project_id) if ctxt.project_id else None
        target = ctxt.project_id if mine is not None and mine.id == account_id else None
        if account is None or not policy.authorize(ctxt, rule, {"project_id": target}):
            raise errors.NotFound(f"Billing account {account_id} could not be found.")
        return account

    # -- price lists --------------------------------------------------------------------------------

    def create_price_list(self, ctxt: RequestContext, body: Mapping[str, Any]) -> dict[str, Any]:
        policy.enforce(ctxt, policies.PRICE_LIST_MANAGE)
        effective = (
            parse_time(body["effective_from"], "effective_from") if "effective_from" in body else self.clock()
        )
        fields = {key: value for key, value in body.items() if key != "effective_from"}
        unknown = set(fields) - {"name", "currency", "description", "rates", "free_tiers"}
        if unknown:
            raise errors.BadRequest(f"Unknown price list field(s): {', '.join(sorted(unknown))}.")
        return self.db.write(lambda session: prices.view(prices.create(session, fields, effective)))

    def list_price_lists(self, ctxt: RequestContext, name: str | None = None) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.PRICE_LIST_READ)
        query = select(PriceListVersion).order_by(PriceListVersion.name, PriceListVersion.version)
        if name is not None:
            query = query.where(PriceListVersion.name == name)
        with self.db.reader() as session:
            return [prices.view(row) for row in session.scalars(query)]

    def get_price_list(self, ctxt: RequestContext, price_list_id: str) -> dict[str, Any]:
        policy.enforce(ctxt, policies.PRICE_LIST_READ)
        with self.db.reader() as session:
            row = session.get(PriceListVersion, price_list_id)
            if row is None:
                raise errors.NotFound(f"Price list {price_list_id} could not be found.")
            return prices.view(row)

    def prices_of(self, ctxt: RequestContext, project_id: str | None) -> dict[str, Any]:
        """The price-list versions a project is billed at (every version, the one in force marked)."""
        with self.db.reader() as session:
            project, account = self._account_of_project(session, ctxt, policies.PRICES_SHOW, project_id)
            member = session.get(BillingAccountProject, project)
            name = (member.price_list if member else None) or account.price_list
            rows = prices.versions(session, name)
            current = prices.in_force([prices.to_price_list(row) for row in rows], self.clock())
            return {
                "project_id": project,
                "account_id": account.id,
                "currency": account.currency,
                "price_list": name,
                "in_force": current.id if current else None,
                "versions": [prices.view(row) for row in rows],
            }

    # -- usage and balance ---------------------------------------------------------------------------

    def usage_of(
        self, ctxt: RequestContext, project_id: str | None, start: str | None, end: str | None
    ) -> dict[str, Any]:
        """A project's usage rated at its prices (before the account's free tiers and discounts)."""
        now = self.clock()
        begins = parse_time(start, "start") if start else periods.period_start(self.settings.period, now)
        ends = parse_time(end, "end") if end else now
        if ends <= begins:
            raise errors.BadRequest("end must be after start.")
        with self.db.reader() as session:
            project, account = self._account_of_project(session, ctxt, policies.USAGE_SHOW, project_id)
            terms = accounts.terms(session, account)
        lines = rating.rate_usage(
            self.usage.slices(begins, ends, [project]), terms.schedule_of, account.currency
        )
        return {
            "project_id": project,
            "account_id": account.id,
            "currency": account.currency,
            "start": begins.isoformat(),
            "end": ends.isoformat(),
            "total": text(rating.total(lines)),
            "lines": [render.rated_line_view(line) for line in lines],
        }

    def balance_of(self, ctxt: RequestContext, project_id: str | None) -> dict[str, Any]:
        with self.db.reader() as session:
            _, account = self._account_of_project(session, ctxt, policies.BALANCE_SHOW, project_id)
            return balances.position(session, self.usage, account, self.settings.period, self.clock()).view()

    def account_balance(self, ctxt: RequestContext, account_id: str) -> dict[str, Any]:
        with self.db.reader() as session:
            account = self._visible_account(session, ctxt, policies.BALANCE_SHOW, account_id)
            return balances.position(session, self.usage, account, self.settings.period, self.clock()).view()

    # -- a project's budget: what its members may set of their account ------------------------------

    @staticmethod
    def _budget_view(account: BillingAccount) -> dict[str, Any]:
        return {
            "account_id": account.id,
            "currency": account.currency,
            "amount": account.budget,
            "alert_percentages": list(account.alert_percentages or []),
            "email": account.email,
        }

    def budget_of(self, ctxt: RequestContext, project_id: str | None) -> dict[str, Any]:
        with self.db.reader() as session:
            _, account = self._account_of_project(session, ctxt, policies.BUDGET_SHOW, project_id)
            return self._budget_view(account)

    def set_budget(
        self, ctxt: RequestContext, project_id: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The budget's fields given replace the account's; the alerts follow it at their next check."""
        unknown = set(body) - set(BUDGET_FIELDS)
        if unknown:
            raise errors.BadRequest(
                f"Unknown budget field(s): {', '.join(sorted(unknown))}; one of {', '.join(BUDGET_FIELDS)}."
            )

        def work(session: Session) -> dict[str, Any]:
            _, account = self._account_of_project(session, ctxt, policies.BUDGET_UPDATE, project_id)
            accounts.update(session, account, {BUDGET_FIELDS[key]: value for key, value in body.items()})
            return self._budget_view(account)

        return self.db.write(work)

    # -- accounts ------------------------------------------------------------------------------------

    def list_accounts(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        policy.enforce(ctxt, policies.ACCOUNT_READ)
        with self.db.reader() as session:
            rows = session.scalars(select(BillingAccount).order_by(BillingAccount.name)).all()
            return [self._account_view(session, row) for row in rows]

    @staticmethod
    def _account_view(session: Session, row: BillingAccount) -> dict[str, Any]:
        return accounts.view(row, [member.project_id for member in accounts.projects(session, row.id)])

    def get_account(self, ctxt: RequestContext, account_id: str) -> dict[str, Any]:
        policy.enforce(ctxt, policies.ACCOUNT_READ)
        with self.db.reader() as session:
            return self._account_view(session, accounts.get(session, account_id))

    def create_account(self, ctxt: RequestContext, body: Mapping[str, Any]) -> dict[str, Any]:
        policy.enforce(ctxt, policies.ACCOUNT_MANAGE)
        now = self.clock()
        return self.db.write(lambda session: self._account_view(session, accounts.create(session, body, now)))

    def update_account(
        self, ctxt: RequestContext, account_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        policy.enforce(ctxt, policies.ACCOUNT_MANAGE)

        def work(session: Session) -> dict[str, Any]:
            row = accounts.get(session, account_id)
            accounts.update(session, row, body)
            return self._account_view(session, row)

        return self.db.write(work)

    def delete_account(self, ctxt: RequestContext, account_id: str) -> None:
        policy.enforce(ctxt, policies.ACCOUNT_MANAGE)

        def work(session: Session) -> None:
            row = accounts.get(session, account_id)
            used = session.scalar(
                select(Invoice.id).where(Invoice.account_id == account_id).limit(1)
            ) or session.scalar(select(Payment.id).where(Payment.account_id == account_id).limit(1))
            if used is not None:
                raise errors.Conflict(
                    f"Billing account {row.name} has invoices or payments; it cannot be deleted."
                )
            session.delete(row)

        self.db.write(work)

    def set_project(
        self, ctxt: RequestContext, account_id: str, project_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        policy.enforce(ctxt, policies.ACCOUNT_MANAGE)
        price_list = body.get("price_list")
        if price_list is not None and not isinstance(price_list, str):
            raise errors.BadRequest("Invalid price_list: the name of a price list, or null.")
        if set(body) - {"price_list"}:
            raise errors.BadRequest("A project's billing takes only price_list.")

        def work(session: Session) -> dict[str, Any]:
            account = accounts.get(session, account_id)
            accounts.add_project(session, account, project_id, price_list)
            return self._account_view(session, account)

        return self.db.write(work)

    def remove_project(self, ctxt: RequestContext, account_id: str, project_id: str) -> None:
        policy.enforce(ctxt, policies.ACCOUNT_MANAGE)
        self.db.write(
            lambda session: accounts.remove_project(session, accounts.get(session, account_id), project_id)
        )

    # -- invoices ------------------------------------------------------------------------------------

    def list_invoices(
        self, ctxt: RequestContext, account_id: str | None, status: str | None
    ) -> list[dict[str, Any]]:
        if status is not None and status not in INVOICE_STATUSES:
            raise errors.BadRequest(f"Invalid status {status!r}: one of {', '.join(INVOICE_STATUSES)}.")
        with self.db.reader() as session:
            if account_id is None and not ctxt.is_admin:
                _, account = self._account_of_project(session, ctxt, policies.INVOICE_READ, None)
                account_id = account.id
            elif account_id is not None:
                self._visible_account(session, ctxt, policies.INVOICE_READ, account_id)
            else:
                policy.enforce(ctxt, policies.INVOICE_READ, {"project_id": None})
            query = select(Invoice).order_by(Invoice.period_start, Invoice.account_id)
            if account_id is not None:
                query = query.where(Invoice.account_id == account_id)
            if status is not None:
                query = query.where(Invoice.status == status)
            return [invoices.view(row) for row in session.scalars(query)]

    def _visible_invoice(self, session: Session, ctxt: RequestContext, invoice_id: str) -> Invoice:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            raise errors.NotFound(f"Invoice {invoice_id} could not be found.")
        try:
            self._visible_account(session, ctxt, policies.INVOICE_READ, invoice.account_id)
        except errors.NotFound:
            raise errors.NotFound(f"Invoice {invoice_id} could not be found.") from None
        return invoice

    def get_invoice(self, ctxt: RequestContext, invoice_id: str) -> dict[str, Any]:
        with self.db.reader() as session:
            invoice = self._visible_invoice(session, ctxt, invoice_id)
            return invoices.view(invoice, invoices.lines_of(session, invoice.id))

    def export_invoice(
        self, ctxt: RequestContext, invoice_id: str, document_format: str
    ) -> tuple[bytes, str, str]:
        """The invoice as (content, media type, file name): html, pdf, csv or json."""
        if document_format not in render.FORMATS:
            raise errors.NotFound(f"No {document_format!r} export: one of {', '.join(render.FORMATS)}.")
        with self.db.reader() as session:
            invoice = self._visible_invoice(session, ctxt, invoice_id)
            account = accounts.get(session, invoice.account_id)
            body = invoices.view(invoice, invoices.lines_of(session, invoice.id))
            body["account_name"] = account.name
        content, media_type = render.export(body, document_format, self.settings.period)
        return content, media_type, f"{invoice.number or 'draft-' + invoice.id}.{document_format}"

    def generate_invoices(self, ctxt: RequestContext, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Drafts (or the issued invoices, untouched) of one account or every account for a period."""
        policy.enforce(ctxt, policies.INVOICE_MANAGE)
        if set(body) - {"period_start", "account_id"}:
            raise errors.BadRequest("Generating invoices takes period_start and optionally account_id.")
        start = parse_time(body.get("period_start"), "period_start")
        account_id = body.get("account_id")
        if account_id is not None and not isinstance(account_id, str):
            raise errors.BadRequest("Invalid account_id.")
        with self.db.reader() as session:
            ids = [account_id] if account_id else list(session.scalars(select(BillingAccount.id)))
        return [invoices.view(self.invoicer.generate(one, start)) for one in ids]

    def invoice_action(
        self, ctxt: RequestContext, invoice_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        policy.enforce(ctxt, policies.INVOICE_MANAGE)
        if not isinstance(body, Mapping) or len(body) != 1:
            raise errors.BadRequest(
                'An invoice action is one of {"issue": {}}, {"pay": {"reference": ...}}, {"void": {}}.'
            )
        action, argument = next(iter(body.items()))
        reference = argument.get("reference") if isinstance(argument, Mapping) else None
        if reference is not None and (not isinstance(reference, str) or len(reference) > 255):
            raise errors.BadRequest("Invalid reference: at most 255 characters.")
        return invoices.view(self.invoicer.move(invoice_id, action, reference=reference))

    # -- payments ------------------------------------------------------------------------------------

    def list_payments(self, ctxt: RequestContext, account_id: str | None) -> list[dict[str, Any]]:
        with self.db.reader() as session:
            if account_id is None:
                _, account = self._account_of_project(session, ctxt, policies.PAYMENT_READ, None)
            else:
                account = self._visible_account(session, ctxt, policies.PAYMENT_READ, account_id)
            rows = session.scalars(
                select(Payment)
                .where(Payment.account_id == account.id)
                .order_by(Payment.received_at, Payment.id)
            )
            return [balances.payment_view(row) for row in rows]

    def record_payment(self, ctxt: RequestContext, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        policy.enforce(ctxt, policies.PAYMENT_CREATE)
        account_id, amount, currency, reference = balances.webhook_payment(body)
        payment, new = balances.record_payment(
            self.db, account_id, amount, currency, "operator", reference, self.clock()
        )
        return balances.payment_view(payment), new

    def webhook(self, signature: str | None, body: bytes) -> tuple[dict[str, Any], bool]:
        """A payment provider's signed notification: recorded once, whatever how often it is sent."""
        now = self.clock()
        data = balances.verify_webhook(
            self.settings.webhook_secret, signature, body, now, self.settings.webhook_tolerance
        )
        account_id, amount, currency, reference = balances.webhook_payment(data)
        payment, new = balances.record_payment(
            self.db, account_id, amount, currency, "webhook", reference, now
        )
        return balances.payment_view(payment), new
