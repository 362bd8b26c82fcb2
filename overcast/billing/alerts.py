"""Budget alerts: when an account's spending in the open period passes a percentage of its budget, one
notification (`billing.budget.alert`) and, with an SMTP relay set, one e-mail, once per period and
percentage (the alert's row is the lock: of two services, one inserts it and sends)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

from sqlalchemy.exc import IntegrityError

from overcast.billing import accounts, invoices, periods, rating
from overcast.billing.money import text
from overcast.db.engine import Database
from overcast.db.models.billing import BillingAccount, BudgetAlert

Notify = Callable[[str, dict[str, Any]], None]
EVENT_TYPE = "billing.budget.alert"


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int
    sender: str

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=30) as relay:
            relay.send_message(message)


@dataclass
class BudgetAlerts:
    db: Database
    usage: invoices.UsageSource
    clock: Callable[[], datetime]
    period_kind: str
    notify: Notify
    mailer: SmtpMailer | None = None

    def check(self, account: BillingAccount) -> list[dict[str, Any]]:
        """The alerts this check sent for the account (none if it has no budget or nothing new passed)."""
        if account.budget is None or not account.alert_percentages:
            return []
        now = self.clock()
        start = periods.period_start(self.period_kind, now)
        with self.db.reader() as session:
            terms = accounts.terms(session, account)
        spent = rating.total(invoices.rate_account(self.usage, terms, start, now, period_start=start))
        budget = Decimal(account.budget)
        sent = []
        for percentage in account.alert_percentages:
            if budget <= 0 or spent * 100 < budget * percentage:
                continue
            if not self._claim(account.id, start, percentage, spent, now):
                continue
            alert = {
                "account_id": account.id, "account_name": account.name, "currency": account.currency,
                "period": periods.label(self.period_kind, start), "percentage": percentage,
                "budget": account.budget, "spent": text(spent),
            }  # fmt: skip
            self.notify(EVENT_TYPE, alert)
            if self.mailer is not None and account.email:
                self.mailer.send(
                    account.email,
                    f"Overcast budget alert: {account.name} has spent {percentage}% of its budget",
                    f"Billing account {account.name} ({account.id}) has spent {text(spent)} "
                    f"{account.currency} of its {account.budget} {account.currency} budget "
                    f"for {alert['period']} ({percentage}% alert).\n",
                )
            sent.append(alert)
        return sent

    def _claim(
        self, account_id: str, start: datetime, percentage: int, spent: Decimal, now: datetime
    ) -> bool:
        try:
            self.db.write(
                lambda session: session.add(
                    BudgetAlert(
                        account_id=account_id,
                        period_start=start,
                        percentage=percentage,
                        spent=text(spent),
                        sent_at=now,
                    )
                )
            )
        except IntegrityError:
            return False  # sent already, by this service or another
        return True
